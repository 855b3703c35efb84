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

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from profile_photos.errors import DependencyUnavailable
from profile_photos.store import photos
from profile_photos.store.records import Photo
from profile_photos.times import iso_ms


class Ranked(Protocol):
    @property
    def active_sort_key(self) -> str | None: ...


T = TypeVar("T", bound=Ranked)


def select_to_archive(active: Sequence[T], limit: int) -> list[T]:
    """The photos beyond the newest `limit`, given active photos in any order."""
    ranked = sorted(active, key=lambda photo: photo.active_sort_key or "", reverse=True)
    return ranked[limit:]


def enforce_retention(
    user_id: str,
    limit: int,
    expected: dict[str, str] | None = None,
    now: datetime | None = None,
) -> list[str]:
    """Archive the user's active photos beyond the newest `limit`; return the archived ids."""
    archived_at = iso_ms(now or datetime.now(UTC))
    active = photos.active_photos(user_id)
    _check_index_caught_up(user_id, active, expected or {})
    return [
        photo.asset_id
        for photo in select_to_archive(active, limit)
        if photos.archive(photo, archived_at)  # False: restored or deleted since it was read
    ]


def _check_index_caught_up(user_id: str, active: list[Photo], expected: dict[str, str]) -> None:
    listed = {photo.asset_id: photo.active_sort_key for photo in active}
    for asset_id, sort_key in expected.items():
        if listed.get(asset_id) == sort_key:
            continue
        current = photos.get_photo(user_id, asset_id)  # None: deleted since, nothing to wait for
        if current is not None and current.active_sort_key == sort_key:
            raise DependencyUnavailable(
                f"The active-by-user index does not show photo {asset_id} yet; retry"
            )


def expected_active(images: Iterable[Mapping[str, Any] | None]) -> dict[str, dict[str, str]]:
    """user id -> {asset id: activeSortKey} of the active photos that a batch's new images
    (stream records' `NewImage`, deserialised) show; images without those keys are skipped."""
    expected: dict[str, dict[str, str]] = {}
    for image in images:
        if not image:
            continue
        user_id, asset_id = image.get("userId"), image.get("assetId")
        sort_key = image.get("activeSortKey")
        if isinstance(user_id, str) and isinstance(asset_id, str) and isinstance(sort_key, str):
            expected.setdefault(user_id, {})[asset_id] = sort_key
    return expected


class RetentionBatch:
    """Retention once per user per stream batch; a user's failure fails all of its records.

    The first record of a user runs retention on the table's current state, which already
    includes every later record of the batch, so a batch costs one Query per user.
    """

    def __init__(self, limit: int, expected: dict[str, dict[str, str]]) -> None:
        self.limit = limit
        self.expected = expected
        self.outcomes: dict[str, Exception | None] = {}
        self.archived: list[str] = []

    def run_for(self, user_id: str) -> None:
        if user_id not in self.outcomes:
            try:
                self.archived += enforce_retention(user_id, self.limit, self.expected.get(user_id))
                self.outcomes[user_id] = None
            except Exception as exc:
                self.outcomes[user_id] = exc
        failure = self.outcomes[user_id]
        if failure is not None:
            raise failure
