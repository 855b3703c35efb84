"""Typed results: the service's JSON (camelCase) as frozen dataclasses (snake_case), times as
timezone-aware datetimes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

SIZES = ("ORIGINAL", "SMALL", "MEDIUM", "LARGE")


def parse_time(value: Any) -> datetime | None:
    """ISO 8601 UTC (`2026-12-03T14:40:30.123Z`) as an aware datetime; None stays None."""
    if value is None:
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _time(value: Any) -> datetime:
    parsed = parse_time(value)
    if parsed is None:
        raise ValueError("a required time is missing from the answer")
    return parsed


@dataclass(frozen=True, slots=True)
class UploadedPhoto:
    """The 201 of an upload (multipart or direct): the new, current photo."""

    asset_id: str
    file_key: str
    upload_url: str  # a signed GET URL of the stored file
    file_name: str
    content_type: str
    size: int  # the stored size (metadata such as GPS tags is removed before storing)
    uploaded_at: datetime
    expires_at: datetime  # when upload_url stops working

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> UploadedPhoto:
        return cls(
            asset_id=data["assetId"],
            file_key=data["fileKey"],
            upload_url=data["uploadUrl"],
            file_name=data["fileName"],
            content_type=data["contentType"],
            size=int(data["size"]),
            uploaded_at=_time(data["uploadedAt"]),
            expires_at=_time(data["expiresAt"]),
        )


@dataclass(frozen=True, slots=True)
class ProfilePhoto:
    """One active photo of the caller (GraphQL `ProfilePhoto`)."""

    asset_id: str
    file_key: str
    url: str
    content_type: str
    size: int
    uploaded_at: datetime

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ProfilePhoto:
        return cls(
            asset_id=data["assetId"],
            file_key=data["fileKey"],
            url=data["url"],
            content_type=data["contentType"],
            size=int(data["size"]),
            uploaded_at=_time(data["uploadedAt"]),
        )


@dataclass(frozen=True, slots=True)
class DeleteResult:
    """What an erasure removed, and the caller's current photo after it (None: none left)."""

    deleted_count: int
    deleted_asset_ids: tuple[str, ...]
    current_photo: ProfilePhoto | None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DeleteResult:
        current = data.get("currentPhoto")
        return cls(
            deleted_count=int(data["deletedCount"]),
            deleted_asset_ids=tuple(data["deletedAssetIds"]),
            current_photo=ProfilePhoto.from_json(current) if current else None,
        )


@dataclass(frozen=True, slots=True)
class ExportedPhoto:
    """One photo of an export (archived ones included) and where its bytes were written."""

    asset_id: str
    file_key: str
    content_type: str
    size: int
    file_name: str | None  # the name it was uploaded with
    uploaded_at: datetime
    archived: bool
    archived_at: datetime | None
    path: Path

    @classmethod
    def from_json(cls, data: dict[str, Any], path: Path) -> ExportedPhoto:
        return cls(
            asset_id=data["assetId"],
            file_key=data["fileKey"],
            content_type=data["contentType"],
            size=int(data["size"]),
            file_name=data.get("fileName"),
            uploaded_at=_time(data["uploadedAt"]),
            archived=bool(data["archived"]),
            archived_at=parse_time(data.get("archivedAt")),
            path=path,
        )

    def manifest_entry(self) -> dict[str, Any]:
        return {
            "assetId": self.asset_id,
            "fileKey": self.file_key,
            "file": self.path.name,
            "contentType": self.content_type,
            "size": self.size,
            "fileName": self.file_name,
            "uploadedAt": self.uploaded_at.isoformat(),
            "archived": self.archived,
            "archivedAt": self.archived_at.isoformat() if self.archived_at else None,
        }


@dataclass(frozen=True, slots=True)
class Export:
    """Every photo of the caller, downloaded into `directory` (with `export.json` beside)."""

    count: int
    directory: Path
    photos: tuple[ExportedPhoto, ...]


@dataclass(frozen=True, slots=True)
class DownloadedPhoto:
    """A photo written by `download`: where (None when written into a file object), how many
    bytes, their type, the `PhotoSize` asked for, and the asset id asked for (None: the
    current photo)."""

    path: Path | None
    size: int
    content_type: str
    photo_size: str
    asset_id: str | None
