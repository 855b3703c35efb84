"""The decode check through the upload handler, LOCAL and R2: a file whose structure is sound
but whose pixels no decoder can draw never becomes a photo, by either way in.

The undecodable file is a JPEG whose frame header names a quantization table the file never
defines: every segment length is right (the structure walk passes it, as it passed the
corpus files of issue 15), and libjpeg gives up on the first block. Each test starts from a
user who already has a current photo, so "nothing changed" is visible.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest
import upload_handler

from testkit.events import file_upload
from testkit.images import jpeg_bytes, png_bytes
from testkit.invoke import HttpResult, invoke
from tests.integration.conftest import Stack, load_event
from tests.integration.test_direct_upload import announce, post_json, put

NOT_DECODED = "Image could not be decoded: "


def undecodable_jpeg() -> bytes:
    """`jpeg_bytes()` with every component of its SOF0 pointed at quantization table 3."""
    data = bytearray(jpeg_bytes())
    sof = data.index(b"\xff\xc0")
    components = data[sof + 9]
    for index in range(components):
        data[sof + 10 + 3 * index + 2] = 3  # (id, sampling, table): only tables 0 and 1 exist
    return bytes(data)


def png_with_empty_actl() -> bytes:
    """`png_bytes()` with an APNG `acTL` chunk announcing 0 frames: Pillow warns "Invalid
    APNG" (the warning Pillow's apng/syntax_num_frames_zero.png gives) and decodes the
    default image."""
    data = png_bytes()
    body = struct.pack(">II", 0, 0)
    chunk = (
        struct.pack(">I", len(body))
        + b"acTL"
        + body
        + struct.pack(">I", zlib.crc32(b"acTL" + body))
    )
    return data[:33] + chunk + data[33:]  # after the signature and IHDR


def current_photo(stack: Stack) -> dict:
    """Given: demo-user's first photo, uploaded and current."""
    first = invoke(upload_handler.lambda_handler, load_event("upload-valid-jpg"))
    assert first.status == 201, first.body
    (user,) = stack.items("USERS_TABLE")
    assert user["currentAssetId"] == {"S": first.json()["data"]["assetId"]}
    return user


def remaining(result: HttpResult) -> int:
    return int(result.headers["x-ratelimit-remaining"])


def assert_not_decoded(result: HttpResult) -> None:
    assert result.status == 415, result.body
    error = result.json()["error"]
    assert error["code"] == "VALIDATION_FAILED"
    assert error["message"].startswith(NOT_DECODED), error
    assert len(error["message"]) > len(NOT_DECODED)  # and says why
    assert "Traceback" not in error["message"]
    assert result.json()["success"] is False


def test_a_staged_file_that_does_not_decode_is_415_at_complete_and_stores_nothing(
    stack: Stack,
) -> None:
    # Given a user with a current photo, and a direct upload of an undecodable JPEG, PUT
    user = current_photo(stack)
    photos, objects = stack.items("PHOTOS_TABLE"), stack.objects()
    data = undecodable_jpeg()
    granted = announce(size=len(data), name="broken.jpg")
    assert granted.status == 201, granted.body
    grant = granted.json()["data"]
    assert put(stack, grant, data) == 200

    # When the client completes it
    result = post_json("complete", {"fileKey": grant["fileKey"]})

    # Then it is refused as undecodable, the staged copy is removed, nothing is registered
    assert_not_decoded(result)
    assert stack.objects() == objects
    assert stack.items("PHOTOS_TABLE") == photos
    assert stack.items("USERS_TABLE") == [user]  # the current photo is still the first one
    # and complete charged nothing: the next upload-url is charged only its own unit
    after = announce(size=len(data), name="again.jpg")
    assert after.status == 201, after.body
    assert remaining(after) == remaining(granted) - 1


def test_a_multipart_upload_that_does_not_decode_is_415_and_stores_nothing(
    stack: Stack,
) -> None:
    # Given a user with a current photo
    user = current_photo(stack)
    photos, objects = stack.items("PHOTOS_TABLE"), stack.objects()
    counters = stack.items("RATE_LIMITS_TABLE")

    # When the same undecodable JPEG is sent as a multipart upload
    event = file_upload("undecodable", undecodable_jpeg(), "broken.jpg", "image/jpeg")
    result = invoke(upload_handler.lambda_handler, event)

    # Then 415, and nothing stored, registered or charged
    assert_not_decoded(result)
    assert stack.objects() == objects
    assert stack.items("PHOTOS_TABLE") == photos
    assert stack.items("USERS_TABLE") == [user]
    assert stack.items("RATE_LIMITS_TABLE") == counters


@pytest.mark.parametrize("provider", ["LOCAL"], indirect=True)
def test_a_file_pillow_works_around_is_accepted_without_a_warning(
    stack: Stack, recwarn: pytest.WarningsRecorder
) -> None:
    # Given a PNG whose APNG header is invalid but whose default image decodes
    event = file_upload("empty-actl", png_with_empty_actl(), "actl.png", "image/png")

    # When it is uploaded
    result = invoke(upload_handler.lambda_handler, event)

    # Then it becomes a photo, and Pillow's warning about it never reaches the logs (on
    # Lambda a Python warning is a line on stderr)
    assert result.status == 201, result.body
    pillow = [w for w in recwarn if Path(w.filename).parent.name in ("PIL", "pillow_heif")]
    assert [str(w.message) for w in pillow] == []
