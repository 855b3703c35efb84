"""Issue 24, item 6: a LOCAL direct-upload URL takes one file per grant, not one per staged key.

`complete` removes the staged object once it registers the photo, so the object store alone
would take the same PUT URL again (200) and keep an orphan staged object that nobody can
complete. The PUT now reads its grant first: after `complete` it is 409 `Upload already
received`, after the user's erasure 404 `Upload not found`, and nothing is stored either way.
(R2: the PUT goes to R2 itself; see the README's direct-upload section.)
"""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import signed_fetch_handler

from testkit.events import signed_event
from testkit.images import jpeg_bytes
from testkit.invoke import HttpResult, invoke
from tests.integration.conftest import Stack
from tests.integration.test_direct_upload import announce, post_json
from tests.integration.test_graphql import gql

PHOTO = jpeg_bytes()


@pytest.fixture(params=["LOCAL"])
def provider(request: pytest.FixtureRequest) -> str:
    """The signed PUT endpoint exists in LOCAL mode only (R2 takes the PUT itself)."""
    return str(request.param)


def grant() -> dict[str, Any]:
    response = announce(size=len(PHOTO))
    assert response.status == 201, response.body
    return response.json()["data"]


def put(issued: dict[str, Any]) -> HttpResult:
    """The PUT a client sends to the upload URL, through the signed-fetch function."""
    url = urlsplit(issued["uploadUrl"])
    key = url.path.removeprefix("/api/storage/signed/user-assets/")
    event = signed_event("put", parse_qs(url.query)["token"][0], method="PUT", key=key)
    event["headers"] |= issued["headers"]
    event["body"] = base64.b64encode(PHOTO).decode()
    event["isBase64Encoded"] = True
    return invoke(signed_fetch_handler.lambda_handler, event)


def staged_files(stack: Stack) -> list[str]:
    return [name for name in stack.objects() if name.startswith("user-assets/staging/")]


def test_a_put_replayed_after_complete_is_409_and_stores_nothing(stack: Stack) -> None:
    # Given a direct upload, PUT and completed
    issued = grant()
    assert put(issued).status == 200
    completed = post_json("complete", {"fileKey": issued["fileKey"]})
    assert completed.status == 201, completed.body
    assert staged_files(stack) == []

    # When the same PUT URL is sent again
    replayed = put(issued)

    # Then it is refused as the README promises, and no staged object is left behind
    assert replayed.status == 409, replayed.body
    assert replayed.json() == {
        "success": False,
        "error": {"code": "CONFLICT", "message": "Upload already received"},
    }
    assert staged_files(stack) == []
    (photo,) = stack.objects()
    assert photo.startswith("user-assets/users/demo-user/profile-picture/")
    # and complete still answers as before: the grant registered its one photo
    again = post_json("complete", {"fileKey": issued["fileKey"]})
    assert again.status == 409
    assert again.json()["error"]["message"] == "Upload already completed"


def test_a_put_after_the_users_erasure_is_404_and_stores_nothing(stack: Stack) -> None:
    # Given a grant whose user then erased everything (grants and staged uploads included)
    issued = grant()
    erased = gql("mutation { deleteAllProfilePhotos { deletedCount } }")
    assert "errors" not in erased, erased

    # When its PUT URL, still within its 15 minutes, is used
    late = put(issued)

    # Then nothing comes back for the erased user
    assert late.status == 404, late.body
    assert late.json()["error"] == {"code": "NOT_FOUND", "message": "Upload not found"}
    assert staged_files(stack) == []
    assert stack.items("UPLOADS_TABLE") == []


def test_a_put_after_a_complete_refused_its_file_is_409_and_stores_nothing(
    stack: Stack,
) -> None:
    # Given a direct upload whose complete took the file and refused it (not an image)
    issued = grant()
    url = urlsplit(issued["uploadUrl"])
    key = url.path.removeprefix("/api/storage/signed/user-assets/")
    event = signed_event("put", parse_qs(url.query)["token"][0], method="PUT", key=key)
    event["headers"] |= issued["headers"]
    event["body"] = base64.b64encode(b"\xff\xd8" + bytes(len(PHOTO) - 2)).decode()
    event["isBase64Encoded"] = True
    assert invoke(signed_fetch_handler.lambda_handler, event).status == 200
    refused = post_json("complete", {"fileKey": issued["fileKey"]})
    assert refused.status == 415, refused.body
    assert staged_files(stack) == []

    # When the same PUT URL is sent again, now with a real photo
    replayed = put(issued)

    # Then the grant has had its one file: 409, and nothing is staged that no one can complete
    assert replayed.status == 409, replayed.body
    assert replayed.json()["error"]["message"] == "Upload already received"
    assert staged_files(stack) == []
