"""DynamoDB writes that move a user's current photo, each a known number of requests."""

from __future__ import annotations

from typing import Any

from pynamodb.exceptions import PynamoDBException, TransactWriteError
from pynamodb.transactions import TransactWrite

from profile_photos.auth import Identity
from profile_photos.errors import Conflict, DependencyUnavailable, NotFound
from profile_photos.models import PhotoModel, UploadGrantModel, UserModel, transaction_connection

CONDITION_FAILED = "ConditionalCheckFailed"  # a cancellation reason inside a transaction
CONDITION_FAILED_CODE = "ConditionalCheckFailedException"  # a single write's error code
UPLOAD_NOT_FOUND = "Upload not found"
UPLOAD_COMPLETED = "Upload already completed"


def register_photo(
    photo: PhotoModel, identity: Identity, now: str, grant: UploadGrantModel | None = None
) -> None:
    """Create the photo item, refresh the user from the token and make the photo current.

    With a direct upload's `grant`, the same transaction marks the grant completed, on
    condition that it exists and was not completed before: a grant registers at most one
    photo, whatever the races between retries (`NotFound`/`Conflict` otherwise).
    """
    make_current(photo, identity, now, grant=grant)


def make_current(
    photo: PhotoModel,
    identity: Identity,
    now: str,
    photo_actions: list[Any] | None = None,
    grant: UploadGrantModel | None = None,
) -> None:
    """Write `photo` (create it, or apply `photo_actions` to it) and point the user at it.

    One TransactWriteItems normally. The user update is conditional on the photo ranking
    newer (`activeSortKey`) than the user's current one, so with concurrent writes the newest
    always wins; when this photo loses that race it is still written (one more transaction)
    without moving the pointer. So: at most two round trips, and the user's claims are
    refreshed in the same transaction as the photo.
    """
    try:
        _write(photo, identity, now, photo_actions, grant, make_current=True)
        return
    except TransactWriteError as exc:
        reasons = exc.cancellation_reasons or []
        photo_reason = reasons[0] if reasons else None
        user_reason = reasons[1] if len(reasons) > 1 else None
        _check_grant(reasons[2] if grant is not None and len(reasons) > 2 else None, exc)
        if photo_reason is not None and photo_reason.code == CONDITION_FAILED:
            if photo_actions is None:
                raise Conflict(f"Photo {photo.asset_id} already exists") from exc
            raise NotFound(f"Photo {photo.asset_id} not found") from exc
        if user_reason is None or user_reason.code != CONDITION_FAILED:
            raise DependencyUnavailable("Photo metadata could not be saved") from exc
    except PynamoDBException as exc:
        raise DependencyUnavailable("Photo metadata could not be saved") from exc
    try:
        _write(photo, identity, now, photo_actions, grant, make_current=False)
    except TransactWriteError as exc:
        reasons = exc.cancellation_reasons or []
        _check_grant(reasons[2] if grant is not None and len(reasons) > 2 else None, exc)
        raise DependencyUnavailable("Photo metadata could not be saved") from exc
    except PynamoDBException as exc:
        raise DependencyUnavailable("Photo metadata could not be saved") from exc


def _check_grant(reason: Any, exc: Exception) -> None:
    """A refused grant condition: completed before (its old image came back), or gone."""
    if reason is None or reason.code != CONDITION_FAILED:
        return
    if reason.raw_item:
        raise Conflict(UPLOAD_COMPLETED) from exc
    raise NotFound(UPLOAD_NOT_FOUND) from exc


def _write(
    photo: PhotoModel,
    identity: Identity,
    now: str,
    photo_actions: list[Any] | None,
    grant: UploadGrantModel | None,
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
        if grant is not None:
            transaction.update(
                grant,
                actions=[
                    UploadGrantModel.completed_at.set(now),
                    UploadGrantModel.asset_id.set(photo.asset_id),
                ],
                condition=UploadGrantModel.upload_id.exists()
                & UploadGrantModel.completed_at.does_not_exist(),
                return_values="ALL_OLD",
            )


def save_grant(grant: UploadGrantModel) -> None:
    """Create a direct-upload grant (one PutItem; its id is a fresh UUID)."""
    try:
        grant.save(condition=UploadGrantModel.upload_id.does_not_exist())
    except PynamoDBException as exc:
        raise DependencyUnavailable("Upload could not be prepared, retry") from exc


def find_grant(user_id: str, upload_id: str) -> UploadGrantModel | None:
    """The user's grant `upload_id` (one consistent GetItem), or None."""
    try:
        return UploadGrantModel.get(user_id, upload_id, consistent_read=True)
    except UploadGrantModel.DoesNotExist:
        return None
    except PynamoDBException as exc:
        raise DependencyUnavailable("Upload could not be read") from exc


def user_grants(user_id: str) -> list[UploadGrantModel]:
    """Every direct-upload grant of the user (a Query: erasure only)."""
    try:
        return list(UploadGrantModel.query(user_id, consistent_read=True))
    except PynamoDBException as exc:
        raise DependencyUnavailable("Uploads could not be read") from exc


def delete_grant(grant: UploadGrantModel) -> None:
    try:
        grant.delete()
    except PynamoDBException as exc:
        raise DependencyUnavailable("Upload could not be deleted, retry") from exc
