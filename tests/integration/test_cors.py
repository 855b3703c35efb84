"""CORS in the REST functions (`CORS_ALLOWED_ORIGINS`): preflights, and the headers on
successes and errors, under moto with the sample events plus an `Origin` header."""

from __future__ import annotations

from typing import Any

import graphql_handler
import pytest
import signed_fetch_handler
import upload_handler

from profile_photos.services import reset
from testkit.events import SAMPLE_KEY
from testkit.images import jpeg_bytes
from testkit.invoke import Handler, HttpResult, invoke
from tests.integration.conftest import Stack, load_event

APP = "https://app.example.com"
OTHER = "https://evil.example.net"
EXPOSED = "ETag, Retry-After, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset"
ALLOWED_HEADERS = "Authorization, Content-Type, Idempotency-Key, If-None-Match"
pytestmark = pytest.mark.parametrize("provider", ["LOCAL"])  # CORS does not depend on it


@pytest.fixture
def cors(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Stack:
    monkeypatch.setenv("CORS_ALLOWED_ORIGINS", f"{APP}, http://localhost:5173/")
    reset()
    return stack


def with_origin(event: dict[str, Any], origin: str | None, method: str | None = None) -> dict:
    headers = dict(event.get("headers") or {})
    if origin:
        headers["Origin"] = origin
    event = {**event, "headers": headers}
    event["multiValueHeaders"] = {name: [value] for name, value in headers.items()}
    if method:
        event["httpMethod"] = method
        event["body"], event["isBase64Encoded"] = None, False
    return event


def preflight(handler: Handler, case: str, origin: str | None, ask: str = "POST") -> HttpResult:
    event = with_origin(load_event(case), origin, "OPTIONS")
    event["headers"]["Access-Control-Request-Method"] = ask
    event["headers"]["Access-Control-Request-Headers"] = "authorization,idempotency-key"
    return invoke(handler, event)


def cors_of(result: HttpResult) -> dict[str, str]:
    return {k: v for k, v in result.headers.items() if k.startswith("access-control-")}


@pytest.mark.parametrize(
    ("handler", "case", "methods"),
    [
        (upload_handler.lambda_handler, "upload-valid-jpg", "OPTIONS, POST"),
        (signed_fetch_handler.lambda_handler, "signed-fetch-get", "GET, HEAD, OPTIONS, PUT"),
        (graphql_handler.lambda_handler, "graphql-me-photos", "OPTIONS, POST"),
    ],
)
def test_a_preflight_from_an_allowed_origin_gets_methods_headers_and_the_origin(
    cors: Stack, handler: Handler, case: str, methods: str
) -> None:
    result = preflight(handler, case, APP)

    assert result.status == 204
    assert result.body == b""
    assert cors_of(result) == {
        "access-control-allow-origin": APP,
        "access-control-allow-methods": methods,
        "access-control-allow-headers": ALLOWED_HEADERS,
        "access-control-expose-headers": EXPOSED,
        "access-control-max-age": "600",
    }
    assert result.headers["vary"] == "Origin"


def test_an_origin_is_matched_as_the_browser_sends_it(cors: Stack) -> None:
    # configured with a trailing slash: the browser's Origin has none
    result = preflight(upload_handler.lambda_handler, "upload-valid-jpg", "http://localhost:5173")

    assert result.headers["access-control-allow-origin"] == "http://localhost:5173"


@pytest.mark.parametrize("origin", [OTHER, "https://app.example.com.evil.net", "null", None])
def test_a_preflight_from_another_origin_gets_no_allow_header(
    cors: Stack, origin: str | None
) -> None:
    result = preflight(upload_handler.lambda_handler, "upload-valid-jpg", origin)

    assert result.status == 204
    assert cors_of(result) == {}
    assert result.headers["allow"] == "OPTIONS, POST"


def test_without_configured_origins_no_response_has_a_cors_header(stack: Stack) -> None:
    options = preflight(upload_handler.lambda_handler, "upload-valid-jpg", APP)
    refused = invoke(upload_handler.lambda_handler, with_origin(load_event("upload-no-token"), APP))

    assert options.status == 204
    assert cors_of(options) == {}
    assert "vary" not in options.headers
    assert refused.status == 401
    assert cors_of(refused) == {}
    assert "vary" not in refused.headers


def test_a_successful_upload_carries_the_origin_and_exposes_the_rate_limit_headers(
    cors: Stack,
) -> None:
    result = invoke(upload_handler.lambda_handler, with_origin(load_event("upload-valid-jpg"), APP))

    assert result.status == 201, result.body
    assert result.headers["access-control-allow-origin"] == APP
    assert result.headers["access-control-expose-headers"] == EXPOSED
    assert "x-ratelimit-remaining" in result.headers
    assert result.headers["vary"] == "Origin"
    assert "access-control-allow-credentials" not in result.headers


@pytest.mark.parametrize(
    ("handler", "case", "status"),
    [
        (upload_handler.lambda_handler, "upload-no-token", 401),
        (upload_handler.lambda_handler, "upload-bmp", 415),
        (upload_handler.lambda_handler, "upload-oversize", 400),
        (signed_fetch_handler.lambda_handler, "signed-fetch-expired", 403),
        (signed_fetch_handler.lambda_handler, "signed-fetch-not-found", 404),
        (graphql_handler.lambda_handler, "graphql-no-token", 401),
    ],
)
def test_errors_carry_the_cors_headers_too(
    cors: Stack, handler: Handler, case: str, status: int
) -> None:
    result = invoke(handler, with_origin(load_event(case), APP))

    assert result.status == status
    assert result.json()["success"] is False
    assert result.headers["access-control-allow-origin"] == APP
    assert result.headers["vary"] == "Origin"


def test_a_served_photo_exposes_its_etag_to_the_allowed_origin(cors: Stack) -> None:
    cors.put("user-assets", SAMPLE_KEY, jpeg_bytes())

    result = invoke(
        signed_fetch_handler.lambda_handler, with_origin(load_event("signed-fetch-get"), APP)
    )

    assert result.status == 200
    assert result.headers["access-control-allow-origin"] == APP
    assert "ETag" in result.headers["access-control-expose-headers"]


def test_a_response_of_another_origin_has_no_allow_header(cors: Stack) -> None:
    result = invoke(
        upload_handler.lambda_handler, with_origin(load_event("upload-no-token"), OTHER)
    )

    assert result.status == 401
    assert cors_of(result) == {}
    assert result.headers["vary"] == "Origin"


def test_an_unknown_route_preflight_is_not_found(cors: Stack) -> None:
    event = with_origin(load_event("upload-valid-jpg"), APP, "OPTIONS")
    event["path"] = "/api/storage/profile-photo/nowhere"

    result = invoke(upload_handler.lambda_handler, event)

    assert result.status == 404
    assert result.json()["error"]["code"] == "NOT_FOUND"
    assert result.headers["access-control-allow-origin"] == APP
