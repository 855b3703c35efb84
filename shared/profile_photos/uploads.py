"""Accepting a profile photo: validate, store, register, answer with a signed URL.

Two ways in, one way through: a multipart upload (`upload_photo`), or a direct upload for
files near the limit (`create_direct_upload` hands out a one-PUT URL into the staging area,
`complete_direct_upload` checks the staged bytes and registers them). Both end in
`_store_and_register` and answer with the same 201 data.

Each use case returns `{"data": <the 201 data object>, "rateLimit": <X-RateLimit-* headers>}`
(`complete` charges nothing: the photo was charged at `upload-url`). The order is the one a
careful client needs: every check on the request (so a bad request changes nothing), then
the rate limit (a refusal stores nothing), then storage and registration.

Nothing here knows about API Gateway: the handler passes plain values in and shapes the
result into the response.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote

from profile_photos.auth import Identity
from profile_photos.errors import DependencyUnavailable, NotFound, ServiceError, ValidationFailed
from profile_photos.image_contents import check_dimensions, read_dimensions, strip_metadata
from profile_photos.models import PhotoModel, bind_tables
from profile_photos.ratelimit import Allowance, charge, cost_of
from profile_photos.repository import register_photo
from profile_photos.settings import Settings
from profile_photos.signing import issue_token, signed_url
from profile_photos.storage import STAGING_PREFIX, USER_ASSETS, Storage
from profile_photos.times import iso_ms
from profile_photos.validation import ValidatedImage, check_declared, validate_image

ASSET_CONTEXTS = ("PROFILE_PICTURE",)
DEFAULT_ASSET_CONTEXT = "PROFILE_PICTURE"
DIRECT_UPLOAD_TTL_SECONDS = 15 * 60
STAGED_NOT_FOUND = "Staged upload not found: it expired, was already completed, or was never sent"


@dataclass(frozen=True, slots=True)
class UploadedFile:
    """A file part as received: bytes, and what the client said about them."""

    data: bytes
    file_name: str | None
    content_type: str | None


def photo_key(user_id: str, asset_id: str, extension: str) -> str:
    return f"users/{user_id}/profile-picture/{asset_id}.{extension}"


def staging_prefix(user_id: str) -> str:
    return f"{STAGING_PREFIX}users/{user_id}/"


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
    """Validate, charge, store and register a multipart upload."""
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
    check_dimensions(*read_dimensions(upload.data, image.content_type))
    moment = now or datetime.now(UTC)
    allowance = _charge(identity, len(upload.data), settings, moment)
    data = _store_and_register(
        identity,
        upload.data,
        image,
        context,
        base_url=base_url,
        settings=settings,
        storage=storage,
        moment=moment,
    )
    return {"data": data, "rateLimit": allowance.headers()}


def create_direct_upload(
    identity: Identity,
    file_name: Any,
    content_type: Any,
    size: Any,
    *,
    base_url: str,
    settings: Settings,
    storage: Storage,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The same size and type checks as an upload, then a 15-minute URL for one PUT of
    exactly `size` bytes of `content_type` into the caller's staging area."""
    if not isinstance(file_name, str) or not isinstance(content_type, str):
        raise ValidationFailed("fileName and contentType must be strings")
    if not isinstance(size, int) or isinstance(size, bool):
        raise ValidationFailed("size must be an integer number of bytes")
    image = check_declared(
        size,
        file_name=file_name,
        content_type=content_type,
        max_size=settings.max_file_size,
        allowed_extensions=settings.allowed_extensions,
    )
    when = now or datetime.now(UTC)
    allowance = _charge(identity, size, settings, when)  # once per photo: here, not at complete
    moment = int(when.timestamp())
    file_key = f"{staging_prefix(identity.user_id)}{uuid.uuid4()}.{image.extension}"
    name = quote(image.file_name)  # object metadata is ASCII
    presigned = storage.presigned_put(
        USER_ASSETS,
        file_key,
        content_type=image.content_type,
        size=size,
        metadata={"file-name": name},
        expires_in=DIRECT_UPLOAD_TTL_SECONDS,
    )
    if presigned is None:  # LOCAL: the service's own signed endpoint, PUT-bound token
        token = issue_token(
            settings.local_storage_secret,
            bucket=USER_ASSETS,
            path=file_key,
            operation="PUT",
            now=moment,
            ttl=DIRECT_UPLOAD_TTL_SECONDS,
            len=size,
            type=image.content_type,
            name=name,
        )
        url = f"{base_url}/signed/{USER_ASSETS}/{quote(file_key)}?token={token}"
        headers = {"Content-Type": image.content_type}
    else:
        url, headers = presigned
    data = {
        "uploadUrl": url,
        "method": "PUT",
        "headers": headers,
        "fileKey": file_key,
        "expiresAt": iso_ms(datetime.fromtimestamp(moment + DIRECT_UPLOAD_TTL_SECONDS, UTC)),
    }
    return {"data": data, "rateLimit": allowance.headers()}


def complete_direct_upload(
    identity: Identity,
    file_key: Any,
    *,
    base_url: str,
    settings: Settings,
    storage: Storage,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Check the staged bytes like any upload, register them, answer like an upload.

    The staged object is removed once it is registered (as a new, permanent object) and
    when it fails a check; it is kept only when a backing service failed, so that the client
    can retry `complete`. Another user's staged key reads as not found.
    """
    if not isinstance(file_key, str):
        raise ValidationFailed("fileKey must be the string returned by upload-url")
    prefix = staging_prefix(identity.user_id)
    if not file_key.startswith(prefix) or "/" in file_key.removeprefix(prefix):
        raise NotFound(STAGED_NOT_FOUND)
    try:
        staged = storage.read(USER_ASSETS, file_key)
    except NotFound:
        raise NotFound(STAGED_NOT_FOUND) from None
    data = staged.body or b""
    try:
        image = validate_image(
            data,
            file_name=unquote(staged.metadata.get("file-name", "")) or file_key.rsplit("/")[-1],
            content_type=staged.content_type,
            max_size=settings.max_file_size,
            allowed_extensions=settings.allowed_extensions,
        )
        check_dimensions(*read_dimensions(data, image.content_type))
        result = _store_and_register(
            identity,
            data,
            image,
            DEFAULT_ASSET_CONTEXT,
            base_url=base_url,
            settings=settings,
            storage=storage,
            moment=now or datetime.now(UTC),
        )
    except DependencyUnavailable:
        raise
    except ServiceError:
        storage.delete(USER_ASSETS, file_key)
        raise
    storage.delete(USER_ASSETS, file_key)
    return {"data": result}


def _charge(identity: Identity, size: int, settings: Settings, moment: datetime) -> Allowance:
    """Spend the caller's upload budget: 1 unit per started MiB (429 when over)."""
    bind_tables(settings)
    return charge(
        identity.user_id,
        cost_of(size),
        per_minute=settings.rate_limit_per_minute,
        per_hour=settings.rate_limit_per_hour,
        now=moment.timestamp(),
    )


def _store_and_register(
    identity: Identity,
    data: bytes,
    image: ValidatedImage,
    context: str,
    *,
    base_url: str,
    settings: Settings,
    storage: Storage,
    moment: datetime,
) -> dict[str, Any]:
    """Strip personal metadata, write the file, then register it. If registration fails the
    file is removed again, so a failed upload leaves neither an orphan file nor a
    half-registered photo. `size` and the checksum are those of the stored bytes."""
    data = strip_metadata(data, image.content_type)
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
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        asset_context=context,
        uploaded_at=uploaded_at,
        active_sort_key=f"{uploaded_at}#{asset_id}",
        archived=False,
    )

    bind_tables(settings)
    storage.put(USER_ASSETS, file_key, data, image.content_type)
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
        "size": len(data),
        "assetId": asset_id,
        "uploadedAt": uploaded_at,
        "expiresAt": iso_ms(datetime.fromtimestamp(url.expires_at, UTC)),
    }
