"""The photos table, and the writes that move a user's current photo with it.

Reads: one photo (consistent GetItem), the active ones (one Query of the sparse
`active-by-user` index), a page of the whole history or all of it (Queries of the base table),
a count. Writes: `register` (a new photo), `restore` (an archived one made active again),
`archive` (retention), `delete` (erasure); each a known number of requests. The writes of
the item's render state (the render lease, what a render learnt, the user's crop) are
`store.photo_renders`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from typing import Any

from pynamodb.exceptions import DeleteError, PynamoDBException, TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from profile_photos.crop import SOURCES, Crop
from profile_photos.errors import Conflict, DependencyUnavailable, NotFound
from profile_photos.store.grants import UPLOAD_COMPLETED, UPLOAD_NOT_FOUND
from profile_photos.store.models import (
    PhotoModel,
    UploadGrantModel,
    UserModel,
    transaction_connection,
)
from profile_photos.store.records import Photo
from profile_photos.store.users import claims_actions, pointer_actions, refused_by_condition

CONDITION_FAILED = "ConditionalCheckFailed"  # a cancellation reason inside a transaction
NOT_SAVED = "Photo metadata could not be saved"


def photo_record(item: PhotoModel) -> Photo:
    return Photo(
        user_id=item.user_id,
        asset_id=item.asset_id,
        bucket=item.bucket,
        file_key=item.file_key,
        file_name=item.file_name,
        content_type=item.content_type,
        size=int(item.size),
        sha256=item.sha256,
        asset_context=item.asset_context,
        uploaded_at=item.uploaded_at,
        active_sort_key=item.active_sort_key,
        archived=bool(item.archived),
        archived_at=item.archived_at,
        crop=_crop(item.crop_left, item.crop_top, item.crop_side, item.crop_source),
        crop_version=int(item.crop_version or 0),
        width=_int(item.width),
        height=_int(item.height),
        thumbhash=item.thumbhash,
        dominant_color=item.dominant_color,
    )


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _crop(left: Any, top: Any, side: Any, source: Any) -> Crop | None:
    if None in (left, top, side) or source not in SOURCES:
        return None
    return Crop(int(left), int(top), int(side), source)


def _item(photo: Photo) -> PhotoModel:
    return PhotoModel(
        photo.user_id,
        photo.asset_id,
        bucket=photo.bucket,
        file_key=photo.file_key,
        file_name=photo.file_name,
        content_type=photo.content_type,
        size=photo.size,
        sha256=photo.sha256,
        asset_context=photo.asset_context,
        uploaded_at=photo.uploaded_at,
        active_sort_key=photo.active_sort_key,
        archived=photo.archived,
        archived_at=photo.archived_at,
        crop_left=photo.crop.left if photo.crop else None,
        crop_top=photo.crop.top if photo.crop else None,
        crop_side=photo.crop.side if photo.crop else None,
        crop_source=photo.crop.source if photo.crop else None,
        crop_version=photo.crop_version or None,
        width=photo.width,
        height=photo.height,
        thumbhash=photo.thumbhash,
        dominant_color=photo.dominant_color,
    )


def get_photo(user_id: str, asset_id: str) -> Photo | None:
    """One consistent GetItem; None when the user has no such photo."""
    try:
        return photo_record(PhotoModel.get(user_id, asset_id, consistent_read=True))
    except PhotoModel.DoesNotExist:
        return None
    except PynamoDBException as exc:
        raise DependencyUnavailable("Photo could not be read") from exc


def active_photos(user_id: str) -> list[Photo]:
    """The user's active photos, newest first: one Query of the sparse index."""
    try:
        found = PhotoModel.active_by_user.query(user_id, scan_index_forward=False)
        return [photo_record(item) for item in found]
    except PynamoDBException as exc:
        raise DependencyUnavailable("Photos could not be read") from exc


def all_photos(user_id: str) -> Iterator[Photo]:
    """Every photo of the user, archived included (a Query of the base table)."""
    try:
        for item in PhotoModel.query(user_id, consistent_read=True):
            yield photo_record(item)
    except PynamoDBException as exc:
        raise DependencyUnavailable("Photos could not be read") from exc


def photos_after(user_id: str, limit: int, after: str | None) -> list[Photo]:
    """Up to `limit` photos whose assetId sorts after `after` (one Query, key order)."""
    start = {"userId": {"S": user_id}, "assetId": {"S": after}} if after is not None else None
    try:
        found = PhotoModel.query(
            user_id, consistent_read=True, limit=limit, last_evaluated_key=start
        )
        return [photo_record(item) for item in found]
    except PynamoDBException as exc:
        raise DependencyUnavailable("Photos could not be read") from exc


def count_photos(user_id: str) -> int:
    """How many photos the user has, archived included (a `Select=COUNT` Query: no items)."""
    try:
        return PhotoModel.count(user_id, consistent_read=True)
    except PynamoDBException as exc:
        raise DependencyUnavailable("Photos could not be read") from exc


def archive(photo: Photo, archived_at: str) -> bool:
    """Archive `photo` while it still carries the `activeSortKey` that was read; False when
    it changed since (restored or deleted: not ours to archive)."""
    try:
        _item(photo).update(
            actions=[
                PhotoModel.archived.set(True),
                PhotoModel.archived_at.set(archived_at),
                PhotoModel.active_sort_key.remove(),
                PhotoModel.retention_due.remove(),
            ],
            condition=PhotoModel.active_sort_key == photo.active_sort_key,
        )
    except UpdateError as exc:
        if refused_by_condition(exc):
            return False
        raise DependencyUnavailable("Photo could not be archived") from exc
    return True


def delete_photo(photo: Photo) -> None:
    try:
        _item(photo).delete()
    except DeleteError as exc:
        raise DependencyUnavailable("Photo could not be deleted, retry") from exc


def register(photo: Photo, username: str | None, now: str, upload_id: str | None = None) -> None:
    """Create the photo item, refresh the user from the token and make the photo current.

    With a direct upload's `upload_id`, the same transaction marks its grant completed, on
    condition that it exists and was not completed before: a grant registers at most one
    photo, whatever the races between retries (`NotFound`/`Conflict` otherwise).
    """
    _make_current(photo, username, now, None, upload_id)


def restore(photo: Photo, username: str | None, now: str) -> None:
    """Make an existing photo active (its new `activeSortKey`) and the user's current one."""
    if photo.active_sort_key is None:
        raise ValueError(f"photo {photo.asset_id} needs its new activeSortKey to be restored")
    actions = [
        PhotoModel.archived.set(False),
        PhotoModel.archived_at.remove(),
        PhotoModel.active_sort_key.set(photo.active_sort_key),
        PhotoModel.retention_due.set(True),
    ]
    _make_current(photo, username, now, actions, None)


def _make_current(
    photo: Photo,
    username: str | None,
    now: str,
    photo_actions: list[Any] | None,
    upload_id: str | None,
) -> None:
    """Write the photo (a new item, or `photo_actions` on an existing one) and make it the
    user's current photo, in one TransactWriteItems normally. The user update is conditional
    on the photo ranking newer (`activeSortKey`) than the user's current one, so with
    concurrent writes the newest always wins; when this photo loses that race it is still
    written (one more transaction) without moving the pointer. So: at most two round trips,
    and the user's claims are refreshed in the same transaction as the photo.
    """
    try:
        _write(photo, username, now, photo_actions, upload_id, make_current=True)
        return
    except TransactWriteError as exc:
        reasons = exc.cancellation_reasons or []
        photo_reason = reasons[0] if reasons else None
        user_reason = reasons[1] if len(reasons) > 1 else None
        _check_grant(reasons[2] if upload_id is not None and len(reasons) > 2 else None, exc)
        if photo_reason is not None and photo_reason.code == CONDITION_FAILED:
            if photo_actions is None:
                raise Conflict(f"Photo {photo.asset_id} already exists") from exc
            raise NotFound(f"Photo {photo.asset_id} not found") from exc
        if user_reason is None or user_reason.code != CONDITION_FAILED:
            raise DependencyUnavailable(NOT_SAVED) from exc
    except PynamoDBException as exc:
        raise DependencyUnavailable(NOT_SAVED) from exc
    try:
        _write(photo, username, now, photo_actions, upload_id, make_current=False)
    except TransactWriteError as exc:
        reasons = exc.cancellation_reasons or []
        _check_grant(reasons[2] if upload_id is not None and len(reasons) > 2 else None, exc)
        raise DependencyUnavailable(NOT_SAVED) from exc
    except PynamoDBException as exc:
        raise DependencyUnavailable(NOT_SAVED) from exc


def _check_grant(reason: Any, exc: Exception) -> None:
    """A refused grant condition: completed before (its old image came back), or gone."""
    if reason is None or reason.code != CONDITION_FAILED:
        return
    if reason.raw_item:
        raise Conflict(UPLOAD_COMPLETED) from exc
    raise NotFound(UPLOAD_NOT_FOUND) from exc


def _write(
    photo: Photo,
    username: str | None,
    now: str,
    photo_actions: list[Any] | None,
    upload_id: str | None,
    *,
    make_current: bool,
) -> None:
    actions = claims_actions(username, now)
    condition = None
    if make_current:
        actions += pointer_actions(photo)
        condition = UserModel.current_sort_key.does_not_exist() | (
            UserModel.current_sort_key < photo.active_sort_key
        )
    item = _item(photo)
    item.retention_due = True  # a new photo (a restore sets it in `photo_actions`)
    with TransactWrite(
        connection=transaction_connection(),
        client_request_token=_request_token(photo, photo_actions is None, make_current),
    ) as transaction:
        if photo_actions is None:
            transaction.save(item, condition=PhotoModel.asset_id.does_not_exist())
        else:
            transaction.update(item, actions=photo_actions, condition=PhotoModel.asset_id.exists())
        transaction.update(UserModel(photo.user_id), actions=actions, condition=condition)
        if upload_id is not None:
            transaction.update(
                UploadGrantModel(photo.user_id, upload_id),
                actions=[
                    UploadGrantModel.completed_at.set(now),
                    UploadGrantModel.asset_id.set(photo.asset_id),
                ],
                condition=UploadGrantModel.upload_id.exists()
                & UploadGrantModel.completed_at.does_not_exist(),
                return_values="ALL_OLD",
            )


def _request_token(photo: Photo, new: bool, make_current: bool) -> str:
    """The transaction's `ClientRequestToken`: the same for the same write, so a retry that
    botocore sends after a timeout or a dropped answer of a transaction that did commit
    succeeds again instead of failing its own conditions (DynamoDB remembers a token for 10
    minutes). Without it, such a retry read as "photo already exists" or "upload already
    completed", and the caller removed the file of a photo that was registered."""
    write = f"{photo.asset_id}:{'new' if new else 'restore'}:{int(make_current)}"
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{write}:{photo.active_sort_key}"))  # 36 chars


def photo_of_image(image: Mapping[str, Any]) -> Photo | None:
    """The photo a stream record's new image (deserialised) holds; None if it holds none."""
    try:
        return Photo(
            user_id=str(image["userId"]),
            asset_id=str(image["assetId"]),
            bucket=str(image["bucket"]),
            file_key=str(image["fileKey"]),
            file_name=str(image["fileName"]),
            content_type=str(image["contentType"]),
            size=int(image["size"]),
            sha256=str(image["sha256"]),
            asset_context=str(image["assetContext"]),
            uploaded_at=str(image["uploadedAt"]),
            active_sort_key=image.get("activeSortKey"),
            archived=bool(image.get("archived", False)),
            archived_at=image.get("archivedAt"),
            crop=_crop(
                image.get("cropLeft"),
                image.get("cropTop"),
                image.get("cropSide"),
                image.get("cropSource"),
            ),
            crop_version=int(image.get("cropVersion") or 0),
        )
    except (KeyError, TypeError, ValueError):
        return None
