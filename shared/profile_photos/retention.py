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

A global secondary index is eventually consistent, so the Query can miss a photo written a
moment ago. The stream records say which photos must be visible (`expected`: asset id ->
activeSortKey); if one is missing from the index but a consistent read of the table shows it
still active with that key, the index is behind and the run fails, so Lambda retries it
instead of converging on a stale view. That read happens only in that rare case.
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


def enforce_retention(
    user_id: str,
    limit: int,
    expected: dict[str, str] | None = None,
    now: datetime | None = None,
) -> list[str]:
    """Archive the user's active photos beyond the newest `limit`; return the archived ids."""
    archived_at = iso_ms(now or datetime.now(UTC))
    active = active_photos(user_id)
    _check_index_caught_up(user_id, active, expected or {})
    archived = []
    for photo in select_to_archive(active, limit):
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


def _check_index_caught_up(
    user_id: str, active: list[PhotoModel], expected: dict[str, str]
) -> None:
    listed = {photo.asset_id: photo.active_sort_key for photo in active}
    for asset_id, sort_key in expected.items():
        if listed.get(asset_id) == sort_key:
            continue
        try:
            current = PhotoModel.get(user_id, asset_id, consistent_read=True)
        except PhotoModel.DoesNotExist:
            continue  # deleted since: nothing to wait for
        except PynamoDBException as exc:
            raise DependencyUnavailable("Photos could not be read") from exc
        if current.active_sort_key == sort_key:
            raise DependencyUnavailable(
                f"The active-by-user index does not show photo {asset_id} yet; retry"
            )
