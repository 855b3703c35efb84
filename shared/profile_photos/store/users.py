"""The users table: one item per user, with their current photo denormalised onto it.

Two kinds of write touch a user item, each built here once: the token's claims
(`claims_actions`: `createdAt` once, `updatedAt`, `username`) and the current-photo pointer
(`pointer_actions`: the `current*` attributes, set from a photo or removed).
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError
from pynamodb.exceptions import PynamoDBException, UpdateError

from profile_photos.errors import DependencyUnavailable
from profile_photos.store.models import UserModel
from profile_photos.store.records import Photo, User

CONDITION_FAILED_CODE = "ConditionalCheckFailedException"  # a single write's error code


def refused_by_condition(exc: PynamoDBException) -> bool:
    """Whether a single write failed on its condition. (pynamodb's `cause_response_code`
    fails itself on a read timeout or a closed connection, whose `response` is None.)"""
    cause = exc.cause
    if not isinstance(cause, ClientError):
        return False
    return cause.response.get("Error", {}).get("Code") == CONDITION_FAILED_CODE


def user_record(item: UserModel) -> User:
    return User(
        id=item.id,
        username=item.username,
        created_at=item.created_at,
        updated_at=item.updated_at,
        current_asset_id=item.current_asset_id,
        current_bucket=item.current_bucket,
        current_file_key=item.current_file_key,
        current_uploaded_at=item.current_uploaded_at,
        current_sort_key=item.current_sort_key,
        current_crop_version=int(item.current_crop_version or 0),
        current_thumbhash=item.current_thumbhash,
        current_color=item.current_color,
    )


def claims_actions(username: str | None, now: str) -> list[Any]:
    """Create or refresh a user item from a token's claims."""
    actions = [UserModel.created_at.set(UserModel.created_at | now), UserModel.updated_at.set(now)]
    if username is not None:
        actions.append(UserModel.username.set(username))
    return actions


def pointer_actions(photo: Photo | None) -> list[Any]:
    """Make `photo` the user's current photo, or (None) clear the pointer."""
    if photo is None:
        return [
            UserModel.current_asset_id.remove(),
            UserModel.current_bucket.remove(),
            UserModel.current_file_key.remove(),
            UserModel.current_uploaded_at.remove(),
            UserModel.current_sort_key.remove(),
            UserModel.current_crop_version.remove(),
            UserModel.current_thumbhash.remove(),
            UserModel.current_color.remove(),
        ]
    if photo.active_sort_key is None:
        raise ValueError(f"photo {photo.asset_id} is archived: it cannot be current")
    actions = [
        UserModel.current_asset_id.set(photo.asset_id),
        UserModel.current_bucket.set(photo.bucket),
        UserModel.current_file_key.set(photo.file_key),
        UserModel.current_uploaded_at.set(photo.uploaded_at),
        UserModel.current_sort_key.set(photo.active_sort_key),
    ]
    # what a profile shows of the photo beside its URL: set when known, else removed, so a
    # new current photo never shows the previous one's placeholder
    version = UserModel.current_crop_version
    actions.append(version.set(photo.crop_version) if photo.crop_version else version.remove())
    for attribute, value in (
        (UserModel.current_thumbhash, photo.thumbhash),
        (UserModel.current_color, photo.dominant_color),
    ):
        actions.append(attribute.set(value) if value is not None else attribute.remove())
    return actions


def get_user(user_id: str) -> User | None:
    """One GetItem; None for an id never seen."""
    try:
        return user_record(UserModel.get(user_id))
    except UserModel.DoesNotExist:
        return None
    except PynamoDBException as exc:
        raise DependencyUnavailable("User could not be read") from exc


def save_claims(user_id: str, username: str | None, now: str) -> None:
    """Create or refresh the user item from the token's claims (one UpdateItem)."""
    try:
        UserModel(user_id).update(actions=claims_actions(username, now))
    except PynamoDBException as exc:
        raise DependencyUnavailable("User could not be saved") from exc


def repoint(user_id: str, expected_asset_id: str | None, successor: Photo | None) -> bool:
    """Move the user's current photo to `successor` (None: clear it), only while it is still
    `expected_asset_id` (a concurrent upload wins). False when that condition refused it."""
    try:
        UserModel(user_id).update(
            actions=pointer_actions(successor),
            condition=UserModel.current_asset_id == expected_asset_id,
        )
    except UpdateError as exc:
        if not refused_by_condition(exc):
            raise DependencyUnavailable("User could not be updated") from exc
        return False
    return True
