"""The signed-fetch function's edge: a `Delivery` as the HTTP response a browser or CDN
caches (ETag, 304, a redirect for a large R2 file), and the PUT's answer.

Caching. A key never changes content (a new photo or rendition is a new key) and a signed
URL is the same string for every viewer within a window (`profile_photos.signing`), so the
file's 200, its HEAD and its 304 say `Cache-Control: public, max-age=<min(seconds left on
the token, SIGNED_URL_WINDOW_SECONDS)>, s-maxage=<seconds left on the token>, immutable`.
A shared cache (a CDN keyed on the `token` query string) may keep it until the token ends,
without revalidating: an erasure or crop change purges the CDN (`profile_photos.store.cdn`).
A browser's cache cannot be purged, so it keeps the file at most one window: a deleted photo
stops showing there within one window of the erasure, not the token's whole life.

The 302 to a presigned R2 GET (a file too large to return inline) is `public` too, with the
same split, but capped at the presigned URL's own life (R2's 7 days at most; the token may
outlive it by a window): `max-age=<min(presigned life, window)>, s-maxage=<presigned life>`,
and without `immutable`, since its `Location` is minted per request. The presigned URL is
a bearer URL for that one object, valid no longer than the token: a shared cache hands it
only to requests carrying the same token, who could fetch it themselves, so caching the
redirect grants nobody anything new and saves a function call per view. After an erasure
the object is gone from R2, so a redirect still cached anywhere leads to R2's 404.

Two ways in, one answer: API Gateway's REST events, and with EnableCdn CloudFront's misses
through the function URL (payload format 2.0, requestContext.requestId as the correlation id
in both), GET and HEAD only: a PUT through CloudFront's origin access control would need a
body hash no client sends, so the distribution sends LOCAL direct uploads to the API
(template.yaml, CdnDistribution).
"""

from __future__ import annotations

from urllib.parse import unquote

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import (
    APIGatewayProxyEvent,
    LambdaFunctionUrlEvent,
)

from profile_photos.api.web import API_PREFIX, raw_body
from profile_photos.delivery import Delivery, SignedGet, SignedPut, deliver_signed
from profile_photos.observability import metrics
from profile_photos.services import Services
from profile_photos.settings import MAX_PRESIGN_SECONDS
from profile_photos.store.storage import StoredFile

SIGNED_PREFIX = f"{API_PREFIX}/signed/"


def get_request(event: APIGatewayProxyEvent | LambdaFunctionUrlEvent, bucket: str) -> SignedGet:
    """The signed GET or HEAD an API Gateway or a function URL event asks for."""
    return SignedGet(
        bucket,
        file_path(event, bucket),
        event.query_string_parameters.get("token"),
        head=event.http_method.upper() == "HEAD",
        if_none_match=event.headers.get("if-none-match"),
    )


def file_path(event: APIGatewayProxyEvent | LambdaFunctionUrlEvent, bucket: str) -> str:
    """The file's path within `bucket`, percent-decoded once, as API Gateway decodes its
    `{filePath+}`. A function URL event has no path parameters: its `rawPath` is the
    viewer's path as CloudFront forwards it, still percent-encoded, and the route that
    matched it starts with `/api/storage/signed/<bucket>/`. The path is checked where it is
    read (the token binds it; the storage refuses `..`, absolute paths, backslashes, NUL)."""
    if isinstance(event, LambdaFunctionUrlEvent):
        return unquote(event.raw_path.removeprefix(f"{SIGNED_PREFIX}{bucket}/"))
    return event.path_parameters.get("filePath", "")  # API Gateway's {filePath+}


def put_request(event: APIGatewayProxyEvent, bucket: str) -> SignedPut:
    return SignedPut(
        bucket,
        event.path_parameters.get("filePath", ""),
        event.query_string_parameters.get("token"),
        raw_body(event),
        event.headers.get("content-type"),
    )


ROUTE = "/api/storage/signed/<bucket>/.+"  # {bucket}/{filePath+}


def served(services: Services, request: SignedGet, now: int) -> Response[str | bytes]:
    """The file (or its 304, or its redirect) a GET or HEAD asks for."""
    return file_response(deliver_signed(services, request, now), head=request.head)


def file_response(delivery: Delivery, *, head: bool) -> Response[str | bytes]:
    metrics.add_metric(name="PhotoServed", unit=MetricUnit.Count, value=1)
    file = delivery.file
    headers = {
        "Cache-Control": cache_control(delivery.max_age, delivery.shared_max_age) + ", immutable",
        "ETag": file.etag,
        "X-Content-Type-Options": "nosniff",
    }
    if file.not_modified:
        return Response(status_code=304, headers=headers, body="")
    if delivery.redirect_url:
        presigned_life = min(delivery.shared_max_age, MAX_PRESIGN_SECONDS)
        return Response(
            status_code=302,
            headers={
                **headers,
                "Cache-Control": cache_control(
                    min(delivery.max_age, presigned_life), presigned_life
                ),
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


def cache_control(max_age: int, shared_max_age: int) -> str:
    """`public` with a browser lifetime (`max-age`) and a shared caches' one (`s-maxage`)."""
    return f"public, max-age={max_age}, s-maxage={shared_max_age}"


def received(stored: StoredFile) -> Response[str | bytes]:
    metrics.add_metric(name="DirectUploadReceived", unit=MetricUnit.Count, value=1)
    return Response(status_code=200, headers={"ETag": stored.etag}, body="")
