"""What the store hands to the domain: plain, immutable records, never pynamodb models.

Field names follow the tables' attributes in snake case (`file_key` is `fileKey`). A record is
what one item held when it was read; to change an item, a domain function asks the store.
"""

from __future__ import annotations

from dataclasses import dataclass

from profile_photos.crop import Crop


@dataclass(frozen=True, slots=True)
class Photo:
    """One photo (photos table). Active photos carry `active_sort_key`; archived do not."""

    user_id: str
    asset_id: str
    bucket: str
    file_key: str
    file_name: str
    content_type: str
    size: int
    sha256: str
    asset_context: str
    uploaded_at: str
    active_sort_key: str | None
    archived: bool = False
    archived_at: str | None = None
    # the square renditions' crop box (upright px): a user's from the upload, else computed
    # with the renditions; `crop_version` counts the user's changes and names the squares
    crop: Crop | None = None
    crop_version: int = 0
    # written with the renditions (null until then): upright size and the placeholders
    width: int | None = None
    height: int | None = None
    thumbhash: str | None = None
    dominant_color: str | None = None


@dataclass(frozen=True, slots=True)
class User:
    """One user (users table), with their current photo denormalised onto the item."""

    id: str
    username: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    current_asset_id: str | None = None
    current_bucket: str | None = None
    current_file_key: str | None = None
    current_uploaded_at: str | None = None
    current_sort_key: str | None = None
    current_crop_version: int = 0
    current_thumbhash: str | None = None
    current_color: str | None = None


@dataclass(frozen=True, slots=True)
class UploadGrant:
    """One direct upload announced by `upload-url` (uploads table)."""

    user_id: str
    upload_id: str
    file_key: str
    file_name: str  # percent-encoded (object metadata is ASCII)
    content_type: str
    size: int
    issued_at: int  # epoch seconds
    completed_at: str | None = None
    asset_id: str | None = None
    claimed_at: int | None = None  # epoch seconds: a `complete` took its file to check it
    crop: Crop | None = None  # the user's crop asked for with the grant (checked at complete)
