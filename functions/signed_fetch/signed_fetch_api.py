"""The signed-fetch function's edge: a `Delivery` as the HTTP response a browser or CDN
caches (ETag, 304, a redirect for a large R2 file), and the PUT's answer.

Caching. A key never changes content (a new photo or rendition is a new key) and a signed
URL is the same string for every viewer within a window (`profile_photos.signing`), so the
file's 200, its HEAD and its 304 say `Cache-Control: public, max-age=<seconds left on the
token>, immutable`: any cache (the browser, a CDN keyed on the `token` query string) may
keep it until the token ends, without revalidating; after that the URL is refused anyway.

The 302 to a presigned R2 GET (a file too large to return inline) is `public` too, but
without `immutable` and with a max-age no longer than the presigned URL's own life (it is
capped at R2's 7 days, the token may outlive it by a window). The presigned URL is a bearer
URL for that one object, valid no longer than the token: a shared cache hands it only to
requests carrying the same token, who could fetch it themselves, so caching the redirect
grants nobody anything new and saves a function call per view. Its `Location` is minted
per request, hence not `immutable`.
"""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from profile_photos.api.web import raw_body
from profile_photos.delivery import Delivery, SignedGet, SignedPut
from profile_photos.observability import metrics
from profile_photos.settings import MAX_PRESIGN_SECONDS
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


def file_response(delivery: Delivery, *, head: bool) -> Response[str | bytes]:
    metrics.add_metric(name="PhotoServed", unit=MetricUnit.Count, value=1)
    file = delivery.file
    headers = {
        "Cache-Control": f"public, max-age={delivery.max_age}, immutable",
        "ETag": file.etag,
        "X-Content-Type-Options": "nosniff",
    }
    if file.not_modified:
        return Response(status_code=304, headers=headers, body="")
    if delivery.redirect_url:
        redirect_age = min(delivery.max_age, MAX_PRESIGN_SECONDS)
        return Response(
            status_code=302,
            headers={
                **headers,
                "Cache-Control": f"public, max-age={redirect_age}",
                "Location": delivery.redirect_url,
            },
        )
    headers["Content-Length"] = str(file.size)
    return Response(
        status_code=200,
        content_type=file.content_type,
        headers=headers,
        body=b"" if head else file.body,
    )


def received(stored: StoredFile) -> Response[str | bytes]:
    metrics.add_metric(name="DirectUploadReceived", unit=MetricUnit.Count, value=1)
    return Response(status_code=200, headers={"ETag": stored.etag}, body="")
