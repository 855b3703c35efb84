"""Accepting a profile photo: validate, store, register, answer with a signed URL.

Two ways in, one way through: a multipart upload (`upload_photo`), or a direct upload for
files near the limit (`create_direct_upload` hands out a one-PUT URL into the staging area,
`complete_direct_upload` checks the staged bytes and registers them). Both end in
`_store_and_register` and answer with the same 201 data.

Each use case returns `{"data": <the 201 data object>, "rateLimit": <X-RateLimit-* headers>}`
(`complete` charges nothing: the photo was charged at `upload-url`).

A direct-upload grant registers at most one photo: `upload-url` writes a grant item (uploads
table), and `complete` marks it completed in the transaction that registers the photo, on
condition that it was not completed before. So a second `complete` of the same `fileKey` is
409 `Upload already completed`, and a key that no `upload-url` of this user issued is 404
`Upload not found`, however the PUT URL is replayed. The PUT itself refuses a staged key that
already holds an object (LOCAL: the signed endpoint; R2: `If-None-Match: *` is signed into the
presigned PUT, so R2 answers 412 itself).

For `Idempotency-Key` the results are remembered by reference (`remembered`): an asset id or
an upload id and the rate-limit headers, never a file name or a URL, and a retry's answer is
rebuilt from the table (`recall_upload`, `recall_direct_upload`), signed with the first
request's clock, so it is the first answer byte for byte while the photo exists. Erasing a
photo therefore leaves nothing personal in the idempotency records. The order is the one a
careful client needs: every check on the request (so a bad request changes nothing), then
the rate limit (a refusal stores nothing), then storage and registration.

Nothing here knows about API Gateway: the handler passes plain values in and shapes the
result into the response.
"""

from __future__ import annotations

import hashlib
import re
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote

from pynamodb.exceptions import PynamoDBException

from profile_photos.auth import Identity
from profile_photos.errors import (
    Conflict,
    DependencyUnavailable,
    NotFound,
    ServiceError,
    ValidationFailed,
)
from profile_photos.image_contents import check_dimensions, read_dimensions, strip_metadata
from profile_photos.models import PhotoModel, UploadGrantModel, bind_tables
from profile_photos.ratelimit import Allowance, charge, cost_of
from profile_photos.repository import (
    UPLOAD_COMPLETED,
    UPLOAD_NOT_FOUND,
    find_grant,
    register_photo,
    save_grant,
)
from profile_photos.settings import Settings
from profile_photos.signing import issue_token, signed_url
from profile_photos.storage import STAGING_PREFIX, USER_ASSETS, Storage
from profile_photos.times import iso_ms
from profile_photos.validation import ValidatedImage, check_declared, validate_image

ASSET_CONTEXTS = ("PROFILE_PICTURE",)
DEFAULT_ASSET_CONTEXT = "PROFILE_PICTURE"
DIRECT_UPLOAD_TTL_SECONDS = 15 * 60
GRANT_TTL_SECONDS = 2 * 24 * 3600  # outlives any staged object (R2 lifecycle: 1 day)
UPLOAD_NOT_RECEIVED = "Upload not received yet: PUT the file to its uploadUrl, then complete"
PHOTO_GONE = "The photo this Idempotency-Key created has been deleted"
UPLOAD_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


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
    upload_id = str(uuid.uuid4())
    grant = UploadGrantModel(
        identity.user_id,
        upload_id,
        file_key=f"{staging_prefix(identity.user_id)}{upload_id}.{image.extension}",
        file_name=quote(image.file_name),  # object metadata is ASCII
        content_type=image.content_type,
        size=size,
        issued_at=moment,
        expires_at=datetime.fromtimestamp(moment + GRANT_TTL_SECONDS, UTC),
    )
    bind_tables(settings)
    save_grant(grant)
    data = direct_upload_data(grant, base_url=base_url, settings=settings, storage=storage)
    return {"data": data, "rateLimit": allowance.headers()}


def direct_upload_data(
    grant: UploadGrantModel,
    *,
    base_url: str,
    settings: Settings,
    storage: Storage,
    now: int | None = None,
) -> dict[str, Any]:
    """The 201 data of `upload-url` for `grant`: a URL for one PUT, valid until 15 minutes
    after the grant was issued (so a retry's answer carries the same expiry)."""
    issued = int(grant.issued_at)
    remaining = issued + DIRECT_UPLOAD_TTL_SECONDS - (int(time.time()) if now is None else now)
    presigned = storage.presigned_put(
        USER_ASSETS,
        grant.file_key,
        content_type=grant.content_type,
        size=int(grant.size),
        metadata={"file-name": grant.file_name},
        expires_in=max(1, remaining),
    )
    if presigned is None:  # LOCAL: the service's own signed endpoint, PUT-bound token
        token = issue_token(
            settings.local_storage_secret,
            bucket=USER_ASSETS,
            path=grant.file_key,
            operation="PUT",
            now=issued,
            ttl=DIRECT_UPLOAD_TTL_SECONDS,
            len=int(grant.size),
            type=grant.content_type,
            name=grant.file_name,
        )
        url = f"{base_url}/signed/{USER_ASSETS}/{quote(grant.file_key)}?token={token}"
        headers = {"Content-Type": grant.content_type}
    else:
        url, headers = presigned
    return {
        "uploadUrl": url,
        "method": "PUT",
        "headers": headers,
        "fileKey": grant.file_key,
        "expiresAt": iso_ms(datetime.fromtimestamp(issued + DIRECT_UPLOAD_TTL_SECONDS, UTC)),
    }


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
    upload_id = file_key.removeprefix(prefix).partition(".")[0]
    if not file_key.startswith(prefix) or not UPLOAD_ID.fullmatch(upload_id):
        raise NotFound(UPLOAD_NOT_FOUND)
    bind_tables(settings)
    try:
        staged = storage.read(USER_ASSETS, file_key)
    except NotFound:
        raise _missing_staged_object(identity.user_id, upload_id, file_key) from None
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
            grant=UploadGrantModel(identity.user_id, upload_id),
        )
    except DependencyUnavailable:
        raise
    except ServiceError:
        storage.delete(USER_ASSETS, file_key)
        raise
    storage.delete(USER_ASSETS, file_key)
    return {"data": result}


def _missing_staged_object(user_id: str, upload_id: str, file_key: str) -> ServiceError:
    """Why there is nothing to complete: no such grant, a completed one, or no PUT yet."""
    grant = find_grant(user_id, upload_id)
    if grant is None or grant.file_key != file_key:
        return NotFound(UPLOAD_NOT_FOUND)
    if grant.completed_at is not None:
        return Conflict(UPLOAD_COMPLETED)
    return NotFound(UPLOAD_NOT_RECEIVED)


def remembered(outcome: dict[str, Any]) -> dict[str, Any]:
    """What an idempotency record keeps of an outcome: references and counts, nothing
    personal (no file name, no URL). `recall_*` rebuild the answer from it."""
    data = outcome["data"]
    if "assetId" in data:
        reference = {"assetId": data["assetId"]}
    else:  # upload-url: the grant's id, the last segment of its staged key
        reference = {"uploadId": data["fileKey"].rpartition("/")[2].partition(".")[0]}
    return reference | {"rateLimit": outcome.get("rateLimit")}


def recall_upload(
    identity: Identity, record: dict[str, Any], *, base_url: str, settings: Settings
) -> dict[str, Any]:
    """The first answer of an upload or complete, rebuilt from the photo it registered."""
    bind_tables(settings)
    try:
        photo = PhotoModel.get(identity.user_id, record["assetId"], consistent_read=True)
    except PhotoModel.DoesNotExist:
        raise NotFound(PHOTO_GONE) from None
    except PynamoDBException as exc:
        raise DependencyUnavailable("Photo could not be read") from exc
    data = photo_data(photo, base_url=base_url, settings=settings)
    return {"data": data, "rateLimit": record.get("rateLimit")}


def recall_direct_upload(
    identity: Identity,
    record: dict[str, Any],
    *,
    base_url: str,
    settings: Settings,
    storage: Storage,
) -> dict[str, Any]:
    """The first answer of an `upload-url`, rebuilt from its grant."""
    bind_tables(settings)
    grant = find_grant(identity.user_id, record["uploadId"])
    if grant is None:
        raise NotFound(UPLOAD_NOT_FOUND)
    data = direct_upload_data(grant, base_url=base_url, settings=settings, storage=storage)
    return {"data": data, "rateLimit": record.get("rateLimit")}


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
    grant: UploadGrantModel | None = None,
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
        register_photo(photo, identity, uploaded_at, grant)
    except BaseException:
        storage.delete(USER_ASSETS, file_key)
        raise

    return photo_data(photo, base_url=base_url, settings=settings)


def photo_data(photo: PhotoModel, *, base_url: str, settings: Settings) -> dict[str, Any]:
    """The 201 data object for a registered photo. Its URL is signed at the upload time, so
    the same photo always gives the same answer (an idempotent retry's included)."""
    url = signed_url(
        settings.local_storage_secret,
        base_url=base_url,
        bucket=photo.bucket,
        path=photo.file_key,
        operation="GET",
        now=int(datetime.fromisoformat(photo.uploaded_at).timestamp()),
        ttl=settings.signed_url_ttl_seconds,
    )
    return {
        "fileKey": photo.file_key,
        "uploadUrl": url.url,
        "fileName": photo.file_name,
        "contentType": photo.content_type,
        "size": int(photo.size),
        "assetId": photo.asset_id,
        "uploadedAt": photo.uploaded_at,
        "expiresAt": iso_ms(datetime.fromtimestamp(url.expires_at, UTC)),
    }
