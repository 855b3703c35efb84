"""Every timestamp the API answers is one form: ISO 8601, UTC, milliseconds, `Z` (issue 28,
item 9), and `ProfilePhoto.fileName` is the name the file was uploaded with.

One user walks through every answer that carries a time: a multipart upload, a direct upload
(upload-url and complete), the public profile, the owner's list, an export with archived
photos, a restore and a delete. Every key ending in `At` anywhere in those answers is checked.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from testkit.images import jpeg_bytes
from tests.integration.conftest import Stack
from tests.integration.test_direct_upload import announce, post_json, put
from tests.integration.test_graphql import gql, run_retention, upload

ISO_MS_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
PHOTO = "{ assetId fileName uploadedAt }"


def timestamps(answer: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """(path, value) of every key ending in `At`, however deep."""
    if isinstance(answer, dict):
        for key, value in answer.items():
            if key.endswith("At"):
                yield f"{path}.{key}", value
            yield from timestamps(value, f"{path}.{key}")
    elif isinstance(answer, list):
        for index, value in enumerate(answer):
            yield from timestamps(value, f"{path}[{index}]")


def test_every_timestamp_in_every_answer_is_iso_8601_utc_with_milliseconds(
    stack: Stack,
) -> None:
    # Given a user who uploaded seven photos (two archived by retention) and one more directly
    answers: list[Any] = [upload() for _ in range(7)]
    run_retention(stack)
    data = jpeg_bytes()
    granted = announce(size=len(data), name="direct.jpg")
    answers.append(granted.json())
    assert put(stack, granted.json()["data"], data) == 200
    completed = post_json("complete", {"fileKey": granted.json()["data"]["fileKey"]})
    assert completed.status == 201, completed.body
    answers.append(completed.json())

    # When they read every kind of answer that carries a time
    oldest = answers[0]["assetId"]
    answers += [
        gql('{ user(id: "demo-user") { profilePhotoUploadedAt } }'),
        gql(f"{{ me {{ profilePhotoUploadedAt profilePhotos {PHOTO} }} }}"),
        gql("mutation { exportProfilePhotos { expiresAt items { uploadedAt archivedAt } } }"),
        gql(
            f"mutation ($id: ID!) {{ restoreProfilePhoto(assetId: $id) {{ photo {PHOTO} }} }}",
            {"id": oldest},
        ),
        gql(
            f"mutation ($id: ID!) {{ deleteProfilePhoto(assetId: $id) "
            f"{{ currentPhoto {PHOTO} }} }}",
            {"id": oldest},
        ),
    ]

    # Then every answer succeeded, every timestamp has the one form, and each kind appears
    assert [answer for answer in answers[9:] if "errors" in answer] == []
    found = [pair for answer in answers for pair in timestamps(answer)]
    bad = [
        (path, value)
        for path, value in found
        if value is not None and not ISO_MS_Z.fullmatch(value)
    ]
    assert bad == []
    kinds = {path.rsplit(".", 1)[1] for path, value in found if value is not None}
    assert kinds == {"uploadedAt", "expiresAt", "profilePhotoUploadedAt", "archivedAt"}


def test_a_profile_photo_names_the_file_it_was_uploaded_as(stack: Stack) -> None:
    upload()

    listed = gql(f"{{ me {{ profilePhotos {PHOTO} }} }}")["data"]["me"]["profilePhotos"]

    assert [photo["fileName"] for photo in listed] == ["me.jpg"]
