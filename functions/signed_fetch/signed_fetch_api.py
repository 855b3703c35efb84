"""The signed-fetch function's edge: a `Delivery` as the HTTP response a browser or CDN
caches (ETag, 304, a redirect for a large R2 file), and the PUT's answer."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from profile_photos.api.web import raw_body
from profile_photos.delivery import Delivery, SignedGet, SignedPut
from profile_photos.observability import metrics
from profile_photos.store.storage import StoredFile


def get_request(event: APIGatewayProxyEvent, bucket: str) -> SignedGet:
    return SignedGet(
        bucket,
        event.path_parameters.get("filePath", ""),  # API Gateway's {filePath+}
        event.query_string_parameters.get("token"),
        head=event.http_method.upper() == "HEAD",
        if_none_match=event.headers.get("if-none-match"),
    )


def put_request(event: APIGatewayProxyEvent, bucket: str) -> SignedPut:
    return SignedPut(
        bucket,
        event.path_parameters.get("filePath", ""),
        event.query_string_parameters.get("token"),
        raw_body(event),
        event.headers.get("content-type"),
    )


def file_response(delivery: Delivery, *, head: bool) -> Response:
    metrics.add_metric(name="PhotoServed", unit=MetricUnit.Count, value=1)
    file = delivery.file
    headers = {
        "Cache-Control": f"private, max-age={delivery.max_age}",
        "ETag": file.etag,
        "X-Content-Type-Options": "nosniff",
    }
    if file.not_modified:
        return Response(status_code=304, headers=headers, body="")
    if delivery.redirect_url:
        return Response(status_code=302, headers={**headers, "Location": delivery.redirect_url})
    headers["Content-Length"] = str(file.size)
    return Response(
        status_code=200,
        content_type=file.content_type,
        headers=headers,
        body=b"" if head else file.body,
    )


def received(stored: StoredFile) -> Response:
    metrics.add_metric(name="DirectUploadReceived", unit=MetricUnit.Count, value=1)
    return Response(status_code=200, headers={"ETag": stored.etag}, body="")
