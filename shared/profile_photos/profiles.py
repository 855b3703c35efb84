"""Profiles and the photo lifecycle: read a profile, list, restore, delete, erase, export.

Every operation acts on the caller's own photos only: the caller's user id is the photos
table's partition key in every read and write, so another user's photo is simply not found.
Costs: a profile is one GetItem (the current photo is denormalised on the user item); the
active photos are one Query of the sparse index; full history (export, erase) is a Query of
the base table, the only path that pays for archived photos.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from pynamodb.exceptions import DeleteError, PynamoDBException, UpdateError

from profile_photos.auth import Identity
from profile_photos.errors import DependencyUnavailable, NotFound, ValidationFailed
from profile_photos.models import PhotoModel, UserModel
from profile_photos.observability import logger
from profile_photos.repository import (
    CONDITION_FAILED_CODE,
    delete_grant,
    make_current,
    user_grants,
)
from profile_photos.retention import active_photos
from profile_photos.storage import USER_ASSETS, Storage
from profile_photos.times import iso_ms

ASSET_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
USER_REFRESH_SECONDS = 300
_recent_refresh: dict[str, tuple[str | None, float]] = {}


@dataclass(frozen=True, slots=True)
class Erasure:
    deleted_asset_ids: list[str]
    current: PhotoModel | None


def refresh_user(identity: Identity, now: datetime | None = None) -> None:
    """Create or refresh the caller's user item from the token's claims (one UpdateItem).

    A warm container skips the write when it stored the same claims for this user in the
    last five minutes: the item cannot be more current than that.
    """
    seen = _recent_refresh.get(identity.user_id)
    if seen and seen[0] == identity.username and time.monotonic() - seen[1] < USER_REFRESH_SECONDS:
        return
    stamp = iso_ms(now or datetime.now(UTC))
    actions = [
        UserModel.created_at.set(UserModel.created_at | stamp),
        UserModel.updated_at.set(stamp),
    ]
    if identity.username is not None:
        actions.append(UserModel.username.set(identity.username))
    try:
        UserModel(identity.user_id).update(actions=actions)
    except PynamoDBException as exc:
        raise DependencyUnavailable("User could not be saved") from exc
    _recent_refresh[identity.user_id] = (identity.username, time.monotonic())


def get_user(user_id: str) -> UserModel | None:
    """One GetItem; None for an id never seen."""
    try:
        return UserModel.get(user_id)
    except UserModel.DoesNotExist:
        return None
    except PynamoDBException as exc:
        raise DependencyUnavailable("User could not be read") from exc


def current_photo(user: UserModel) -> PhotoModel | None:
    """The user's current photo item (one GetItem), or None."""
    if not user.current_asset_id:
        return None
    try:
        return _get_photo(user.id, user.current_asset_id)
    except NotFound:
        return None


def _get_photo(user_id: str, asset_id: str) -> PhotoModel:
    if not ASSET_ID.fullmatch(asset_id):
        raise ValidationFailed(f"assetId must be a UUID, got {asset_id[:64]!r}")
    try:
        return PhotoModel.get(user_id, asset_id, consistent_read=True)
    except PhotoModel.DoesNotExist:
        raise NotFound(f"Photo {asset_id} not found") from None
    except PynamoDBException as exc:
        raise DependencyUnavailable("Photo could not be read") from exc


def all_photos(user_id: str) -> Iterator[PhotoModel]:
    """Every photo of the user, archived included (a Query of the base table)."""
    try:
        yield from PhotoModel.query(user_id, consistent_read=True)
    except PynamoDBException as exc:
        raise DependencyUnavailable("Photos could not be read") from exc


@dataclass(frozen=True, slots=True)
class PhotoPage:
    """One page of a user's full history, in the base table's key order (assetId)."""

    items: list[PhotoModel]
    more: bool  # another page follows the last item


def photos_page(user_id: str, limit: int, after: str | None = None) -> PhotoPage:
    """Up to `limit` photos of the user, archived included, whose assetId sorts after `after`.

    One Query of the base table (`Limit` = limit + 1, `ExclusiveStartKey` from `after`): the
    extra item only tells whether another page exists, so the last page is never followed by
    an empty one. Key order is stable under concurrent uploads and deletions: a photo present
    for the whole walk appears exactly once. `after` need not exist any more.
    """
    if limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit}")
    start = {"userId": {"S": user_id}, "assetId": {"S": after}} if after is not None else None
    try:
        found = list(
            PhotoModel.query(
                user_id, consistent_read=True, limit=limit + 1, last_evaluated_key=start
            )
        )
    except PynamoDBException as exc:
        raise DependencyUnavailable("Photos could not be read") from exc
    return PhotoPage(found[:limit], len(found) > limit)


def count_photos(user_id: str) -> int:
    """How many photos the user has, archived included (a `Select=COUNT` Query: no items)."""
    try:
        return PhotoModel.count(user_id, consistent_read=True)
    except PynamoDBException as exc:
        raise DependencyUnavailable("Photos could not be read") from exc


def restore_photo(identity: Identity, asset_id: str, now: datetime | None = None) -> PhotoModel:
    """Make a photo active and the user's current one; retention then archives the oldest.

    Its `activeSortKey` becomes the restore time, so retention ranks it newest. Restoring a
    photo that is already active just makes it current again.
    """
    photo = _get_photo(identity.user_id, asset_id)
    stamp = iso_ms(now or datetime.now(UTC))
    photo.archived = False
    photo.archived_at = None
    photo.active_sort_key = f"{stamp}#{asset_id}"
    make_current(
        photo,
        identity,
        stamp,
        photo_actions=[
            PhotoModel.archived.set(False),
            PhotoModel.archived_at.remove(),
            PhotoModel.active_sort_key.set(photo.active_sort_key),
        ],
    )
    return photo


def delete_photo(identity: Identity, asset_id: str, storage: Storage) -> Erasure:
    """GDPR erasure of one photo: bytes first, then metadata, then the current pointer; the
    caller's staged direct uploads go too (they hold file names and unregistered bytes)."""
    photo = _get_photo(identity.user_id, asset_id)
    _erase(photo, storage)
    _erase_staged_uploads(identity.user_id, storage)
    current = _repoint_if_current(identity.user_id, {asset_id})
    _audit("PhotoErased", [asset_id])
    return Erasure([asset_id], current)


def delete_all_photos(identity: Identity, storage: Storage) -> Erasure:
    """GDPR erasure of every photo of the caller, archived included, and of their staged
    direct uploads. Idempotency records hold no personal data (see `idempotency`)."""
    _erase_staged_uploads(identity.user_id, storage)
    deleted = []
    for photo in list(all_photos(identity.user_id)):
        _erase(photo, storage)
        deleted.append(photo.asset_id)
    _repoint_if_current(identity.user_id, set(deleted), clear=True)
    _audit("AllPhotosErased", deleted)
    return Erasure(deleted, None)


def _erase(photo: PhotoModel, storage: Storage) -> None:
    storage.delete(photo.bucket, photo.file_key)  # bytes first: never metadata without bytes
    try:
        photo.delete()
    except DeleteError as exc:
        raise DependencyUnavailable("Photo could not be deleted, retry") from exc


def _erase_staged_uploads(user_id: str, storage: Storage) -> None:
    """Every direct-upload grant of the user, and its staged object (bytes first)."""
    for grant in user_grants(user_id):
        storage.delete(USER_ASSETS, grant.file_key)
        delete_grant(grant)


def _repoint_if_current(
    user_id: str, removed: set[str], *, clear: bool = False
) -> PhotoModel | None:
    """Move the user's current photo to the newest remaining active one (or clear it)."""
    user = get_user(user_id)
    if user is None or user.current_asset_id not in removed:
        return None
    successor = None if clear else next(iter(active_photos(user_id)), None)
    if successor is None:
        actions = [
            UserModel.current_asset_id.remove(),
            UserModel.current_bucket.remove(),
            UserModel.current_file_key.remove(),
            UserModel.current_uploaded_at.remove(),
            UserModel.current_sort_key.remove(),
        ]
    else:
        actions = [
            UserModel.current_asset_id.set(successor.asset_id),
            UserModel.current_bucket.set(successor.bucket),
            UserModel.current_file_key.set(successor.file_key),
            UserModel.current_uploaded_at.set(successor.uploaded_at),
            UserModel.current_sort_key.set(successor.active_sort_key),
        ]
    try:
        # only if nobody made another photo current meanwhile (a concurrent upload)
        user.update(actions=actions, condition=UserModel.current_asset_id == user.current_asset_id)
    except UpdateError as exc:
        if exc.cause_response_code != CONDITION_FAILED_CODE:
            raise DependencyUnavailable("User could not be updated") from exc
    return successor


def _audit(event: str, asset_ids: list[str]) -> None:
    """An audit trail entry without personal data: what happened, how many, which assets."""
    logger.info(event, extra={"audit": event, "count": len(asset_ids), "assetIds": asset_ids})
