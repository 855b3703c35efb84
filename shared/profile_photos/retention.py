"""Retention: keep each user's `RETENTION_ACTIVE_LIMIT` newest active photos, archive the rest.

Driven by the photos table's stream, which delivers at least once, possibly out of order and
in batches. The rule is therefore stated on the table's *current* state, never on the record:
read the user's active photos (one Query of the sparse `active-by-user` index, newest
`activeSortKey` first) and archive everything after the first N. Running it twice, late, or
for a record that is already obsolete converges on the same end state.

Each archive is a conditional write: it applies only while the photo still carries the
`activeSortKey` that was read. A photo restored (new key) or deleted in the meantime is left
alone, and the run that its own stream record triggers decides about it.

`activeSortKey` is `<activeSince>#<assetId>`: the upload time for a new photo, the restore
time for a restored one. Sorting by it (not by `uploadedAt`) is what keeps a restored photo
from being archived again at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Protocol, TypeVar

from pynamodb.exceptions import PynamoDBException, UpdateError

from profile_photos.errors import DependencyUnavailable
from profile_photos.models import PhotoModel
from profile_photos.times import iso_ms

CONDITION_FAILED = "ConditionalCheckFailedException"


class Ranked(Protocol):
    active_sort_key: str | None


T = TypeVar("T", bound=Ranked)


def select_to_archive(active: Sequence[T], limit: int) -> list[T]:
    """The photos beyond the newest `limit`, given active photos in any order."""
    ranked = sorted(active, key=lambda photo: photo.active_sort_key or "", reverse=True)
    return ranked[limit:]


def active_photos(user_id: str) -> list[PhotoModel]:
    """The user's active photos, newest first: one Query of the sparse index."""
    try:
        return list(PhotoModel.active_by_user.query(user_id, scan_index_forward=False))
    except PynamoDBException as exc:
        raise DependencyUnavailable("Photos could not be read") from exc


def enforce_retention(user_id: str, limit: int, now: datetime | None = None) -> list[str]:
    """Archive the user's active photos beyond the newest `limit`; return the archived ids."""
    archived_at = iso_ms(now or datetime.now(UTC))
    archived = []
    for photo in select_to_archive(active_photos(user_id), limit):
        try:
            photo.update(
                actions=[
                    PhotoModel.archived.set(True),
                    PhotoModel.archived_at.set(archived_at),
                    PhotoModel.active_sort_key.remove(),
                ],
                condition=PhotoModel.active_sort_key == photo.active_sort_key,
            )
        except UpdateError as exc:
            if exc.cause_response_code == CONDITION_FAILED:
                continue  # restored or deleted since it was read: not ours to archive
            raise DependencyUnavailable("Photo could not be archived") from exc
        archived.append(photo.asset_id)
    return archived
