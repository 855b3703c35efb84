"""Lambda: `GET|HEAD|PUT /api/storage/signed/{bucket}/{filePath+}?token=...` (no JWT): serve
a file to a GET token's holder, receive a LOCAL direct upload from a PUT token's holder. A GET
reads the token and the object store; a PUT also reads its upload grant (one GetItem).

Two ways in, one answer: API Gateway's REST events (`app`), and with EnableCdn CloudFront's
misses through the function URL (`url`, payload format 2.0), GET and HEAD only: a PUT through
CloudFront's origin access control would need a body hash no client sends, so the
distribution sends LOCAL direct uploads to the API (template.yaml, CdnDistribution)."""

import time
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext
from signed_fetch_api import file_response, get_request, put_request, received

from profile_photos.api.web import is_function_url_event, rest_app, url_app
from profile_photos.delivery import SignedGet, accept_signed_put, deliver_signed
from profile_photos.observability import REST, entry_point
from profile_photos.services import services

SIGNED_ROUTE = "/api/storage/signed/<bucket>/.+"

app = rest_app()
url = url_app()


@app.route(SIGNED_ROUTE, method=["GET", "HEAD"])
def signed_fetch(bucket: str) -> Response[str | bytes]:
    return serve(get_request(app.current_event, bucket))


@url.route(SIGNED_ROUTE, method=["GET", "HEAD"])
def signed_fetch_via_url(bucket: str) -> Response[str | bytes]:
    return serve(get_request(url.current_event, bucket))


@app.put(SIGNED_ROUTE)
def signed_put(bucket: str) -> Response[str | bytes]:
    request = put_request(app.current_event, bucket)
    return received(accept_signed_put(services(), request, int(time.time())))


def serve(request: SignedGet) -> Response[str | bytes]:
    return file_response(deliver_signed(services(), request, int(time.time())), head=request.head)


# REST: the correlation id is `requestContext.requestId`, in a function URL's event too
@entry_point(REST)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return (url if is_function_url_event(event) else app).resolve(event, context)
