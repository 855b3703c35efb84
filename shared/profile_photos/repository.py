"""DynamoDB writes that move a user's current photo, each a known number of requests."""

from __future__ import annotations

from typing import Any

from pynamodb.exceptions import PynamoDBException, TransactWriteError
from pynamodb.transactions import TransactWrite

from profile_photos.auth import Identity
from profile_photos.errors import Conflict, DependencyUnavailable, NotFound
from profile_photos.models import PhotoModel, UserModel, transaction_connection

CONDITION_FAILED = "ConditionalCheckFailed"  # a cancellation reason inside a transaction
CONDITION_FAILED_CODE = "ConditionalCheckFailedException"  # a single write's error code


def register_photo(photo: PhotoModel, identity: Identity, now: str) -> None:
    """Create the photo item, refresh the user from the token and make the photo current."""
    make_current(photo, identity, now)


def make_current(
    photo: PhotoModel, identity: Identity, now: str, photo_actions: list[Any] | None = None
) -> None:
    """Write `photo` (create it, or apply `photo_actions` to it) and point the user at it.

    One TransactWriteItems normally. The user update is conditional on the photo ranking
    newer (`activeSortKey`) than the user's current one, so with concurrent writes the newest
    always wins; when this photo loses that race it is still written (one more transaction)
    without moving the pointer. So: at most two round trips, and the user's claims are
    refreshed in the same transaction as the photo.
    """
    try:
        _write(photo, identity, now, photo_actions, make_current=True)
        return
    except TransactWriteError as exc:
        reasons = exc.cancellation_reasons or []
        photo_reason = reasons[0] if reasons else None
        user_reason = reasons[1] if len(reasons) > 1 else None
        if photo_reason is not None and photo_reason.code == CONDITION_FAILED:
            if photo_actions is None:
                raise Conflict(f"Photo {photo.asset_id} already exists") from exc
            raise NotFound(f"Photo {photo.asset_id} not found") from exc
        if user_reason is None or user_reason.code != CONDITION_FAILED:
            raise DependencyUnavailable("Photo metadata could not be saved") from exc
    except PynamoDBException as exc:
        raise DependencyUnavailable("Photo metadata could not be saved") from exc
    try:
        _write(photo, identity, now, photo_actions, make_current=False)
    except PynamoDBException as exc:
        raise DependencyUnavailable("Photo metadata could not be saved") from exc


def _write(
    photo: PhotoModel,
    identity: Identity,
    now: str,
    photo_actions: list[Any] | None,
    *,
    make_current: bool,
) -> None:
    actions = [
        UserModel.created_at.set(UserModel.created_at | now),
        UserModel.updated_at.set(now),
    ]
    if identity.username is not None:
        actions.append(UserModel.username.set(identity.username))
    condition = None
    if make_current:
        actions += [
            UserModel.current_asset_id.set(photo.asset_id),
            UserModel.current_bucket.set(photo.bucket),
            UserModel.current_file_key.set(photo.file_key),
            UserModel.current_uploaded_at.set(photo.uploaded_at),
            UserModel.current_sort_key.set(photo.active_sort_key),
        ]
        condition = UserModel.current_sort_key.does_not_exist() | (
            UserModel.current_sort_key < photo.active_sort_key
        )
    with TransactWrite(connection=transaction_connection()) as transaction:
        if photo_actions is None:
            transaction.save(photo, condition=PhotoModel.asset_id.does_not_exist())
        else:
            transaction.update(photo, actions=photo_actions, condition=PhotoModel.asset_id.exists())
        transaction.update(UserModel(identity.user_id), actions=actions, condition=condition)
