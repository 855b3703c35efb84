"""API Gateway glue shared by the REST handlers: envelopes, errors, bodies, base URLs.

With `multipart` and `idempotency`, the only code that knows the shape of an API Gateway
proxy event and of HTTP: statuses, headers, the contract's envelope. The domain modules
receive plain values and return typed results; handlers shape them with these helpers.

Signed fetch is also reached through its Lambda function URL (CloudFront's misses with
EnableCdn, payload format 2.0): `url_app` answers those events with the same envelope, the
same error table and the same CORS rules as `rest_app` answers API Gateway's.
"""

from __future__ import annotations

import binascii
import json
import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Protocol

from aws_lambda_powertools.event_handler import (
    APIGatewayRestResolver,
    LambdaFunctionUrlResolver,
    Response,
    content_types,
)
from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from profile_photos.api.cors import cors_headers, merge_vary, preflight_headers, request_origin
from profile_photos.errors import (
    Conflict,
    DependencyUnavailable,
    Forbidden,
    IdempotencyKeyReused,
    NotFound,
    RateLimited,
    RenderPending,
    ServiceError,
    Unauthorized,
    UnsupportedMediaType,
    ValidationFailed,
)
from profile_photos.observability import logger, metrics
from profile_photos.settings import Settings, SettingsError, get_settings

API_PREFIX = "/api/storage"


class ErrorCode(StrEnum):
    """Every `error.code` of the REST envelope, the only place one is spelled: the functions'
    answers (below), API Gateway's own (the template's `GatewayResponses`) and the local
    stack's. The docs' table of codes is generated from it (docs/gen/error_codes.py)."""

    VALIDATION_FAILED = "VALIDATION_FAILED"
    UNAUTHORIZED = "UNAUTHORIZED"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    CONFLICT = "CONFLICT"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    RATE_LIMITED = "RATE_LIMITED"
    INTERNAL_ERROR = "INTERNAL_ERROR"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"


# error class -> (HTTP status, envelope code). Looked up along the MRO, so subclasses inherit.
HTTP_STATUS: dict[type[ServiceError], tuple[int, ErrorCode]] = {
    ValidationFailed: (400, ErrorCode.VALIDATION_FAILED),
    UnsupportedMediaType: (415, ErrorCode.VALIDATION_FAILED),
    Unauthorized: (401, ErrorCode.UNAUTHORIZED),
    Forbidden: (403, ErrorCode.FORBIDDEN),
    NotFound: (404, ErrorCode.NOT_FOUND),
    Conflict: (409, ErrorCode.CONFLICT),
    IdempotencyKeyReused: (422, ErrorCode.IDEMPOTENCY_KEY_REUSED),
    RateLimited: (429, ErrorCode.RATE_LIMITED),
    DependencyUnavailable: (503, ErrorCode.SERVICE_UNAVAILABLE),
}
INTERNAL_ERROR = (500, ErrorCode.INTERNAL_ERROR)
NO_ROUTE = (404, ErrorCode.NOT_FOUND)
INTERNAL_ERROR_MESSAGE = "Internal server error"


class Budget(Protocol):
    """What the rate-limit headers report (the domain's `ratelimit.Allowance`)."""

    @property
    def limit(self) -> int: ...
    @property
    def remaining(self) -> int: ...
    @property
    def reset_after(self) -> int: ...


def status_and_code(error: BaseException) -> tuple[int, ErrorCode]:
    for cls in type(error).__mro__:
        if cls in HTTP_STATUS:
            return HTTP_STATUS[cls]
    return INTERNAL_ERROR


def error_envelope(code: ErrorCode, message: str) -> dict[str, Any]:
    return {"success": False, "error": {"code": code, "message": message}}


def rate_limit_headers(budget: Budget | None) -> dict[str, str] | None:
    """`X-RateLimit-*` for a request that spent budget (None: it spent none)."""
    if budget is None:
        return None
    return {
        "X-RateLimit-Limit": str(budget.limit),
        "X-RateLimit-Remaining": str(budget.remaining),
        "X-RateLimit-Reset": str(budget.reset_after),
    }


def created(data: dict[str, Any], budget: Budget | None = None) -> Response[str]:
    """201 with the contract's envelope, and the rate-limit headers when a budget was spent."""
    return json_response(201, {"success": True, "data": data}, rate_limit_headers(budget))


def json_response(
    status: int, payload: Any, headers: dict[str, str] | None = None
) -> Response[str]:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(payload, separators=(",", ":")),
        headers=headers,
    )


def error_response(error: ServiceError) -> Response[str]:
    status, code = status_and_code(error)
    retry_after = error.retry_after if isinstance(error, RateLimited | RenderPending) else None
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return json_response(status, error_envelope(code, error.message), headers)


def rest_app() -> APIGatewayRestResolver:
    """A REST resolver whose every failure leaves as the contract's envelope, and whose
    every answer carries the CORS headers of `CORS_ALLOWED_ORIGINS`."""
    app = CorsRestResolver()
    install_error_handlers(app)
    return app


def url_app() -> LambdaFunctionUrlResolver:
    """`rest_app` for Lambda function URL events (payload format 2.0)."""
    app = CorsUrlResolver()
    install_error_handlers(app)
    return app


def is_function_url_event(event: Mapping[str, Any]) -> bool:
    """A function URL's event (payload format 2.0), not an API Gateway REST proxy event."""
    return event.get("version") == "2.0"


class CorsResolver(ApiGatewayResolver):
    """A resolver answering preflights and adding CORS headers to every response, successes
    and errors alike (profile_photos.api.cors), for both event shapes it is mixed into.

    Powertools' own `CORSConfig` is not used: it is fixed when the module is imported (the
    settings are read on first use, not at import), it answers a preflight's
    `Access-Control-Allow-Methods` to any origin, and it sends no `Vary: Origin`.
    """

    def resolve(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        origins = get_settings().cors_allowed_origins
        origin = request_origin(event.get("headers"))
        v2 = is_function_url_event(event)
        if request_method(event).upper() == "OPTIONS":
            methods = self.methods_of(str(event.get("rawPath" if v2 else "path") or ""))
            if methods:
                headers = preflight_headers(origin, origins, methods)
                return {
                    "statusCode": 204,
                    "body": "",
                    "isBase64Encoded": False,
                    **(
                        {"headers": headers}
                        if v2
                        else {"multiValueHeaders": {name: [v] for name, v in headers.items()}}
                    ),
                }
        response = super().resolve(event, context)
        extra = cors_headers(origin, origins)
        if extra:
            if v2:
                with_cors_v2(response, extra)
            else:
                with_cors(response, extra)
        return response

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.preflight_routes: list[tuple[re.Pattern[str], set[str]]] = []
        super().__init__(*args, **kwargs)

    def route(self, rule: str, method: Any, *args: Any, **kwargs: Any) -> Any:
        """Powertools' `route` (which `get`, `post`, ... call), noting each rule's methods
        for the preflight."""
        methods = (method,) if isinstance(method, str) else tuple(method)
        self.preflight_routes.append((route_pattern(rule), {m.upper() for m in methods}))
        return super().route(rule, method, *args, **kwargs)

    def methods_of(self, path: str) -> set[str]:
        """The methods this function routes for `path` (empty: not one of its routes)."""
        routes = self.preflight_routes
        return {method for pattern, methods in routes if pattern.match(path) for method in methods}


class CorsRestResolver(CorsResolver, APIGatewayRestResolver):
    """`CorsResolver` for API Gateway REST proxy events."""


class CorsUrlResolver(CorsResolver, LambdaFunctionUrlResolver):
    """`CorsResolver` for Lambda function URL events."""


def request_method(event: Mapping[str, Any]) -> str:
    """The HTTP method of a REST proxy event or of a function URL event."""
    if "httpMethod" in event:
        return str(event.get("httpMethod") or "")
    http = (event.get("requestContext") or {}).get("http") or {}
    return str(http.get("method") or "")


def route_pattern(rule: str) -> re.Pattern[str]:
    """A Powertools route rule as a regex of whole paths: `<name>` is one path segment, the
    rest (`.+` in the signed route) is a regex already."""
    return re.compile("^" + re.sub(r"<\w+>", "[^/]+", rule) + "$")


def with_cors(response: dict[str, Any], extra: dict[str, str]) -> None:
    """Add `extra` to a built proxy response (REST: `multiValueHeaders`), merging `Vary`."""
    multi: dict[str, list[str]] = response.setdefault("multiValueHeaders", {}) or {}
    response["multiValueHeaders"] = multi
    single: dict[str, str] = response.get("headers") or {}
    for name, value in extra.items():
        if name == "Vary":
            current = [v for k, vs in multi.items() if k.lower() == "vary" for v in vs]
            current += [v for k, v in single.items() if k.lower() == "vary"]
            for key in [k for k in multi if k.lower() == "vary"]:
                del multi[key]
            for key in [k for k in single if k.lower() == "vary"]:
                del single[key]
            multi["Vary"] = [merge_vary(", ".join(current), value)]
        else:
            multi[name] = [value]


def with_cors_v2(response: dict[str, Any], extra: dict[str, str]) -> None:
    """`with_cors` for a function URL response (one `headers` map, values comma-joined)."""
    headers: dict[str, str] = response.get("headers") or {}
    response["headers"] = headers
    for name, value in extra.items():
        if name == "Vary":
            current = [v for k, v in headers.items() if k.lower() == "vary"]
            for key in [k for k in headers if k.lower() == "vary"]:
                del headers[key]
            headers["Vary"] = merge_vary(", ".join(current), value)
        else:
            headers[name] = value


def install_error_handlers(app: ApiGatewayResolver) -> None:
    """Every failure leaves as the contract's envelope; internals are logged, never returned."""

    app.exception_handler(ServiceError)(refused)
    app.not_found(no_route)
    app.exception_handler(Exception)(failed)


def refused(error: ServiceError) -> Response[str]:
    status, code = status_and_code(error)
    logger.info("request refused", extra={"status": status, "code": code})
    metrics.add_metric(name="RequestRefused", unit=MetricUnit.Count, value=1)
    return error_response(error)


def no_route(_: NotFoundError) -> Response[str]:
    metrics.add_metric(name="RequestRefused", unit=MetricUnit.Count, value=1)
    status, code = NO_ROUTE
    return json_response(status, error_envelope(code, "Route not found"))


def failed(error: Exception) -> Response[str]:
    if isinstance(error, SettingsError):
        raise error  # a misconfigured function must fail loudly, like a failed start
    logger.exception("unhandled error")
    metrics.add_metric(name="RequestFailed", unit=MetricUnit.Count, value=1)
    status, code = INTERNAL_ERROR
    return json_response(status, error_envelope(code, INTERNAL_ERROR_MESSAGE))


def raw_body(event: APIGatewayProxyEvent) -> bytes:
    """The request body as bytes, base64-decoded when API Gateway encoded it."""
    body = event.body or ""
    if not event.is_base64_encoded:
        return body.encode("utf-8", "surrogateescape")
    try:
        return binascii.a2b_base64(body, strict_mode=True)
    except (binascii.Error, ValueError) as exc:
        raise ValidationFailed("Request body is not valid base64") from exc


def public_base_url(event: APIGatewayProxyEvent, settings: Settings) -> str:
    """Where signed URLs point: `LOCAL_STORAGE_BASE_URL`, else this API's own public URL.

    Behind an `execute-api` host the stage is part of the path; behind a custom domain (or
    the local stack) it is not.
    """
    if settings.local_storage_base_url:
        return settings.local_storage_base_url
    context = event.request_context
    host = event.headers.get("host") or context.domain_name or ""
    proto = event.headers.get("x-forwarded-proto") or "https"
    stage = f"/{context.stage}" if host.endswith(".amazonaws.com") and context.stage else ""
    return f"{proto}://{host}{stage}{API_PREFIX}"


def json_body(event: APIGatewayProxyEvent) -> dict[str, Any]:
    """The request body as a JSON object, or a 400 that says what is expected."""
    try:
        payload = json.loads(raw_body(event) or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationFailed("Request body must be a JSON object") from exc
    if not isinstance(payload, dict):
        raise ValidationFailed("Request body must be a JSON object")
    return payload
