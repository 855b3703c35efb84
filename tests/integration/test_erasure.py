"""GDPR erasure leaves nothing of the user's files behind (issue: erasure leaves traces).

After `deleteAllProfilePhotos` (or `deleteProfilePhoto`), no object under the user's
prefixes, no grant of theirs, and no idempotency record naming their files or URLs remain:
the idempotency table keeps references only, never a file name or a signed URL.
"""

from __future__ import annotations

import json

import pytest
import upload_handler

from testkit.events import file_upload, user_token
from testkit.images import jpeg_bytes
from testkit.invoke import invoke
from tests.integration.conftest import Stack
from tests.integration.test_direct_upload import announce, post_json, put
from tests.integration.test_graphql import gql

SECRET_NAME = "holiday-at-grandmas-house.jpg"


def keyed_upload(key: str, user: str = "demo-user") -> dict:
    event = file_upload("gdpr", jpeg_bytes(), SECRET_NAME, "image/jpeg", token=user_token(sub=user))
    event["headers"]["Idempotency-Key"] = key
    result = invoke(upload_handler.lambda_handler, event)
    assert result.status == 201, result.body
    return result.json()["data"]


def personal_traces(stack: Stack, user: str = "demo-user") -> list[str]:
    """Everything stored that still names the user's files: objects, grants, idempotency
    records holding a file name, a signed URL or a file key of theirs."""
    found = [o for o in stack.objects() if f"users/{user}/" in o]
    found += [json.dumps(g) for g in stack.items("UPLOADS_TABLE") if g["userId"]["S"] == user]
    for record in stack.items("IDEMPOTENCY_TABLE"):
        text = json.dumps(record)
        if SECRET_NAME in text or "http" in text or "token=" in text or f"users/{user}/" in text:
            found.append(text)
    return found


def leave_every_kind_of_trace(stack: Stack) -> None:
    keyed_upload("k-upload")
    direct = post_json(
        "upload-url",
        {"fileName": SECRET_NAME, "contentType": "image/jpeg", "size": len(jpeg_bytes())},
        headers={"Idempotency-Key": "k-url"},
    ).json()["data"]
    assert put(stack, direct, jpeg_bytes()) == 200  # staged, never completed
    completed = announce(size=len(jpeg_bytes()), name=SECRET_NAME).json()["data"]
    put(stack, completed, jpeg_bytes())
    key = {"Idempotency-Key": "k-complete"}
    assert post_json("complete", {"fileKey": completed["fileKey"]}, headers=key).status == 201
    assert len(stack.items("IDEMPOTENCY_TABLE")) == 3
    assert any("staging/" in o for o in stack.objects())


def test_delete_all_leaves_no_file_grant_or_idempotency_record_of_the_user(stack: Stack) -> None:
    # Given photos uploaded with Idempotency-Key, a completed and a pending direct upload
    leave_every_kind_of_trace(stack)
    keyed_upload("k-other", user="bystander")

    # When the user erases everything
    response = gql("mutation { deleteAllProfilePhotos { deletedCount } }")

    # Then nothing of theirs is left, and the bystander's photo is untouched
    assert response["data"]["deleteAllProfilePhotos"]["deletedCount"] == 2
    assert personal_traces(stack) == []
    assert [o for o in stack.objects() if "bystander" in o] != []
    assert [p["userId"]["S"] for p in stack.items("PHOTOS_TABLE")] == ["bystander"]


def test_deleting_one_photo_also_removes_the_users_staged_uploads(stack: Stack) -> None:
    photo = keyed_upload("k-1")
    pending = announce(size=len(jpeg_bytes()), name=SECRET_NAME).json()["data"]
    put(stack, pending, jpeg_bytes())

    response = gql(
        "mutation($id: ID!) { deleteProfilePhoto(assetId: $id) { deletedCount } }",
        {"id": photo["assetId"]},
    )

    assert response["data"]["deleteProfilePhoto"]["deletedCount"] == 1
    assert personal_traces(stack) == []
    assert post_json("complete", {"fileKey": pending["fileKey"]}).status == 404


@pytest.mark.parametrize("operation", ["upload", "complete"])
def test_a_retry_after_erasure_does_not_bring_the_photo_back(stack: Stack, operation: str) -> None:
    if operation == "upload":
        keyed_upload("k-again")
    else:
        issued = announce(size=len(jpeg_bytes())).json()["data"]
        put(stack, issued, jpeg_bytes())
        post_json("complete", {"fileKey": issued["fileKey"]}, headers={"Idempotency-Key": "k"})
    gql("mutation { deleteAllProfilePhotos { deletedCount } }")

    if operation == "upload":
        event = file_upload("gdpr", jpeg_bytes(), SECRET_NAME, "image/jpeg", token=user_token())
        event["headers"]["Idempotency-Key"] = "k-again"
        retry = invoke(upload_handler.lambda_handler, event)
    else:
        retry = post_json(
            "complete", {"fileKey": issued["fileKey"]}, headers={"Idempotency-Key": "k"}
        )

    assert retry.status == 404
    assert retry.json()["error"] == {
        "code": "NOT_FOUND",
        "message": "The photo this Idempotency-Key created has been deleted",
    }
    assert stack.objects() == []
    assert stack.items("PHOTOS_TABLE") == []


def test_a_retried_upload_url_gets_the_same_grant_back(stack: Stack) -> None:
    payload = {"fileName": SECRET_NAME, "contentType": "image/jpeg", "size": len(jpeg_bytes())}
    key = {"Idempotency-Key": "k-url"}

    first = post_json("upload-url", payload, headers=key)
    again = post_json("upload-url", payload, headers=key)

    assert (first.status, again.status) == (201, 201)
    assert again.json()["data"]["fileKey"] == first.json()["data"]["fileKey"]
    assert again.json()["data"]["expiresAt"] == first.json()["data"]["expiresAt"]
    if stack.provider == "LOCAL":
        assert again.body == first.body  # the PUT token is re-minted at the first clock
    assert len(stack.items("UPLOADS_TABLE")) == 1
    assert put(stack, again.json()["data"], jpeg_bytes()) == 200
