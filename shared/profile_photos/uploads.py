"""Accepting a profile photo: validate, store, register, answer with a signed URL.

Nothing here knows about API Gateway: the handler passes plain values in and shapes the
result into the response.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from profile_photos.auth import Identity
from profile_photos.errors import ValidationFailed
from profile_photos.models import PhotoModel, bind_tables
from profile_photos.repository import register_photo
from profile_photos.settings import Settings
from profile_photos.signing import signed_url
from profile_photos.storage import USER_ASSETS, Storage
from profile_photos.times import iso_ms
from profile_photos.validation import validate_image

ASSET_CONTEXTS = ("PROFILE_PICTURE",)
DEFAULT_ASSET_CONTEXT = "PROFILE_PICTURE"


@dataclass(frozen=True, slots=True)
class UploadedFile:
    """A file part as received: bytes, and what the client said about them."""

    data: bytes
    file_name: str | None
    content_type: str | None


def photo_key(user_id: str, asset_id: str, extension: str) -> str:
    return f"users/{user_id}/profile-picture/{asset_id}.{extension}"


def upload_photo(
    identity: Identity,
    upload: UploadedFile,
    asset_context: str | None,
    *,
    base_url: str,
    settings: Settings,
    storage: Storage,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Validate, store and register a new profile photo; return the 201 `data` object.

    The file is written first and registered second; if registration fails the file is
    removed again, so a failed upload leaves neither an orphan file nor a half-registered
    photo behind.
    """
    image = validate_image(
        upload.data,
        file_name=upload.file_name,
        content_type=upload.content_type,
        max_size=settings.max_file_size,
        allowed_extensions=settings.allowed_extensions,
    )
    context = asset_context if asset_context is not None else DEFAULT_ASSET_CONTEXT
    if context not in ASSET_CONTEXTS:
        raise ValidationFailed(
            f"assetContext {context!r} is not supported. Allowed values: "
            + ", ".join(ASSET_CONTEXTS)
        )

    moment = now or datetime.now(UTC)
    uploaded_at = iso_ms(moment)
    asset_id = str(uuid.uuid4())
    file_key = photo_key(identity.user_id, asset_id, image.extension)
    photo = PhotoModel(
        identity.user_id,
        asset_id,
        bucket=USER_ASSETS,
        file_key=file_key,
        file_name=image.file_name,
        content_type=image.content_type,
        size=len(upload.data),
        sha256=hashlib.sha256(upload.data).hexdigest(),
        asset_context=context,
        uploaded_at=uploaded_at,
        active_sort_key=f"{uploaded_at}#{asset_id}",
        archived=False,
    )

    bind_tables(settings)
    storage.put(USER_ASSETS, file_key, upload.data, image.content_type)
    try:
        register_photo(photo, identity, uploaded_at)
    except BaseException:
        storage.delete(USER_ASSETS, file_key)
        raise

    url = signed_url(
        settings.local_storage_secret,
        base_url=base_url,
        bucket=USER_ASSETS,
        path=file_key,
        operation="GET",
        now=int(moment.timestamp()),
        ttl=settings.signed_url_ttl_seconds,
    )
    return {
        "fileKey": file_key,
        "uploadUrl": url.url,
        "fileName": image.file_name,
        "contentType": image.content_type,
        "size": len(upload.data),
        "assetId": asset_id,
        "uploadedAt": uploaded_at,
        "expiresAt": iso_ms(datetime.fromtimestamp(url.expires_at, UTC)),
    }
