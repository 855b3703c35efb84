"""How long caches keep a signed answer: a browser one window at most, a CDN the token's life.

SPEC "Delete means gone": `Cache-Control: public, max-age=<min(seconds left on the token,
SIGNED_URL_WINDOW_SECONDS)>, s-maxage=<seconds left on the token>, immutable` on the 200,
the HEAD and the 304; the redirect to a presigned R2 GET has the same split, bounded by the
presigned URL's life and without `immutable`.
"""

from __future__ import annotations

import re
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import signed_fetch_handler

from testkit.events import SAMPLE_KEY, signed_event, storage_token
from testkit.images import jpeg_bytes
from testkit.invoke import invoke
from tests.integration.conftest import Stack

PHOTO = jpeg_bytes()
WINDOW = 300  # SIGNED_URL_WINDOW_SECONDS's default
SPLIT = re.compile(r"public, max-age=(\d+), s-maxage=(\d+)(, immutable)?")
SLACK = 2  # seconds that may pass between minting the token and the handler's clock


def lifetimes(headers: dict[str, str]) -> tuple[int, int, bool]:
    """(max-age, s-maxage, immutable) of a signed answer's Cache-Control."""
    found = SPLIT.fullmatch(headers["cache-control"])
    assert found, headers["cache-control"]
    return int(found[1]), int(found[2]), found[3] is not None


def fetch(seconds_left: int, *, method: str = "GET", etag: str | None = None) -> dict[str, object]:
    """A signed request for the sample file with a token that has `seconds_left`."""
    event = signed_event("cache", storage_token(exp=int(time.time()) + seconds_left), method=method)
    if etag is not None:
        event["headers"]["If-None-Match"] = etag  # type: ignore[index]
    return event


@pytest.fixture
def sample(stack: Stack) -> Stack:
    stack.put("user-assets", SAMPLE_KEY, PHOTO)
    return stack


@pytest.mark.usefixtures("sample")
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_a_token_with_more_than_a_window_left_is_kept_one_window_by_browsers(method: str) -> None:
    # Given a token with an hour left
    result = invoke(signed_fetch_handler.lambda_handler, fetch(3600, method=method))

    # Then a browser keeps the file one window, a CDN for the rest of the token's life
    assert result.status == 200
    max_age, s_maxage, immutable = lifetimes(result.headers)
    assert max_age == WINDOW
    assert 3600 - SLACK <= s_maxage <= 3600
    assert immutable


@pytest.mark.usefixtures("sample")
def test_a_token_near_its_end_is_kept_no_longer_than_it_lives_by_anyone() -> None:
    # Given a token with less than a window left
    result = invoke(signed_fetch_handler.lambda_handler, fetch(120))

    # Then browser and CDN lifetimes are both the seconds left
    max_age, s_maxage, immutable = lifetimes(result.headers)
    assert max_age == s_maxage
    assert 120 - SLACK <= s_maxage <= 120
    assert immutable


@pytest.mark.usefixtures("sample")
def test_a_304_repeats_the_split() -> None:
    etag = invoke(signed_fetch_handler.lambda_handler, fetch(3600)).headers["etag"]

    result = invoke(signed_fetch_handler.lambda_handler, fetch(3600, etag=etag))

    assert result.status == 304
    max_age, s_maxage, immutable = lifetimes(result.headers)
    assert (max_age, immutable) == (WINDOW, True)
    assert 3600 - SLACK <= s_maxage <= 3600


@pytest.mark.usefixtures("sample")
def test_a_shorter_window_shortens_what_browsers_keep(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from profile_photos.services import reset

    monkeypatch.setenv("SIGNED_URL_WINDOW_SECONDS", "60")
    reset()

    result = invoke(signed_fetch_handler.lambda_handler, fetch(3600))

    max_age, s_maxage, _ = lifetimes(result.headers)
    assert max_age == 60
    assert 3600 - SLACK <= s_maxage <= 3600


def _too_large(stack: Stack) -> None:
    from profile_photos.delivery import MAX_INLINE_BYTES

    stack.put("user-assets", SAMPLE_KEY, PHOTO + bytes(MAX_INLINE_BYTES + 1 - len(PHOTO)))


@pytest.mark.parametrize("provider", ["R2"], indirect=True)
def test_a_redirect_is_kept_one_window_by_browsers_and_no_longer_than_its_url(
    stack: Stack,
) -> None:
    # Given a file served by a redirect to a presigned R2 GET, and a token with an hour left
    _too_large(stack)

    result = invoke(signed_fetch_handler.lambda_handler, fetch(3600))

    # Then the redirect is cached like the file, but never past the presigned URL's life
    assert result.status == 302
    presigned_life = int(parse_qs(urlsplit(result.headers["location"]).query)["X-Amz-Expires"][0])
    max_age, s_maxage, immutable = lifetimes(result.headers)
    assert max_age == WINDOW
    assert s_maxage == presigned_life
    assert 3600 - SLACK <= presigned_life <= 3600
    # its Location is minted per request
    assert not immutable


@pytest.mark.parametrize("provider", ["R2"], indirect=True)
def test_a_redirect_near_the_tokens_end_is_kept_only_what_is_left(stack: Stack) -> None:
    _too_large(stack)

    result = invoke(signed_fetch_handler.lambda_handler, fetch(120))

    assert result.status == 302
    presigned_life = int(parse_qs(urlsplit(result.headers["location"]).query)["X-Amz-Expires"][0])
    assert lifetimes(result.headers) == (presigned_life, presigned_life, False)
    assert 120 - SLACK <= presigned_life <= 120
