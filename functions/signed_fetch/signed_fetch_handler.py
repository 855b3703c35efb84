"""Lambda: `GET|HEAD|PUT /api/storage/signed/{bucket}/{filePath+}?token=...` (no JWT): serve
a file to a GET token's holder, receive a LOCAL direct upload from a PUT token's holder. API
Gateway's events go to `app`; CloudFront's misses through the function URL go to `url`, GET
and HEAD only (signed_fetch_api says why)."""

import time
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext
from signed_fetch_api import ROUTE, get_request, put_request, received, served

from profile_photos.api.web import is_function_url_event, rest_app, url_app
from profile_photos.delivery import accept_signed_put
from profile_photos.observability import REST, entry_point
from profile_photos.services import services

app, url = rest_app(), url_app()


@app.route(ROUTE, method=["GET", "HEAD"])
def signed_fetch(bucket: str) -> Response[str | bytes]:
    return served(services(), get_request(app.current_event, bucket), int(time.time()))


@url.route(ROUTE, method=["GET", "HEAD"])
def signed_fetch_via_url(bucket: str) -> Response[str | bytes]:
    return served(services(), get_request(url.current_event, bucket), int(time.time()))


@app.put(ROUTE)
def signed_put(bucket: str) -> Response[str | bytes]:
    request = put_request(app.current_event, bucket)
    return received(accept_signed_put(services(), request, int(time.time())))


@entry_point(REST)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return (url if is_function_url_event(event) else app).resolve(event, context)
