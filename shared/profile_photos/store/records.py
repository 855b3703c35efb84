"""What the store hands to the domain: plain, immutable records, never pynamodb models.

Field names follow the tables' attributes in snake case (`file_key` is `fileKey`). A record is
what one item held when it was read; to change an item, a domain function asks the store.
"""

from __future__ import annotations

from dataclasses import dataclass


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
