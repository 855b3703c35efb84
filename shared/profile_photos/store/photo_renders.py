"""The photo item's render state: the render lease, what a render learnt, the user's crop.

A photo's sizes and squares are made from its original and from a few attributes of its item
that only rendering and the crop change, each written by one conditional UpdateItem (and the
owner's item when the photo is their current one):

- the render lease (`claim_render`, `release_render`, `render_lease`): every render holds it
  while it reads the original and writes, so one request at a time makes a photo's sizes
  and erasure can wait for a render in flight (`profile_photos.renditions`);
- what a render learnt (`save_rendered`): the computed crop box when the photo had none, the
  upright size and the placeholders (ThumbHash, dominant colour), and the lease given back
  in the same write;
- the user's crop (`set_crop`): a new crop version, so new square keys.

None of these writes wakes retention (`retentionDue` removed) or rendering (which starts on
INSERT only). The photo's other writes (register, restore, archive, delete) and its reads are
`store.photos`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from pynamodb.exceptions import PynamoDBException, UpdateError
from pynamodb.expressions.update import Action

from profile_photos.crop import Crop
from profile_photos.errors import Conflict, DependencyUnavailable, NotFound
from profile_photos.store.models import PhotoModel, UserModel
from profile_photos.store.photos import NOT_SAVED, get_photo, photo_record
from profile_photos.store.records import Photo
from profile_photos.store.users import refused_by_condition

__all__ = ["claim_render", "release_render", "render_lease", "save_rendered", "set_crop"]


def claim_render(
    user_id: str, asset_id: str, now: int, until: int, *, unrendered: bool = False
) -> Photo | None:
    """Take the photo's render lease (`renderingUntil` = `until`, epoch seconds) unless a
    live one (later than `now`) is held: one conditional UpdateItem, which also tells that
    the photo exists and returns its item as it is now. The photo when taken; None when there
    is no such photo (one more consistent GetItem tells a missing photo from a held lease);
    `Conflict` when another request holds the lease or, with `unrendered`, when a render
    already finished (its placeholders are on the item: the stream's render after a view's,
    or a redelivered record)."""
    item = PhotoModel(user_id, asset_id)
    condition = PhotoModel.asset_id.exists() & (
        PhotoModel.rendering_until.does_not_exist() | (PhotoModel.rendering_until < now)
    )
    if unrendered:
        condition &= PhotoModel.thumbhash.does_not_exist()
    try:
        item.update(
            actions=[PhotoModel.rendering_until.set(until), PhotoModel.retention_due.remove()],
            condition=condition,
        )
    except UpdateError as exc:
        if not refused_by_condition(exc):
            raise DependencyUnavailable("Photo could not be read") from exc
        if get_photo(user_id, asset_id) is None:
            return None
        raise Conflict(f"Photo {asset_id} is being rendered (or is rendered)") from exc
    except PynamoDBException as exc:
        raise DependencyUnavailable("Photo could not be read") from exc
    return photo_record(item)


def release_render(user_id: str, asset_id: str, until: int) -> None:
    """Give the lease taken with `until` back, if it is still that one (a lease that expired
    and was taken by another request stays theirs; a deleted photo is not written again)."""
    try:
        PhotoModel(user_id, asset_id).update(
            actions=[PhotoModel.rendering_until.remove(), PhotoModel.retention_due.remove()],
            condition=PhotoModel.rendering_until == until,
        )
    except UpdateError as exc:
        if not refused_by_condition(exc):
            raise DependencyUnavailable("Photo could not be written") from exc
    except PynamoDBException as exc:
        raise DependencyUnavailable("Photo could not be written") from exc


def render_lease(user_id: str, asset_id: str) -> int | None:
    """Until when (epoch seconds) a request holds the photo's render lease, if one ever took
    it (None: never, or no such photo). One consistent GetItem."""
    try:
        item = PhotoModel.get(
            user_id,
            asset_id,
            consistent_read=True,
            attributes_to_get=[PhotoModel.rendering_until.attr_name],
        )
    except PhotoModel.DoesNotExist:
        return None
    except PynamoDBException as exc:
        raise DependencyUnavailable("Photo could not be read") from exc
    return None if item.rendering_until is None else int(item.rendering_until)


def save_rendered(
    photo: Photo,
    crop: Crop,
    width: int,
    height: int,
    thumbhash: str,
    color: str,
    *,
    lease: int | None = None,
) -> bool:
    """Write what rendering learnt of the photo (its crop box when it had none, upright size,
    placeholders) onto its item, and the placeholder onto its owner's item while it is their
    current photo; with `lease`, give back the render lease taken with it in the same write
    (a render's last write, so an upload's render costs no write of its own for the release).
    False when the photo is gone. Two conditional UpdateItems; neither wakes retention
    (`retentionDue` removed) nor rendering (which starts on INSERT only). Refused for another
    reason (a crop chosen meanwhile, a lease that ran out and is another request's), it is
    written again without that condition, and the lease given back on its own when it is
    still this one (`release_render`)."""
    actions: list[Action] = [
        PhotoModel.width.set(width),
        PhotoModel.height.set(height),
        PhotoModel.thumbhash.set(thumbhash),
        PhotoModel.dominant_color.set(color),
        PhotoModel.retention_due.remove(),
    ]
    condition = PhotoModel.asset_id.exists()
    if photo.crop is None:  # a crop chosen meanwhile (setProfilePhotoCrop) is kept
        actions += _crop_actions(crop)
        condition &= PhotoModel.crop_source.does_not_exist()
    if lease is not None:
        actions.append(PhotoModel.rendering_until.remove())
        condition &= PhotoModel.rendering_until == lease
    try:
        PhotoModel(photo.user_id, photo.asset_id).update(actions=actions, condition=condition)
    except UpdateError as exc:
        if not refused_by_condition(exc):
            raise DependencyUnavailable(NOT_SAVED) from exc
        if get_photo(photo.user_id, photo.asset_id) is None:
            return False
        if lease is not None:
            saved = save_rendered(photo, crop, width, height, thumbhash, color)
            release_render(photo.user_id, photo.asset_id, lease)
            return saved
        if photo.crop is None:
            return save_rendered(replace(photo, crop=crop), crop, width, height, thumbhash, color)
        return False
    except PynamoDBException as exc:
        raise DependencyUnavailable(NOT_SAVED) from exc
    _refresh_owner(
        photo.user_id,
        photo.asset_id,
        [UserModel.current_thumbhash.set(thumbhash), UserModel.current_color.set(color)],
    )
    return True


def set_crop(photo: Photo, crop: Crop) -> Photo:
    """Make `crop` the photo's crop box, as the next crop version, while the photo still has
    the version that was read (a concurrent change wins; `Conflict`); the owner's item
    follows when it is their current photo. `NotFound` when the photo is gone."""
    version = photo.crop_version + 1
    condition = PhotoModel.asset_id.exists() & (
        PhotoModel.crop_version == photo.crop_version
        if photo.crop_version
        else PhotoModel.crop_version.does_not_exist()
    )
    try:
        PhotoModel(photo.user_id, photo.asset_id).update(
            actions=[
                *_crop_actions(crop),
                PhotoModel.crop_version.set(version),
                PhotoModel.retention_due.remove(),
            ],
            condition=condition,
        )
    except UpdateError as exc:
        if not refused_by_condition(exc):
            raise DependencyUnavailable(NOT_SAVED) from exc
        if get_photo(photo.user_id, photo.asset_id) is None:
            raise NotFound(f"Photo {photo.asset_id} not found") from exc
        raise Conflict(f"Photo {photo.asset_id} crop changed meanwhile, retry") from exc
    except PynamoDBException as exc:
        raise DependencyUnavailable(NOT_SAVED) from exc
    _refresh_owner(photo.user_id, photo.asset_id, [UserModel.current_crop_version.set(version)])
    return replace(photo, crop=crop, crop_version=version)


def _crop_actions(crop: Crop) -> list[Any]:
    return [
        PhotoModel.crop_left.set(crop.left),
        PhotoModel.crop_top.set(crop.top),
        PhotoModel.crop_side.set(crop.side),
        PhotoModel.crop_source.set(crop.source),
    ]


def _refresh_owner(user_id: str, asset_id: str, actions: list[Any]) -> None:
    """Apply `actions` to the user's item while `asset_id` is their current photo."""
    try:
        UserModel(user_id).update(actions=actions, condition=UserModel.current_asset_id == asset_id)
    except UpdateError as exc:
        if not refused_by_condition(exc):
            raise DependencyUnavailable("User could not be updated") from exc
    except PynamoDBException as exc:
        raise DependencyUnavailable("User could not be updated") from exc
