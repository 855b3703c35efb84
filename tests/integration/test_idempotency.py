"""Idempotency-Key under moto: a retried upload returns the first result and stores nothing."""

from __future__ import annotations

import pytest
import upload_handler

from testkit.events import file_upload, user_token
from testkit.images import jpeg_bytes, png_bytes
from testkit.invoke import invoke
from tests.integration.conftest import Stack


def upload(key: str | None, data: bytes = b"", user: str = "demo-user", name: str = "a.jpg"):
    event = file_upload(
        "idem", data or jpeg_bytes(), name, "image/jpeg", token=user_token(sub=user)
    )
    if key is not None:
        event["headers"]["Idempotency-Key"] = key
    return invoke(upload_handler.lambda_handler, event)


def photo_count(stack: Stack) -> int:
    return len(stack.items("PHOTOS_TABLE"))


def test_retry_with_the_same_key_returns_the_first_result_and_adds_nothing(stack: Stack) -> None:
    first = upload("retry-1")
    second = upload("retry-1")

    assert first.status == second.status == 201
    assert second.json() == first.json()
    assert photo_count(stack) == 1
    assert len(stack.objects()) == 1


def test_a_new_key_uploads_again(stack: Stack) -> None:
    a, b = upload("k-a"), upload("k-b")

    assert a.json()["data"]["assetId"] != b.json()["data"]["assetId"]
    assert photo_count(stack) == 2


def test_same_key_with_a_different_file_is_refused(stack: Stack) -> None:
    upload("k-1")

    other = upload("k-1", data=png_bytes(), name="b.png")

    assert other.status == 422
    assert other.json() == {
        "success": False,
        "error": {
            "code": "IDEMPOTENCY_KEY_REUSED",
            "message": "Idempotency-Key was already used with a different request; "
            "send a new key for a new upload",
        },
    }
    assert photo_count(stack) == 1


def test_keys_are_scoped_to_the_user(stack: Stack) -> None:
    mine = upload("shared-key", user="user-a")
    theirs = upload("shared-key", user="user-b")

    assert mine.status == theirs.status == 201
    assert mine.json()["data"]["assetId"] != theirs.json()["data"]["assetId"]
    assert photo_count(stack) == 2


def test_a_failed_request_is_not_remembered(stack: Stack) -> None:
    refused = upload("k-fail", data=b"not an image")
    assert refused.status == 415

    accepted = upload("k-fail")

    assert accepted.status == 201
    assert photo_count(stack) == 1


def test_no_key_means_no_idempotency_record(stack: Stack) -> None:
    upload(None)
    upload(None)

    assert photo_count(stack) == 2
    assert stack.dynamodb.scan(TableName="IdempotencyTable")["Items"] == []


@pytest.mark.parametrize("key", ["", "has space", "x" * 256, "ünïcode"])
def test_malformed_keys_are_400(stack: Stack, key: str) -> None:
    result = upload(key)

    assert result.status == 400
    assert result.json()["error"] == {
        "code": "VALIDATION_FAILED",
        "message": "Idempotency-Key must be 1-255 printable ASCII characters",
    }
    stack.assert_unchanged()
