"""Lambda: `GET|HEAD|PUT /api/storage/signed/{bucket}/{filePath+}?token=...` (no JWT): serve
a file to a GET token's holder, receive a LOCAL direct upload from a PUT token's holder. A GET
reads the token and the object store; a PUT also reads its upload grant (one GetItem)."""

import time
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext
from signed_fetch_api import file_response, get_request, put_request, received

from profile_photos.api.web import rest_app
from profile_photos.delivery import accept_signed_put, deliver_signed
from profile_photos.observability import REST, entry_point
from profile_photos.services import services

app = rest_app()


@app.route("/api/storage/signed/<bucket>/.+", method=["GET", "HEAD"])
def signed_fetch(bucket: str) -> Response[str | bytes]:
    request = get_request(app.current_event, bucket)
    return file_response(deliver_signed(services(), request, int(time.time())), head=request.head)


@app.put("/api/storage/signed/<bucket>/.+")
def signed_put(bucket: str) -> Response[str | bytes]:
    request = put_request(app.current_event, bucket)
    return received(accept_signed_put(services(), request, int(time.time())))


@entry_point(REST)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
