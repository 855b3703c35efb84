"""The signed-fetch function under moto, for LOCAL and R2, fed with the events in `events/`."""

from __future__ import annotations

import re
import time
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import signed_fetch_handler
import upload_handler

from devkit.defaults import DEV_STORAGE_SECRET
from profile_photos.services import services
from testkit.events import SAMPLE_KEY, signed_event, storage_token
from testkit.images import jpeg_bytes
from testkit.invoke import invoke
from tests.integration.conftest import Stack, load_event

PHOTO = jpeg_bytes()
CACHE_CONTROL = re.compile(r"public, max-age=(\d+), s-maxage=(\d+), immutable")
WINDOW = 300  # SIGNED_URL_WINDOW_SECONDS's default: a browser keeps a file at most this long


def shared_max_age(headers: dict[str, str]) -> int:
    """The s-maxage of a `public, max-age=B, s-maxage=S, immutable` Cache-Control (a key
    never changes content, so a shared cache may keep it while the token lasts)."""
    found = CACHE_CONTROL.fullmatch(headers["cache-control"])
    assert found, headers["cache-control"]
    return int(found.group(2))


def browser_max_age(headers: dict[str, str]) -> int:
    """Its max-age: how long a browser keeps the file (at most one window)."""
    found = CACHE_CONTROL.fullmatch(headers["cache-control"])
    assert found, headers["cache-control"]
    return int(found.group(1))


@pytest.fixture
def sample(stack: Stack) -> Stack:
    """The file the sample signed-fetch events point at, stored."""
    stack.put("user-assets", SAMPLE_KEY, PHOTO)
    return stack


def test_get_serves_the_bytes_with_type_length_etag_and_cache_headers(sample: Stack) -> None:
    result = invoke(signed_fetch_handler.lambda_handler, load_event("signed-fetch-get"))

    assert result.status == 200
    assert result.body == PHOTO
    assert result.headers["content-type"] == "image/jpeg"
    assert result.headers["content-length"] == str(len(PHOTO))
    assert result.headers["etag"].startswith('"')
    assert result.headers["x-content-type-options"] == "nosniff"
    # the sample token is valid until 2100: s-maxage is the token's remaining life, and a
    # browser keeps the file one window
    assert abs(shared_max_age(result.headers) - (4_102_444_800 - int(time.time()))) <= 5
    assert browser_max_age(result.headers) == WINDOW


def test_head_answers_the_same_headers_without_a_body(sample: Stack) -> None:
    get = invoke(signed_fetch_handler.lambda_handler, load_event("signed-fetch-get"))
    head = invoke(signed_fetch_handler.lambda_handler, load_event("signed-fetch-head"))

    assert head.status == 200
    assert head.body == b""
    for name in ("content-type", "content-length", "etag", "x-content-type-options"):
        assert head.headers[name] == get.headers[name]
    assert abs(shared_max_age(head.headers) - shared_max_age(get.headers)) <= 2


def test_matching_if_none_match_gives_304_without_a_body(sample: Stack) -> None:
    etag = invoke(signed_fetch_handler.lambda_handler, load_event("signed-fetch-get")).headers[
        "etag"
    ]
    event = load_event("signed-fetch-get")
    event["headers"]["If-None-Match"] = etag

    result = invoke(signed_fetch_handler.lambda_handler, event)

    assert result.status == 304
    assert result.body == b""
    assert result.headers["etag"] == etag
    # a revalidated copy stays shareable and fresh for the token's remaining life
    assert abs(shared_max_age(result.headers) - (4_102_444_800 - int(time.time()))) <= 5


def test_stale_if_none_match_serves_the_file(sample: Stack) -> None:
    event = load_event("signed-fetch-get")
    event["headers"]["If-None-Match"] = '"not-the-current-etag"'

    result = invoke(signed_fetch_handler.lambda_handler, event)

    assert result.status == 200
    assert result.body == PHOTO


@pytest.mark.parametrize(
    ("case", "status", "code", "message"),
    [
        ("expired", 403, "FORBIDDEN", "Token has expired"),
        ("tampered", 403, "FORBIDDEN", "Token verification failed: Invalid token signature"),
        ("missing-token", 403, "FORBIDDEN", "Token verification failed: Missing token"),
        (
            "other-path",
            403,
            "FORBIDDEN",
            "Token verification failed: Token is not valid for this file",
        ),
        (
            "put-token",
            403,
            "FORBIDDEN",
            "Token verification failed: Token is not valid for GET requests",
        ),
        (
            "alg-none",
            403,
            "FORBIDDEN",
            "Token verification failed: Algorithm none is not accepted",
        ),
        ("not-found", 404, "NOT_FOUND", "File not found"),
        ("traversal", 404, "NOT_FOUND", "File not found"),
    ],
)
def test_refused_fetch_answers_the_envelope_and_serves_nothing(
    sample: Stack, case: str, status: int, code: str, message: str
) -> None:
    before = sample.objects()

    result = invoke(signed_fetch_handler.lambda_handler, load_event(f"signed-fetch-{case}"))

    assert result.status == status
    assert result.json() == {"success": False, "error": {"code": code, "message": message}}
    assert PHOTO not in result.body
    assert sample.objects() == before


@pytest.mark.parametrize(
    "key",
    [
        "users/demo-user/../../../../etc/passwd",
        "users/demo-user/%2e%2e/%2e%2e/secret.jpg",
        "users/demo-user/..%2f..%2fsecret.jpg",
        "/etc/passwd",
        "users/demo-user/\\..\\..\\secret.jpg",
        "users/demo-user/a\x00.jpg",
        "users//demo-user/x.jpg",
    ],
)
def test_no_path_outside_the_bucket_is_read_even_with_a_valid_token(
    sample: Stack, key: str
) -> None:
    # A token minted for the hostile path itself: only the path rules can refuse it.
    secret_file = sample.base_path / "secret.jpg"
    if sample.provider == "LOCAL":
        secret_file.parent.mkdir(parents=True, exist_ok=True)
        secret_file.write_bytes(PHOTO)
    event = signed_event("hostile", storage_token(path=key), key=key)

    result = invoke(signed_fetch_handler.lambda_handler, event)

    assert result.status == 404
    assert result.json()["error"] == {"code": "NOT_FOUND", "message": "File not found"}


def test_unknown_bucket_is_not_found_even_with_a_valid_token(sample: Stack) -> None:
    claims = {"res": f"secrets/{SAMPLE_KEY}", "op": "GET", "exp": int(time.time()) + 60}
    event = signed_event("bucket", jwt.encode(claims, DEV_STORAGE_SECRET, algorithm="HS256"))
    event["path"] = event["path"].replace("/user-assets/", "/secrets/")

    result = invoke(signed_fetch_handler.lambda_handler, event)

    assert result.status == 404
    assert result.json()["error"] == {"code": "NOT_FOUND", "message": "File not found"}


def test_uploaded_photo_is_served_by_its_upload_url(stack: Stack) -> None:
    # Given a photo uploaded through the upload function
    data = invoke(upload_handler.lambda_handler, load_event("upload-valid-png")).json()["data"]
    url = urlsplit(data["uploadUrl"])
    key = url.path.removeprefix("/api/storage/signed/user-assets/")
    token = parse_qs(url.query)["token"][0]

    # When the returned URL is fetched
    result = invoke(signed_fetch_handler.lambda_handler, signed_event("roundtrip", token, key=key))

    # Then the stored bytes come back with the stored type, cacheable until the URL expires
    assert result.status == 200
    assert result.body == stack.read("user-assets", data["fileKey"])
    assert result.headers["content-type"] == "image/png"
    # (signed in 300 s windows: valid at least the TTL, at most a window longer)
    assert 3590 <= shared_max_age(result.headers) <= 3600 + 300


def test_two_viewers_within_a_window_get_the_same_url_and_a_shared_cacheable_answer(
    stack: Stack,
) -> None:
    # Given a stored photo and two requests for its URL within one window
    stack.put("user-assets", SAMPLE_KEY, PHOTO)
    signer = services().signer.at("https://photos.example.com/api/storage")
    now = int(time.time())
    start = now - now % signer.window
    first = signer.photo_url("user-assets", SAMPLE_KEY, now=start)
    second = signer.photo_url("user-assets", SAMPLE_KEY, now=start + signer.window - 1)

    # Then both viewers hold the same URL
    assert first == second
    # and what it serves may be kept by any cache until the token ends
    token = parse_qs(urlsplit(first.url).query)["token"][0]
    result = invoke(signed_fetch_handler.lambda_handler, signed_event("shared", token))
    assert result.status == 200
    assert abs(shared_max_age(result.headers) - (first.expires_at - int(time.time()))) <= 2


@pytest.mark.parametrize("provider", ["R2"], indirect=True)
def test_r2_file_too_large_to_return_inline_is_redirected_to_a_presigned_get(
    stack: Stack,
) -> None:
    # (LOCAL serves every file inline: it is not behind Lambda's response cap.)
    from profile_photos.delivery import MAX_INLINE_BYTES

    big = PHOTO + bytes(MAX_INLINE_BYTES + 1 - len(PHOTO))
    stack.put("user-assets", SAMPLE_KEY, big)

    result = invoke(signed_fetch_handler.lambda_handler, load_event("signed-fetch-get"))

    assert result.status == 302
    location = urlsplit(result.headers["location"])
    assert location.netloc == "testaccount.r2.cloudflarestorage.com"
    assert location.path == f"/test-user-assets/{SAMPLE_KEY}"
    query = parse_qs(location.query)
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    # no later than the token (valid until 2100 here), and within R2's 7-day presign limit
    assert int(query["X-Amz-Expires"][0]) == 7 * 24 * 3600
    assert result.body == b""
    # a cache may share the redirect, but no longer than the presigned URL it points at, and
    # a browser keeps it one window at most
    assert result.headers["cache-control"] == (
        f"public, max-age={WINDOW}, s-maxage={7 * 24 * 3600}"
    )


def test_file_just_under_the_inline_limit_is_served_inline(stack: Stack) -> None:
    from profile_photos.delivery import MAX_INLINE_BYTES

    big = PHOTO + bytes(MAX_INLINE_BYTES - len(PHOTO))
    stack.put("user-assets", SAMPLE_KEY, big)

    result = invoke(signed_fetch_handler.lambda_handler, load_event("signed-fetch-get"))

    assert result.status == 200
    assert result.body == big
