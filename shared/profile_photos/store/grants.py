"""The uploads table: one grant per direct upload (`upload-url`), completed at most once."""

from __future__ import annotations

from datetime import UTC, datetime

from pynamodb.exceptions import PynamoDBException

from profile_photos.errors import DependencyUnavailable
from profile_photos.store.models import UploadGrantModel
from profile_photos.store.records import UploadGrant


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
