"""Typed results: the service's JSON (camelCase) as frozen dataclasses (snake_case), times as
timezone-aware datetimes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

SIZES = ("ORIGINAL", "SMALL", "MEDIUM", "LARGE")
# the sizes a square rendition comes in (ORIGINAL is the stored file, never square)
SQUARE_SIZES = ("SMALL", "MEDIUM", "LARGE")
MIN_CROP_SIDE = 32  # the smallest square the service accepts as a crop


def parse_time(value: Any) -> datetime | None:
    """ISO 8601 UTC (`2026-12-03T14:40:30.123Z`) as an aware datetime; None stays None."""
    if value is None:
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


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
class Crop:
    """The square a photo's square renditions are cut from, in pixels of the upright photo.
    `source`: FACE (framed around the faces found), CENTER (no face found) or USER (chosen
    by the owner, at upload or with `set_crop`)."""

    left: int
    top: int
    side: int
    source: str

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Crop | None:
        if not data:
            return None
        return cls(int(data["left"]), int(data["top"]), int(data["side"]), str(data["source"]))


@dataclass(frozen=True, slots=True)
class ProfilePhoto:
    """One active photo of the caller (GraphQL `ProfilePhoto`). `url` is in the size (and
    shape: `square`) asked for. `crop`, `width`, `height` (upright pixels), `thumbhash`
    (base64, https://evanw.github.io/thumbhash/) and `dominant_color` (`#rrggbb`) are None
    until the service has made the photo's renditions, normally seconds after the upload:
    a client draws the placeholder while the photo itself loads."""

    asset_id: str
    file_key: str
    url: str
    content_type: str
    size: int
    uploaded_at: datetime
    file_name: str | None = None
    crop: Crop | None = None
    width: int | None = None
    height: int | None = None
    thumbhash: str | None = None
    dominant_color: str | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ProfilePhoto:
        return cls(
            asset_id=data["assetId"],
            file_key=data["fileKey"],
            url=data["url"],
            content_type=data["contentType"],
            size=int(data["size"]),
            uploaded_at=_time(data["uploadedAt"]),
            file_name=data.get("fileName"),
            crop=Crop.from_json(data.get("crop")),
            width=_int(data.get("width")),
            height=_int(data.get("height")),
            thumbhash=data.get("thumbhash"),
            dominant_color=data.get("dominantColor"),
        )


@dataclass(frozen=True, slots=True)
class Avatar:
    """A user's current photo as a client draws it: `url` (signed, in the size asked for,
    square by default), and what to paint until it loads: `thumbhash` (base64) and
    `dominant_color` (`#rrggbb`), None until the service has made them."""

    user_id: str
    url: str
    thumbhash: str | None
    dominant_color: str | None


@dataclass(frozen=True, slots=True)
class PurgeReceipt:
    """What an erasure did so that no cache serves the erased photos: `cdn` (a CDN was
    invalidated, by `invalidation_id`) and the URL `paths` purged."""

    cdn: bool
    invalidation_id: str | None
    paths: tuple[str, ...]

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> PurgeReceipt | None:
        if not data:
            return None
        return cls(
            cdn=bool(data["cdn"]),
            invalidation_id=data.get("invalidationId"),
            paths=tuple(data.get("paths") or ()),
        )


@dataclass(frozen=True, slots=True)
class DeleteResult:
    """What an erasure removed, the caller's current photo after it (None: none left), and
    the cache purge that makes every URL of the erased photos stop serving."""

    deleted_count: int
    deleted_asset_ids: tuple[str, ...]
    current_photo: ProfilePhoto | None
    purge: PurgeReceipt | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DeleteResult:
        current = data.get("currentPhoto")
        return cls(
            deleted_count=int(data["deletedCount"]),
            deleted_asset_ids=tuple(data["deletedAssetIds"]),
            current_photo=ProfilePhoto.from_json(current) if current else None,
            purge=PurgeReceipt.from_json(data.get("purge")),
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
    crop: Crop | None = None

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
            crop=Crop.from_json(data.get("crop")),
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
            "crop": _crop_entry(self.crop),
        }


def _crop_entry(crop: Crop | None) -> dict[str, Any] | None:
    if crop is None:
        return None
    return {"left": crop.left, "top": crop.top, "side": crop.side, "source": crop.source}


@dataclass(frozen=True, slots=True)
class Export:
    """Every photo of the caller, downloaded into `directory` (with `export.json` beside)."""

    count: int
    directory: Path
    photos: tuple[ExportedPhoto, ...]


@dataclass(frozen=True, slots=True)
class DownloadedPhoto:
    """A photo written by `download`: where (None when written into a file object), how many
    bytes, their type, the `PhotoSize` asked for, the asset id asked for (None: the current
    photo), and whether the square rendition was asked for."""

    path: Path | None
    size: int
    content_type: str
    photo_size: str
    asset_id: str | None
    square: bool = False
