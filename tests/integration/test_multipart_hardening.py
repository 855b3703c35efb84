"""Multipart framing through the upload function, LOCAL and R2: a body cut short (no closing
delimiter) and part headers over 8 KiB are 400 VALIDATION_FAILED, and nothing is stored."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import upload_handler

from testkit.events import BOUNDARY, multipart, upload_event, user_token
from testkit.images import jpeg_bytes
from testkit.invoke import invoke
from tests.integration.conftest import Stack

MALFORMED = "Malformed multipart/form-data body"


def _form(file_name: str = "photo.jpg") -> tuple[bytes, str]:
    return multipart(
        {"file": (file_name, jpeg_bytes(), "image/jpeg"), "assetContext": "PROFILE_PICTURE"}
    )


def _cut_inside_the_file() -> tuple[bytes, str]:
    body, content_type = _form()
    data = jpeg_bytes()
    # the body as a dropped connection leaves it: the image half sent, no closing delimiter
    return body[: body.index(data) + len(data) // 2], content_type


def _without_the_close_delimiter() -> tuple[bytes, str]:
    body, content_type = _form()
    close = f"--{BOUNDARY}--\r\n".encode()
    assert body.endswith(b"\r\n" + close)
    return body[: -len(close)], content_type  # every part complete, the form never closed


def _long_header() -> tuple[bytes, str]:
    return _form("x" * 9000 + ".jpg")


def _megabyte_of_parameters() -> tuple[bytes, str]:
    body, content_type = _form()
    marker = b'filename="photo.jpg"'
    return body.replace(marker, marker + b";a" * 500_000, 1), content_type


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            _cut_inside_the_file,
            f"{MALFORMED}: it ends before the closing boundary (was the upload cut short?)",
        ),
        (
            _without_the_close_delimiter,
            f"{MALFORMED}: it ends before the closing boundary (was the upload cut short?)",
        ),
        (_long_header, f"{MALFORMED}: a part's headers are over 8192 bytes"),
        (_megabyte_of_parameters, f"{MALFORMED}: a part's headers are over 8192 bytes"),
    ],
    ids=["cut-inside-the-file", "no-close-delimiter", "header-over-8-KiB", "1-MB-parameters"],
)
def test_a_badly_framed_upload_is_400_and_stores_nothing(
    stack: Stack, build: Callable[[], tuple[bytes, str]], message: str
) -> None:
    # Given an upload whose multipart framing is broken
    body, content_type = build()
    event = upload_event("hardening", body, content_type, user_token())

    # When the upload function handles it
    result = invoke(upload_handler.lambda_handler, event)

    # Then the client gets the validation envelope
    assert result.status == 400
    assert result.json() == {
        "success": False,
        "error": {"code": "VALIDATION_FAILED", "message": message},
    }
    # and no file, no photo, no user record was written
    stack.assert_unchanged()


def test_the_same_body_complete_is_stored(stack: Stack) -> None:
    # the control: the form the cases above break, uploaded whole
    body, content_type = _form()

    result = invoke(
        upload_handler.lambda_handler, upload_event("hardening", body, content_type, user_token())
    )

    assert result.status == 201, result.body
    assert len(stack.objects()) == 1
