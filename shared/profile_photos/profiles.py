"""Profiles and the photo lifecycle: read a profile, list, restore, delete, erase, export.

Every operation acts on the caller's own photos only: the caller's user id is the photos
table's partition key in every read and write, so another user's photo is simply not found.
Costs: a profile is one GetItem (the current photo is denormalised on the user item); the
active photos are one Query of the sparse index; full history (export, erase) is a Query of
the base table, the only path that pays for archived photos.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from profile_photos import crop as crops
from profile_photos.auth import Identity
from profile_photos.errors import Conflict, NotFound, ValidationFailed
from profile_photos.observability import logger
from profile_photos.renditions import await_renders, rendition_keys, square_keys
from profile_photos.store import grants, photo_renders, photos, users
from profile_photos.store.cdn import Cdn, PurgeReceipt, photo_paths, user_paths
from profile_photos.store.records import Photo, User
from profile_photos.store.storage import USER_ASSETS, Storage
from profile_photos.times import iso_ms

ASSET_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclass(frozen=True, slots=True)
class Erasure:
    deleted_asset_ids: list[str]
    current: Photo | None
    purge: PurgeReceipt  # what was done so that no cache serves the erased photos


@dataclass(frozen=True, slots=True)
class PhotoPage:
    """One page of a user's full history, in the base table's key order (assetId)."""

    items: list[Photo]
    more: bool  # another page follows the last item


def get_user(user_id: str) -> User | None:
    """One GetItem; None for an id never seen."""
    return users.get_user(user_id)


def current_photo(user: User) -> Photo | None:
    """The user's current photo (one GetItem), or None."""
    if not user.current_asset_id:
        return None
    return photos.get_photo(user.id, user.current_asset_id)


def checked_asset_id(asset_id: str) -> str:
    """ValidationFailed for an `assetId` that is not a UUID (no read is made for it)."""
    if not ASSET_ID.fullmatch(asset_id):
        raise ValidationFailed(f"assetId must be a UUID, got {asset_id[:64]!r}")
    return asset_id


def owned_photo(user_id: str, asset_id: str) -> Photo:
    """The caller's photo `asset_id`; another user's photo is simply not found."""
    photo = photos.get_photo(user_id, checked_asset_id(asset_id))
    if photo is None:
        raise NotFound(f"Photo {asset_id} not found")
    return photo


def active_photos(user_id: str) -> list[Photo]:
    """The user's active photos, newest first (one Query of the sparse index)."""
    return photos.active_photos(user_id)


def photos_page(user_id: str, limit: int, after: str | None = None) -> PhotoPage:
    """Up to `limit` photos of the user, archived included, whose assetId sorts after `after`.

    One Query of the base table (`Limit` = limit + 1, `ExclusiveStartKey` from `after`): the
    extra item only tells whether another page exists, so the last page is never followed by
    an empty one. Key order is stable under concurrent uploads and deletions: a photo present
    for the whole walk appears exactly once. `after` need not exist any more.
    """
    if limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit}")
    found = photos.photos_after(user_id, limit + 1, after)
    return PhotoPage(found[:limit], len(found) > limit)


def count_photos(user_id: str) -> int:
    """How many photos the user has, archived included (no items are read)."""
    return photos.count_photos(user_id)


def restore_photo(identity: Identity, asset_id: str, now: datetime | None = None) -> Photo:
    """Make a photo active and the user's current one; retention then archives the oldest.

    Its `activeSortKey` becomes the restore time, so retention ranks it newest. Restoring a
    photo that is already active just makes it current again.
    """
    photo = owned_photo(identity.user_id, asset_id)
    stamp = iso_ms(now or datetime.now(UTC))
    restored = replace(
        photo, archived=False, archived_at=None, active_sort_key=f"{stamp}#{asset_id}"
    )
    photos.restore(restored, identity.username, stamp)
    return restored


def set_crop(
    identity: Identity, asset_id: str, crop: crops.Crop, storage: Storage, cdn: Cdn
) -> Photo:
    """Make `crop` (the user's, in upright pixels) the photo's crop box. Checked against the
    photo's upright size, which its renditions wrote (a photo seconds old has none yet:
    `Conflict`, retry). The new crop version names new square keys, so every square URL the
    API hands out from now on differs from those before; the old squares are then removed
    (the renditions are remade on the first view of a new square URL) and purged from the CDN
    (old square URLs stay valid until their token expires: a CDN must not keep serving them)."""
    photo = owned_photo(identity.user_id, asset_id)
    if photo.width is None or photo.height is None:
        raise Conflict(f"Photo {asset_id} is still being processed; set its crop in a few seconds")
    problem = crops.problem(crop, photo.width, photo.height)
    if problem is not None:
        raise ValidationFailed(problem)
    changed = photo_renders.set_crop(photo, replace(crop, source="USER"))
    for key in square_keys(photo, range(changed.crop_version)):  # every older crop's
        storage.delete(photo.bucket, key)
    cdn.purge(photo_paths(photo.bucket, photo.user_id, photo.asset_id))
    _audit("PhotoCropped", [asset_id])
    return changed


def delete_photo(identity: Identity, asset_id: str, storage: Storage, cdn: Cdn) -> Erasure:
    """GDPR erasure of one photo: the current pointer moves off it first (so no failure
    half way leaves the user pointing at erased bytes), then the caller's staged direct
    uploads go (they hold file names and unregistered bytes), then the photo's files, the
    CDN's copies of them, and its item last: whichever step fails, the retry finds the
    photo, finishes and reports it. Once this answers, every URL of the photo is 404 at
    the origin and purged from the CDN."""
    photo = owned_photo(identity.user_id, asset_id)
    current = _repoint_if_current(identity.user_id, {asset_id})
    _erase_staged_uploads(identity.user_id, storage)
    _erase_files([photo], storage)
    purge = cdn.purge(photo_paths(photo.bucket, photo.user_id, photo.asset_id))
    photos.delete_photo(photo)
    _audit("PhotoErased", [asset_id])
    return Erasure([asset_id], current, purge)


def delete_all_photos(identity: Identity, storage: Storage, cdn: Cdn) -> Erasure:
    """GDPR erasure of every photo of the caller, archived included, and of their staged
    direct uploads. Idempotency records hold no personal data (see `api.idempotency`).
    The pointer is cleared before any photo goes, so a retry after a failure half way
    finds the photos left and erases them, and never a pointer to an erased one. Every
    file goes first, then one CDN purge of the user's whole prefix (CloudFront allows few
    wildcard invalidations in flight: one per erasure, not one per photo), then the items."""
    _erase_staged_uploads(identity.user_id, storage)
    found = list(all_photos(identity.user_id))
    _repoint_if_current(identity.user_id, {photo.asset_id for photo in found}, clear=True)
    _erase_files(found, storage)
    paths = user_paths(USER_ASSETS, identity.user_id) if found else []
    purge = cdn.purge(paths)
    deleted = []
    for photo in found:
        photos.delete_photo(photo)
        deleted.append(photo.asset_id)
    _audit("AllPhotosErased", deleted)
    return Erasure(deleted, None, purge)


def all_photos(user_id: str) -> Iterator[Photo]:
    """Every photo of the user, archived included."""
    return photos.all_photos(user_id)


def _erase_files(erased: list[Photo], storage: Storage) -> None:
    """Every file of the photos, none left once this returns; their items go after them (and
    after the CDN purge). Deletes are idempotent and the item is what a retry finds, so a
    failure at any step leaves the photo to be found, and the retry deletes whatever is left
    and reports the photo: no file ever outlives its item.

    A render in flight is fenced by its render lease (`renditions`, "Erasure"): every
    original goes first, then the renditions, then the leases are read (one consistent
    GetItem a photo); while a render holds one, this waits (`renditions.await_renders`:
    until it is given back, 11 s at most for all the photos together) and then deletes that
    photo's renditions again. A render that claims the lease after that read reads the
    original after its delete and writes nothing; one that outlives its lease (a render
    over 10 s; a 12 MP JPEG takes ~0.4 s here, a 100 MP RGBA PNG ~3 s, ~5 s at the
    renditions function's share of a CPU) is not waited for, and only its own check of the
    original removes its files."""
    for photo in erased:
        storage.delete(photo.bucket, photo.file_key)
    for photo in erased:
        _erase_renditions(photo, storage)
    for photo in await_renders(erased):
        _erase_renditions(photo, storage)


def _erase_renditions(photo: Photo, storage: Storage) -> None:
    for key in rendition_keys(photo):
        storage.delete(photo.bucket, key)


def _erase_staged_uploads(user_id: str, storage: Storage) -> None:
    """Every direct-upload grant of the user, and its staged object (bytes first)."""
    for grant in grants.user_grants(user_id):
        storage.delete(USER_ASSETS, grant.file_key)
        grants.delete_grant(grant)


def _repoint_if_current(user_id: str, removed: set[str], *, clear: bool = False) -> Photo | None:
    """Move the user's current photo off the photos being `removed`, to the newest other
    active one (or clear it), only if nobody made another photo current meanwhile (a
    concurrent upload)."""
    user = users.get_user(user_id)
    if user is None or user.current_asset_id not in removed:
        return None
    remaining = (p for p in photos.active_photos(user_id) if p.asset_id not in removed)
    successor = None if clear else next(remaining, None)
    users.repoint(user_id, user.current_asset_id, successor)
    return successor


def _audit(event: str, asset_ids: list[str]) -> None:
    """An audit trail entry without personal data: what happened, how many, which assets."""
    logger.info(event, extra={"audit": event, "count": len(asset_ids), "assetIds": asset_ids})
