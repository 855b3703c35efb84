"""PynamoDB models for the photos, users, rate-limits and uploads tables.

Photos: one item per photo, key (`userId`, `assetId`). Active photos carry `activeSortKey`
(`<activeSince>#<assetId>`, ISO-8601 so it sorts by time, the asset id breaking ties) and so
appear in the sparse `active-by-user` index; archiving removes that attribute, which keeps
archived history out of every active read however long it grows. Users: one item per user
with the current photo denormalised onto it, so reading a profile is one GetItem.

Uploads: one item per direct-upload grant (`upload-url`), key (`userId`, `uploadId`), so that
a grant registers at most one photo: `complete` sets `completedAt` in the same transaction that
registers the photo, on condition that it is not set yet. Erasure deletes a user's grants.

Table names come from settings: `bind_tables()` points the models at them, once, when the
composition root (`profile_photos.services`) is built (through `store.tables`, so that the
models are imported only where a table is read or written; when they are imported later,
they bind themselves to what was bound there). Only the store's modules use these
models; the domain receives `store.records`. Every model and connection has the timeouts of
`store.aws.DYNAMODB` and uses the container's one botocore session (`store.aws`).
"""

from __future__ import annotations

import functools

from pynamodb.attributes import (
    BooleanAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
)
from pynamodb.connection import Connection, TableConnection
from pynamodb.connection.base import MetaTable
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from profile_photos.settings import Settings
from profile_photos.store import tables
from profile_photos.store.aws import DynamoDBMeta, connection_options, share_session

ACTIVE_INDEX = "active-by-user"

share_session()


class ActiveByUserIndex(GlobalSecondaryIndex["PhotoModel"]):  # type: ignore[no-untyped-call]
    """Active photos of one user, ordered by `activeSortKey` (sparse: archived are absent)."""

    class Meta:
        index_name = ACTIVE_INDEX
        projection = AllProjection()

    user_id = UnicodeAttribute(hash_key=True, attr_name="userId")
    active_sort_key = UnicodeAttribute(range_key=True, attr_name="activeSortKey")


class PhotoModel(Model):
    class Meta(DynamoDBMeta):
        table_name = "profile-photos-photos"

    user_id = UnicodeAttribute(hash_key=True, attr_name="userId")
    asset_id = UnicodeAttribute(range_key=True, attr_name="assetId")
    bucket = UnicodeAttribute()
    file_key = UnicodeAttribute(attr_name="fileKey")
    file_name = UnicodeAttribute(attr_name="fileName")
    content_type = UnicodeAttribute(attr_name="contentType")
    size = NumberAttribute()
    sha256 = UnicodeAttribute()
    asset_context = UnicodeAttribute(attr_name="assetContext")
    uploaded_at = UnicodeAttribute(attr_name="uploadedAt")
    active_sort_key = UnicodeAttribute(attr_name="activeSortKey", null=True)
    archived = BooleanAttribute(default=False)
    archived_at = UnicodeAttribute(attr_name="archivedAt", null=True)
    # epoch seconds until which one request is rendering the photo's sizes (`renditions`)
    rendering_until = NumberAttribute(attr_name="renderingUntil", null=True)
    # true only on the writes that make the photo active (new, restored): the retention
    # function's stream filter asks for it, so the other writes of an active photo (the
    # render lease, placeholders, a crop) wake no retention work; each of them removes it
    retention_due = BooleanAttribute(attr_name="retentionDue", null=True)
    crop_left = NumberAttribute(attr_name="cropLeft", null=True)
    crop_top = NumberAttribute(attr_name="cropTop", null=True)
    crop_side = NumberAttribute(attr_name="cropSide", null=True)
    crop_source = UnicodeAttribute(attr_name="cropSource", null=True)
    crop_version = NumberAttribute(attr_name="cropVersion", null=True)
    width = NumberAttribute(null=True)
    height = NumberAttribute(null=True)
    thumbhash = UnicodeAttribute(null=True)
    dominant_color = UnicodeAttribute(attr_name="dominantColor", null=True)

    active_by_user = ActiveByUserIndex()


class UserModel(Model):
    class Meta(DynamoDBMeta):
        table_name = "profile-photos-users"

    id = UnicodeAttribute(hash_key=True)
    username = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute(attr_name="createdAt", null=True)
    updated_at = UnicodeAttribute(attr_name="updatedAt", null=True)
    current_asset_id = UnicodeAttribute(attr_name="currentAssetId", null=True)
    current_bucket = UnicodeAttribute(attr_name="currentBucket", null=True)
    current_file_key = UnicodeAttribute(attr_name="currentFileKey", null=True)
    current_uploaded_at = UnicodeAttribute(attr_name="currentUploadedAt", null=True)
    current_sort_key = UnicodeAttribute(attr_name="currentSortKey", null=True)
    # of the current photo, so a profile (one GetItem) names its square URLs and placeholder
    current_crop_version = NumberAttribute(attr_name="currentCropVersion", null=True)
    current_thumbhash = UnicodeAttribute(attr_name="currentThumbhash", null=True)
    current_color = UnicodeAttribute(attr_name="currentColor", null=True)


class RateLimitModel(Model):
    """One user's upload budget for one epoch hour: `units` spent in the hour, and one slot
    per minute (`m00`..`m59`, dynamic attributes written by `ratelimit`). Expires by TTL."""

    class Meta(DynamoDBMeta):
        table_name = "profile-photos-rate-limits"

    pk = UnicodeAttribute(hash_key=True)
    units = NumberAttribute(null=True)
    expires_at = TTLAttribute(attr_name="expiresAt", null=True)


class UploadGrantModel(Model):
    """One direct upload announced by `upload-url`: what may be PUT, and whether it was
    completed. Expires by TTL well after its staged object can exist."""

    class Meta(DynamoDBMeta):
        table_name = "profile-photos-uploads"

    user_id = UnicodeAttribute(hash_key=True, attr_name="userId")
    upload_id = UnicodeAttribute(range_key=True, attr_name="uploadId")
    file_key = UnicodeAttribute(attr_name="fileKey")
    file_name = UnicodeAttribute(attr_name="fileName")  # percent-encoded (object metadata)
    content_type = UnicodeAttribute(attr_name="contentType")
    size = NumberAttribute()
    issued_at = NumberAttribute(attr_name="issuedAt")  # epoch seconds
    completed_at = UnicodeAttribute(attr_name="completedAt", null=True)
    # epoch seconds when a `complete` took the staged file to check it (uploads.py)
    claimed_at = NumberAttribute(attr_name="claimedAt", null=True)
    asset_id = UnicodeAttribute(attr_name="assetId", null=True)
    expires_at = TTLAttribute(attr_name="expiresAt", null=True)
    # the user's crop asked for with the grant, "left,top,side" (checked at complete)
    crop = UnicodeAttribute(null=True)


def bind_tables(settings: Settings) -> None:
    """Point the models at the configured tables. pynamodb opens a new table connection when
    a model's table name changes, so binding other names (a test's) needs nothing more."""
    PhotoModel.Meta.table_name = settings.photos_table
    UserModel.Meta.table_name = settings.users_table
    RateLimitModel.Meta.table_name = settings.rate_limits_table
    UploadGrantModel.Meta.table_name = settings.uploads_table


if (_settings := tables.bound()) is not None:  # bound before this module was imported
    bind_tables(_settings)


@functools.cache
def transaction_connection() -> Connection:
    """One low-level connection per container for TransactWriteItems."""
    return Connection(**connection_options())


@functools.cache
def hash_key_table(table_name: str, hash_key: str) -> TableConnection:
    """A low-level connection to a table keyed by the string `hash_key` alone, for writes that
    name attributes at run time (the rate-limit counters' minute slots)."""
    schema = MetaTable(
        {
            "TableName": table_name,
            "KeySchema": [{"AttributeName": hash_key, "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": hash_key, "AttributeType": "S"}],
        }
    )
    return TableConnection(table_name, meta_table=schema, **connection_options())
