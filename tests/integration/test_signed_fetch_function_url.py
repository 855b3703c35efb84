"""Signed fetch through its function URL answers exactly as through API Gateway.

With EnableCdn, CloudFront's misses reach signed fetch through its Lambda function URL
(payload format 2.0, the viewer's path as `rawPath`, no path parameters) instead of API
Gateway's REST event. A viewer must not tell the two apart: each case below sends the same
request both ways (the function URL event built by `devkit.apigw.function_url_event` from the
REST one) and compares status, headers and body.
"""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import signed_fetch_handler

from devkit.apigw import function_url_event
from profile_photos.services import reset
from testkit.events import SAMPLE_KEY, signed_event, storage_token
from testkit.images import jpeg_bytes
from testkit.invoke import HttpResult, invoke
from tests.integration.conftest import Stack, load_event
from tests.integration.test_graphql import gql
from tests.integration.test_renditions import camera_jpeg, size_urls, upload

PHOTO = jpeg_bytes()
REFUSALS = (
    "expired",
    "tampered",
    "missing-token",
    "other-path",
    "put-token",
    "alg-none",
    "not-found",
    "traversal",
)


def via_url(event: dict[str, Any]) -> dict[str, Any]:
    """The function URL event CloudFront's miss hands signed fetch for the same viewer request
    as `event` (an API Gateway REST event): the path as the viewer sent it, percent-encoded
    as the signed URL has it, and the headers CloudFront forwards (the cache key's none, and
    an `If-None-Match` when it revalidates)."""
    bucket = event["pathParameters"]["bucket"]
    key = event["pathParameters"]["filePath"]
    headers = {k: v for k, v in (event["headers"] or {}).items() if k.lower() != "host"}
    query = event.get("multiValueQueryStringParameters") or {}
    return function_url_event(
        event["httpMethod"],
        f"/api/storage/signed/{quote(bucket)}/{quote(key)}",
        headers=headers,
        query=query,
    )


def both(event: dict[str, Any]) -> tuple[HttpResult, HttpResult]:
    """The answers to `event` through API Gateway and through the function URL."""
    url_event = via_url(event)
    return (
        invoke(signed_fetch_handler.lambda_handler, event),
        invoke(signed_fetch_handler.lambda_handler, url_event),
    )


def assert_same_answer(api: HttpResult, url: HttpResult) -> None:
    assert url.status == api.status
    assert url.body == api.body
    # a function URL answers with one `headers` map, never API Gateway's multi-value one
    assert "multiValueHeaders" not in url.raw
    # all of them, Cache-Control's seconds included (one clock: `frozen_clock`), but a
    # redirect's presigned Location, which is signed per request
    assert without_location(url.headers) == without_location(api.headers)


def without_location(headers: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k != "location"}


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> int:
    """Both requests answered at the same second, so the seconds left on a token (the
    Cache-Control lifetimes) are the same both ways however long a render takes."""
    now = int(time.time())
    monkeypatch.setattr(signed_fetch_handler, "time", SimpleNamespace(time=lambda: now))
    return now


@pytest.fixture
def sample(stack: Stack) -> Stack:
    stack.put("user-assets", SAMPLE_KEY, PHOTO)
    return stack


@pytest.mark.parametrize("case", ["get", "head"])
def test_a_photo_is_served_alike(sample: Stack, case: str) -> None:
    api, url = both(load_event(f"signed-fetch-{case}"))

    assert api.status == 200
    assert_same_answer(api, url)
    assert url.headers["content-type"] == "image/jpeg"
    assert url.headers["content-length"] == str(len(PHOTO))
    assert url.headers["x-content-type-options"] == "nosniff"
    assert url.body == (PHOTO if case == "get" else b"")
    if case == "get":  # binary bodies leave base64-encoded, as API Gateway's do
        assert url.raw["isBase64Encoded"] is True


def test_a_matching_if_none_match_is_a_304_alike(sample: Stack) -> None:
    etag = invoke(signed_fetch_handler.lambda_handler, load_event("signed-fetch-get")).headers[
        "etag"
    ]
    event = load_event("signed-fetch-get")
    event["headers"]["If-None-Match"] = etag

    api, url = both(event)

    assert (api.status, url.status) == (304, 304)
    assert url.headers["etag"] == etag
    assert_same_answer(api, url)


@pytest.mark.parametrize("case", REFUSALS)
def test_a_refused_request_gets_the_same_envelope_and_nothing(sample: Stack, case: str) -> None:
    before = sample.objects()

    api, url = both(load_event(f"signed-fetch-{case}"))

    assert api.status in (403, 404)
    assert url.json()["success"] is False
    assert_same_answer(api, url)
    assert PHOTO not in url.body
    assert sample.objects() == before


@pytest.mark.parametrize(
    "key",
    [
        "users/demo-user/../../../../etc/passwd",
        "users/demo-user/%2e%2e/%2e%2e/secret.jpg",
        "/etc/passwd",
        "users/demo-user/\\..\\..\\secret.jpg",
        "users/demo-user/a\x00.jpg",
    ],
)
def test_no_path_outside_the_bucket_is_read_through_the_url(sample: Stack, key: str) -> None:
    # a token minted for the hostile path itself, sent percent-encoded in the raw path
    secret_file = sample.base_path / "secret.jpg"
    if sample.provider == "LOCAL":
        secret_file.parent.mkdir(parents=True, exist_ok=True)
        secret_file.write_bytes(PHOTO)

    api, url = both(signed_event("hostile", storage_token(path=key), key=key))

    assert url.status == 404
    assert url.json()["error"] == {"code": "NOT_FOUND", "message": "File not found"}
    assert_same_answer(api, url)


def test_a_size_is_served_alike(stack: Stack) -> None:
    upload(camera_jpeg(), "camera.jpg", "image/jpeg")
    parts = urlsplit(size_urls()["SMALL"])
    key = parts.path.split("/signed/user-assets/", 1)[1]
    event = signed_event("size", parse_qs(parts.query)["token"][0], key=key)

    url = invoke(signed_fetch_handler.lambda_handler, via_url(event))  # the miss renders it
    api = invoke(signed_fetch_handler.lambda_handler, event)

    assert url.status == 200, url.body
    assert url.headers["content-type"] == "image/webp"
    assert_same_answer(api, url)


def test_an_erased_photos_urls_are_not_found_through_the_url(stack: Stack) -> None:
    uploaded = upload(camera_jpeg(), "a.jpg", "image/jpeg")
    urls = size_urls()
    gql(
        "mutation ($id: ID!) { deleteProfilePhoto(assetId: $id) { deletedCount } }",
        {"id": uploaded["assetId"]},
    )

    for size in ("ORIGINAL", "SMALL"):
        parts = urlsplit(urls[size])
        key = parts.path.split("/signed/user-assets/", 1)[1]
        event = signed_event("erased", parse_qs(parts.query)["token"][0], key=key)
        api, url = both(event)
        assert url.status == 404, size
        assert url.json()["error"] == {"code": "NOT_FOUND", "message": "File not found"}
        assert_same_answer(api, url)
    assert stack.objects() == []


@pytest.mark.parametrize("provider", ["R2"], indirect=True)
def test_a_large_r2_file_is_redirected_alike(stack: Stack) -> None:
    from profile_photos.delivery import MAX_INLINE_BYTES

    stack.put("user-assets", SAMPLE_KEY, PHOTO + bytes(MAX_INLINE_BYTES + 1 - len(PHOTO)))

    api, url = both(load_event("signed-fetch-get"))

    assert (api.status, url.status) == (302, 302)
    assert_same_answer(api, url)
    api_to, url_to = urlsplit(api.headers["location"]), urlsplit(url.headers["location"])
    assert (url_to.netloc, url_to.path) == (api_to.netloc, api_to.path)
    assert url_to.path == f"/test-user-assets/{SAMPLE_KEY}"
    assert parse_qs(url_to.query)["X-Amz-Expires"] == parse_qs(api_to.query)["X-Amz-Expires"]


@pytest.mark.parametrize("provider", ["LOCAL"])
def test_a_put_through_the_url_stores_nothing(stack: Stack) -> None:
    # The distribution sends no PUT to the function URL (a LOCAL direct upload goes to the
    # API): one that arrives anyway is not a route there, and writes nothing.
    before = stack.objects()
    token = storage_token(path="staging/users/demo-user/x.jpg", op="PUT")
    event = function_url_event(
        "PUT",
        "/api/storage/signed/user-assets/staging/users/demo-user/x.jpg",
        headers={"content-type": "image/jpeg"},
        query={"token": [token]},
        body=PHOTO,
    )

    result = invoke(signed_fetch_handler.lambda_handler, event)

    assert result.status == 404
    assert result.json() == {
        "success": False,
        "error": {"code": "NOT_FOUND", "message": "Route not found"},
    }
    assert stack.objects() == before


@pytest.mark.parametrize("provider", ["LOCAL"])
def test_cors_answers_are_alike(sample: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORS_ALLOWED_ORIGINS", "https://app.example.com")
    reset()
    get = load_event("signed-fetch-get")
    get["headers"]["Origin"] = "https://app.example.com"
    preflight = load_event("signed-fetch-get")
    preflight["httpMethod"] = "OPTIONS"
    preflight["headers"] |= {
        "Origin": "https://app.example.com",
        "Access-Control-Request-Method": "GET",
    }

    api, url = both(get)
    api_preflight, url_preflight = both(preflight)

    assert url.headers["access-control-allow-origin"] == "https://app.example.com"
    assert_same_answer(api, url)
    # a preflight answers alike, but for the methods: PUT is a route of the API's only
    assert (api_preflight.status, url_preflight.status) == (204, 204)
    assert url_preflight.headers["allow"] == "GET, HEAD, OPTIONS"
    assert api_preflight.headers["allow"] == "GET, HEAD, OPTIONS, PUT"
    methods = {"allow", "access-control-allow-methods"}
    assert url_preflight.headers["access-control-allow-methods"] == "GET, HEAD, OPTIONS"
    assert {k: v for k, v in url_preflight.headers.items() if k not in methods} == {
        k: v for k, v in api_preflight.headers.items() if k not in methods
    }


def test_the_token_is_read_from_the_query_as_the_url_carries_it(sample: Stack) -> None:
    # the same window's URL, minted now: what CloudFront forwards is its path and token
    token = storage_token(exp=int(time.time()) + 3600)
    event = function_url_event(
        "GET",
        f"/api/storage/signed/user-assets/{quote(SAMPLE_KEY)}",
        query={"token": [token]},
    )
    assert event["rawQueryString"] == f"token={token}"

    result = invoke(signed_fetch_handler.lambda_handler, event)

    assert result.status == 200
    assert result.body == PHOTO
