"""The uploads table: one grant per direct upload (`upload-url`), completed at most once."""

from __future__ import annotations

from datetime import UTC, datetime

from pynamodb.exceptions import PynamoDBException, UpdateError

from profile_photos import crop as crops
from profile_photos.errors import Conflict, DependencyUnavailable, NotFound, ServiceError
from profile_photos.store.models import UploadGrantModel
from profile_photos.store.records import UploadGrant
from profile_photos.store.users import refused_by_condition

UPLOAD_NOT_FOUND = "Upload not found"
UPLOAD_COMPLETED = "Upload already completed"
UPLOAD_CLAIMED = (
    "Upload already being completed: wait for that answer, or start a new upload if it failed"
)


def grant_record(item: UploadGrantModel) -> UploadGrant:
    return UploadGrant(
        user_id=item.user_id,
        upload_id=item.upload_id,
        file_key=item.file_key,
        file_name=item.file_name,
        content_type=item.content_type,
        size=int(item.size),
        issued_at=int(item.issued_at),
        completed_at=item.completed_at,
        asset_id=item.asset_id,
        claimed_at=int(item.claimed_at) if item.claimed_at is not None else None,
        crop=crops.parse_field(item.crop) if item.crop else None,
    )


def save_grant(grant: UploadGrant, expires_at: int) -> None:
    """Create a direct-upload grant (one PutItem; its id is a fresh UUID), deleted by the
    table's TTL after `expires_at` (epoch seconds)."""
    item = UploadGrantModel(
        grant.user_id,
        grant.upload_id,
        file_key=grant.file_key,
        file_name=grant.file_name,
        content_type=grant.content_type,
        size=grant.size,
        issued_at=grant.issued_at,
        expires_at=datetime.fromtimestamp(expires_at, UTC),
        crop=f"{grant.crop.left},{grant.crop.top},{grant.crop.side}" if grant.crop else None,
    )
    try:
        item.save(condition=UploadGrantModel.upload_id.does_not_exist())
    except PynamoDBException as exc:
        raise DependencyUnavailable("Upload could not be prepared, retry") from exc


def find_grant(user_id: str, upload_id: str) -> UploadGrant | None:
    """The user's grant `upload_id` (one consistent GetItem), or None."""
    try:
        return grant_record(UploadGrantModel.get(user_id, upload_id, consistent_read=True))
    except UploadGrantModel.DoesNotExist:
        return None
    except PynamoDBException as exc:
        raise DependencyUnavailable("Upload could not be read") from exc


def user_grants(user_id: str) -> list[UploadGrant]:
    """Every direct-upload grant of the user (a Query: erasure only)."""
    try:
        return [
            grant_record(item) for item in UploadGrantModel.query(user_id, consistent_read=True)
        ]
    except PynamoDBException as exc:
        raise DependencyUnavailable("Uploads could not be read") from exc


def delete_grant(grant: UploadGrant) -> None:
    try:
        UploadGrantModel(grant.user_id, grant.upload_id).delete()
    except PynamoDBException as exc:
        raise DependencyUnavailable("Upload could not be deleted, retry") from exc


def taken(grant: UploadGrant | None, file_key: str) -> ServiceError | None:
    """Why `grant` can no longer take the file at `file_key`: not found (no grant for that
    key), completed, or claimed by a `complete`; None while it is open."""
    if grant is None or grant.file_key != file_key:
        return NotFound(UPLOAD_NOT_FOUND)
    if grant.completed_at is not None:
        return Conflict(UPLOAD_COMPLETED)
    if grant.claimed_at is not None:
        return Conflict(UPLOAD_CLAIMED)
    return None


def claim_grant(user_id: str, upload_id: str, file_key: str, now: int) -> UploadGrant:
    """Take the grant's staged file for one check: one conditional UpdateItem, on condition
    that the grant exists for `file_key`, is not completed and was not claimed before.

    Refused: `NotFound` (no such grant), `Conflict` (completed, or claimed by an earlier
    `complete` that is running, failed on the file, or timed out). A claim is given back
    only when a backing service failed (`release_grant`), so one grant makes the service
    decode its file once, however often `complete` is replayed. The grant as claimed.
    """
    item = UploadGrantModel(user_id, upload_id)
    try:
        item.update(
            actions=[UploadGrantModel.claimed_at.set(now)],
            condition=UploadGrantModel.upload_id.exists()
            & (UploadGrantModel.file_key == file_key)
            & UploadGrantModel.completed_at.does_not_exist()
            & UploadGrantModel.claimed_at.does_not_exist(),
        )
    except UpdateError as exc:
        if not refused_by_condition(exc):
            raise DependencyUnavailable("Upload could not be read") from exc
        raise taken(find_grant(user_id, upload_id), file_key) or Conflict(UPLOAD_CLAIMED) from exc
    except PynamoDBException as exc:
        raise DependencyUnavailable("Upload could not be read") from exc
    return grant_record(item)  # UpdateItem answered with the whole new item (ALL_NEW)


def release_grant(user_id: str, upload_id: str) -> bool:
    """Give a claim back (best effort: whether it was), so that `complete` can be retried
    after a backing service failed; a completed grant keeps its claim."""
    try:
        UploadGrantModel(user_id, upload_id).update(
            actions=[UploadGrantModel.claimed_at.remove()],
            condition=UploadGrantModel.upload_id.exists()
            & UploadGrantModel.completed_at.does_not_exist(),
        )
    except PynamoDBException:
        return False
    return True
