"""A direct-upload grant registers at most one photo (issue: grant replay), both providers.

One `upload-url` is one charge and one grant. Replaying its PUT URL and `complete` must not
register a second photo: a PUT onto a staged key that holds an object is refused, a second
`complete` is 409 (or the first answer again under the same Idempotency-Key), and a key that
no `upload-url` of this user issued is 404.
"""

from __future__ import annotations

import uuid

from testkit.images import jpeg_bytes
from tests.integration.conftest import Stack
from tests.integration.test_direct_upload import announce, post_json, put

PHOTO = jpeg_bytes()


def grant() -> dict:
    response = announce(size=len(PHOTO))
    assert response.status == 201, response.body
    return response.json()["data"]


def test_replaying_the_put_url_and_complete_registers_one_photo(stack: Stack) -> None:
    # Given one grant, used once
    issued = grant()
    assert put(stack, issued, PHOTO) == 200
    assert post_json("complete", {"fileKey": issued["fileKey"]}).status == 201

    # When the client replays the same PUT URL and complete, again and again
    replays = []
    for _ in range(3):
        put(stack, issued, PHOTO)
        replays.append(post_json("complete", {"fileKey": issued["fileKey"]}))

    # Then every replay is refused, one photo exists, and no staged or extra file is left
    for result in replays:
        assert result.status == 409
        assert result.json()["error"] == {
            "code": "CONFLICT",
            "message": "Upload already completed",
        }
    assert len(stack.items("PHOTOS_TABLE")) == 1
    (stored,) = stack.objects()
    assert stored.startswith("user-assets/users/demo-user/profile-picture/")


def test_a_put_onto_a_staged_key_that_holds_an_object_is_refused(stack: Stack) -> None:
    issued = grant()
    assert put(stack, issued, PHOTO) == 200

    second = put(stack, issued, PHOTO)

    # LOCAL answers the contract's 409; R2 refuses the signed If-None-Match itself (412)
    assert second == (409 if stack.provider == "LOCAL" else 412)
    assert len(stack.objects()) == 1


def test_a_second_complete_with_the_same_idempotency_key_returns_the_first_answer(
    stack: Stack,
) -> None:
    issued = grant()
    put(stack, issued, PHOTO)
    key = {"Idempotency-Key": "complete-1"}

    first = post_json("complete", {"fileKey": issued["fileKey"]}, headers=key)
    again = post_json("complete", {"fileKey": issued["fileKey"]}, headers=key)
    other_key = post_json(
        "complete", {"fileKey": issued["fileKey"]}, headers={"Idempotency-Key": "c-2"}
    )

    assert (first.status, again.status, other_key.status) == (201, 201, 409)
    assert again.body == first.body
    assert len(stack.items("PHOTOS_TABLE")) == 1


def test_complete_of_a_key_this_user_was_never_granted_is_404(stack: Stack) -> None:
    issued = grant()
    put(stack, issued, PHOTO)
    never_issued = f"staging/users/demo-user/{uuid.uuid4()}.jpg"

    results = [
        post_json("complete", {"fileKey": never_issued}),
        post_json("complete", {"fileKey": issued["fileKey"]}, user="mallory"),
        post_json("complete", {"fileKey": "staging/users/demo-user/not-a-uuid.jpg"}),
    ]

    for result in results:
        assert result.status == 404
        assert result.json()["error"] == {"code": "NOT_FOUND", "message": "Upload not found"}
    assert stack.items("PHOTOS_TABLE") == []
    assert len(stack.objects()) == 1  # the owner's staged object is untouched


def test_complete_before_the_put_says_so_and_the_grant_stays_usable(stack: Stack) -> None:
    issued = grant()

    early = post_json("complete", {"fileKey": issued["fileKey"]})
    assert put(stack, issued, PHOTO) == 200
    done = post_json("complete", {"fileKey": issued["fileKey"]})

    assert early.status == 404
    assert early.json()["error"]["message"] == (
        "Upload not received yet: PUT the file to its uploadUrl, then complete"
    )
    assert done.status == 201


def test_a_grant_is_recorded_and_marked_completed(stack: Stack) -> None:
    issued = grant()
    (item,) = stack.items("UPLOADS_TABLE")
    assert item["fileKey"]["S"] == issued["fileKey"]
    assert "completedAt" not in item

    put(stack, issued, PHOTO)
    asset_id = post_json("complete", {"fileKey": issued["fileKey"]}).json()["data"]["assetId"]

    (item,) = stack.items("UPLOADS_TABLE")
    assert item["assetId"]["S"] == asset_id
    assert "completedAt" in item
