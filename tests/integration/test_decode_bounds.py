"""Decoding is bounded before it starts (issue 24, items 1 and 2), LOCAL and R2.

The security review's files, through the upload handler both ways in: a progressive JPEG
whose last scan is repeated 300 times (434 KB; it held the function for its whole timeout),
one with more scans than libjpeg-turbo's own limit, and a 92-byte WebP whose 10000x10000
canvas holds one 1x1 frame (~1.5 GB to decode). Each is refused from its header with nothing
stored, registered or charged. A user over the rate limit cannot make the service decode
at all, and a direct-upload grant is decoded once, however often `complete` is replayed.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import upload_handler

from profile_photos import uploads
from testkit import bombs
from testkit.events import file_upload
from testkit.images import jpeg_bytes
from testkit.invoke import HttpResult, invoke
from tests.integration.conftest import Stack
from tests.integration.test_decode_check import current_photo, undecodable_jpeg
from tests.integration.test_direct_upload import announce, post_json, put

BOMBS: dict[str, tuple[Callable[[], bytes], str, str, str]] = {
    # name: (file, type, extension, what the refusal says)
    "300 repeated scans": (
        lambda: bombs.scan_bomb(300),
        "image/jpeg",
        "jpg",
        "Invalid image file: its scans decode 478.1 million blocks; the maximum is 24 million",
    ),
    "600 scans": (
        lambda: bombs.scan_bomb(600, side=1000),
        "image/jpeg",
        "jpg",
        "Invalid image file: the JPEG file structure is invalid: more than 500 scans",
    ),
    "WebP canvas": (
        bombs.webp_canvas_bomb,
        "image/webp",
        "webp",
        "Image is 10000x10000 px; decoding this WebP takes about 1526 MB, more than the "
        "556 MB allowed",
    ),
}


def assert_refused(result: HttpResult, message: str) -> None:
    assert result.status == 415, result.body
    assert result.json()["error"] == {"code": "VALIDATION_FAILED", "message": message}


@pytest.mark.parametrize("name", BOMBS)
def test_a_decoding_bomb_sent_as_multipart_is_415_and_changes_nothing(
    stack: Stack, name: str
) -> None:
    # Given a user with a current photo
    user = current_photo(stack)
    photos, objects = stack.items("PHOTOS_TABLE"), stack.objects()
    counters = stack.items("RATE_LIMITS_TABLE")
    data, content_type, extension, message = BOMBS[name]

    # When the bomb is uploaded
    result = invoke(
        upload_handler.lambda_handler,
        file_upload("bomb", data(), f"bomb.{extension}", content_type),
    )

    # Then it is refused from its header, and nothing is stored, registered or charged
    assert_refused(result, message)
    assert stack.objects() == objects
    assert stack.items("PHOTOS_TABLE") == photos
    assert stack.items("USERS_TABLE") == [user]
    assert stack.items("RATE_LIMITS_TABLE") == counters


@pytest.mark.parametrize("name", BOMBS)
def test_a_decoding_bomb_staged_for_complete_is_415_and_removed(stack: Stack, name: str) -> None:
    # Given a user with a current photo, and a bomb PUT through a direct upload
    user = current_photo(stack)
    photos, objects = stack.items("PHOTOS_TABLE"), stack.objects()
    data, content_type, extension, message = BOMBS[name]
    body = data()
    granted = announce(size=len(body), name=f"bomb.{extension}", mime=content_type)
    assert granted.status == 201, granted.body
    assert put(stack, granted.json()["data"], body) == 200

    # When it is completed
    result = post_json("complete", {"fileKey": granted.json()["data"]["fileKey"]})

    # Then 415, the staged copy is gone and nothing is registered
    assert_refused(result, message)
    assert stack.objects() == objects
    assert stack.items("PHOTOS_TABLE") == photos
    assert stack.items("USERS_TABLE") == [user]


def test_a_user_over_the_rate_limit_cannot_make_the_service_decode(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a user whose hourly budget the first photo spent
    monkeypatch.setenv("RATE_LIMIT_PER_HOUR", "1")
    user = current_photo(stack)
    photos, objects = stack.items("PHOTOS_TABLE"), stack.objects()
    counters = stack.items("RATE_LIMITS_TABLE")
    decoded: list[str] = []
    real = uploads.check_decodes
    monkeypatch.setattr(
        uploads, "check_decodes", lambda *a, **k: decoded.append(a[1]) or real(*a, **k)
    )

    # When they upload a file the decoder would refuse
    result = invoke(
        upload_handler.lambda_handler,
        file_upload("over", undecodable_jpeg(), "broken.jpg", "image/jpeg"),
    )

    # Then the rate limit answers (429), before any decoding: the decoder never ran
    assert result.status == 429, result.body
    assert result.json()["error"]["code"] == "RATE_LIMITED"
    assert decoded == []
    assert stack.objects() == objects
    assert stack.items("PHOTOS_TABLE") == photos
    assert stack.items("USERS_TABLE") == [user]
    assert stack.items("RATE_LIMITS_TABLE") == counters


class Killed(BaseException):
    """What a Lambda timeout is to the code it stops: nothing after it runs."""


def test_a_complete_that_timed_out_cannot_be_replayed_to_decode_again(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a staged upload whose first complete was stopped mid-decode (a timeout)
    data = jpeg_bytes()
    granted = announce(size=len(data), name="photo.jpg")
    grant = granted.json()["data"]
    assert put(stack, grant, data) == 200
    decodes: list[str] = []

    def stopped(*args: object, **kwargs: object) -> None:
        decodes.append("decode")
        raise Killed

    monkeypatch.setattr(uploads, "check_decodes", stopped)
    with pytest.raises(Killed):
        post_json("complete", {"fileKey": grant["fileKey"]})

    # When the client replays complete, again and again
    replays = [post_json("complete", {"fileKey": grant["fileKey"]}) for _ in range(3)]

    # Then each replay is 409 without decoding anything, and nothing is registered
    for result in replays:
        assert result.status == 409, result.body
        assert result.json()["error"] == {
            "code": "CONFLICT",
            "message": "Upload already being completed: wait for that answer, or start a new "
            "upload if it failed",
        }
    assert decodes == ["decode"]
    assert stack.items("PHOTOS_TABLE") == []
