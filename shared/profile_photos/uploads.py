"""Accepting a profile photo: validate, store, register, answer with a signed URL.

Two ways in, one way through: a multipart upload (`upload_photo`), or a direct upload for
files near the limit (`create_direct_upload` hands out a one-PUT URL into the staging area,
`complete_direct_upload` checks the staged bytes and registers them). Both end in
`_store_and_register` and answer with the same 201 data.

Each use case returns a typed result: `StoredPhoto` (upload, complete) or `DirectUpload`
(upload-url), with the `Allowance` left after its charge (`complete` charges nothing: the
photo was charged at `upload-url`). The handler shapes them into the 201 envelope.

A direct-upload grant registers at most one photo: `upload-url` writes a grant item (uploads
table), and `complete` marks it completed in the transaction that registers the photo, on
condition that it was not completed before. So a second `complete` of the same `fileKey` is
409 `Upload already completed`, and a key that no `upload-url` of this user issued is 404
`Upload not found`, however the PUT URL is replayed. The PUT itself refuses a staged key that
already holds an object (LOCAL: the signed endpoint; R2: `If-None-Match: *` is signed into the
presigned PUT, so R2 answers 412 itself).

For `Idempotency-Key` the results are remembered by reference (`remembered`): an asset id or
an upload id and the allowance, never a file name or a URL, and a retry's answer is rebuilt
from the table (`recall`), signed with the first request's clock, so it is the first answer
byte for byte while the photo exists. Erasing a photo therefore leaves nothing personal in the
idempotency records.

The order is the one a careful client needs and an attacker cannot turn: every cheap check
on the request (so a bad request changes nothing), then the rate limit checked without
spending (`Limiter.check`: a user over the limit cannot make the service decode), then the
decode check (priced from the header first, `images.footprint`), then the charge (refused
input costs nothing), then storage and registration. `complete` is not charged (its
`upload-url` was) but claims its grant before decoding, so a grant is decoded once.

Nothing here knows about API Gateway or HTTP: the handler passes plain values in and shapes
the result into the response.

One file: the two ways in share the one way through (`_store_and_register`), the order of
the checks above and the idempotent replay (`remembered`, `recall`); split, the order that
keeps a refused request free would be written twice. The crop's shapes are `crop`'s.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import quote, unquote

from profile_photos import crop as crops
from profile_photos.auth import Identity
from profile_photos.errors import (
    DependencyUnavailable,
    NotFound,
    ServiceError,
    ValidationFailed,
)
from profile_photos.images import check_dimensions, footprint, read_dimensions, strip_metadata
from profile_photos.images.decoding import check_decodes, upright_size
from profile_photos.observability import logger
from profile_photos.ratelimit import Allowance, cost_of
from profile_photos.services import Services
from profile_photos.signing import SignedUrl
from profile_photos.store import grants, photos
from profile_photos.store.grants import UPLOAD_NOT_FOUND
from profile_photos.store.records import Photo, UploadGrant
from profile_photos.store.storage import STAGING_PREFIX, USER_ASSETS
from profile_photos.times import iso_ms
from profile_photos.validation import ValidatedImage, check_declared, validate_image

ASSET_CONTEXTS = ("PROFILE_PICTURE",)
DEFAULT_ASSET_CONTEXT = "PROFILE_PICTURE"
DIRECT_UPLOAD_TTL_SECONDS = 15 * 60
GRANT_TTL_SECONDS = 2 * 24 * 3600  # outlives any staged object (R2 lifecycle: 1 day)
UPLOAD_NOT_RECEIVED = "Upload not received yet: PUT the file to its uploadUrl, then complete"
PHOTO_GONE = "The photo this Idempotency-Key created has been deleted"
UPLOAD_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class UploadedFile(Protocol):
    """A file as received: bytes, and what the client said about them."""

    @property
    def data(self) -> bytes: ...
    @property
    def file_name(self) -> str | None: ...
    @property
    def content_type(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class StoredPhoto:
    """A registered photo, its signed GET URL, and what is left of the caller's budget."""

    photo: Photo
    url: SignedUrl
    allowance: Allowance | None = None


@dataclass(frozen=True, slots=True)
class DirectUpload:
    """A direct upload's one PUT: where, with which headers, until when (epoch seconds)."""

    grant: UploadGrant
    upload_url: str
    headers: dict[str, str]
    expires_at: int
    allowance: Allowance | None = None


def photo_key(user_id: str, asset_id: str, extension: str) -> str:
    return f"users/{user_id}/profile-picture/{asset_id}.{extension}"


def staging_prefix(user_id: str) -> str:
    return f"{STAGING_PREFIX}users/{user_id}/"


def upload_photo(
    services: Services,
    identity: Identity,
    upload: UploadedFile,
    asset_context: str | None,
    crop: str | None = None,
    now: datetime | None = None,
) -> StoredPhoto:
    """Validate, charge, store and register a multipart upload; `crop` is the form's
    `left,top,side` (the user's square, checked against the upright image before the charge)."""
    settings = services.settings
    user_crop = crops.from_field(crop)
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
    cost = cost_of(len(upload.data))
    services.limiter.check(identity.user_id, cost, moment.timestamp())  # before any decoding
    check_decodes(upload.data, image.content_type, footprint.budget(settings.memory_size_mb))
    check_crop(user_crop, upload.data, image.content_type)
    allowance = services.limiter.charge(identity.user_id, cost, moment.timestamp())
    stored = _store_and_register(
        services, identity, upload.data, image, context, moment, crop=user_crop
    )
    return StoredPhoto(stored.photo, stored.url, allowance)


def check_crop(crop: crops.Crop | None, data: bytes, content_type: str) -> None:
    """ValidationFailed unless `crop` lies inside the upright image of `data`."""
    if crop is not None:
        width, height = upright_size(data, content_type)
        problem = crops.problem(crop, width, height)
        if problem is not None:
            raise ValidationFailed(problem)


def create_direct_upload(
    services: Services,
    identity: Identity,
    file_name: Any,
    content_type: Any,
    size: Any,
    crop: Any = None,
    now: datetime | None = None,
) -> DirectUpload:
    """The same size and type checks as an upload, then a 15-minute URL for one PUT of
    exactly `size` bytes of `content_type` into the caller's staging area. A `crop` is kept
    with the grant and checked against the image at `complete`."""
    if not isinstance(file_name, str) or not isinstance(content_type, str):
        raise ValidationFailed("fileName and contentType must be strings")
    if not isinstance(size, int) or isinstance(size, bool):
        raise ValidationFailed("size must be an integer number of bytes")
    user_crop = crops.from_object(crop)
    image = check_declared(
        size,
        file_name=file_name,
        content_type=content_type,
        max_size=services.settings.max_file_size,
        allowed_extensions=services.settings.allowed_extensions,
    )
    when = now or datetime.now(UTC)
    # charged once per photo: here, not at complete
    allowance = services.limiter.charge(identity.user_id, cost_of(size), when.timestamp())
    moment = int(when.timestamp())
    upload_id = str(uuid.uuid4())
    grant = UploadGrant(
        identity.user_id,
        upload_id,
        file_key=f"{staging_prefix(identity.user_id)}{upload_id}.{image.extension}",
        file_name=quote(image.file_name),  # object metadata is ASCII
        content_type=image.content_type,
        size=size,
        issued_at=moment,
        crop=user_crop,
    )
    grants.save_grant(grant, expires_at=moment + GRANT_TTL_SECONDS)
    return direct_upload(services, grant, allowance)


def direct_upload(
    services: Services,
    grant: UploadGrant,
    allowance: Allowance | None = None,
    now: int | None = None,
) -> DirectUpload:
    """The one PUT `grant` allows, valid until 15 minutes after the grant was issued (so a
    retry's answer carries the same expiry)."""
    issued = grant.issued_at
    expires = issued + DIRECT_UPLOAD_TTL_SECONDS
    remaining = expires - (int(datetime.now(UTC).timestamp()) if now is None else now)
    presigned = services.storage.presigned_put(
        USER_ASSETS,
        grant.file_key,
        content_type=grant.content_type,
        size=grant.size,
        metadata={"file-name": grant.file_name},
        expires_in=max(1, remaining),
    )
    if presigned is None:  # LOCAL: the service's own signed endpoint, PUT-bound token
        signed = services.signer.put_url(
            USER_ASSETS,
            grant.file_key,
            now=issued,
            ttl=DIRECT_UPLOAD_TTL_SECONDS,
            len=grant.size,
            type=grant.content_type,
            name=grant.file_name,
        )
        url, headers = signed.url, {"Content-Type": grant.content_type}
    else:
        url, headers = presigned
    return DirectUpload(grant, url, headers, expires, allowance)


def complete_direct_upload(
    services: Services, identity: Identity, file_key: Any, now: datetime | None = None
) -> StoredPhoto:
    """Check the staged bytes like any upload, register them, answer like an upload.

    The grant is claimed before its file is decoded (`grants.claim_grant`): one grant makes
    the service decode its file once, even when that `complete` timed out, so a replayed
    `complete` is 409 without any work. The claim is given back only when a backing service
    failed, and the staged object kept, so that the client can retry `complete`. The staged
    object is removed once it is registered (as a new, permanent object) and when it fails a
    check. Another user's staged key reads as not found.
    """
    if not isinstance(file_key, str):
        raise ValidationFailed("fileKey must be the string returned by upload-url")
    prefix = staging_prefix(identity.user_id)
    upload_id = file_key.removeprefix(prefix).partition(".")[0]
    if not file_key.startswith(prefix) or not UPLOAD_ID.fullmatch(upload_id):
        raise NotFound(UPLOAD_NOT_FOUND)
    storage, settings = services.storage, services.settings
    moment = now or datetime.now(UTC)
    try:
        staged = storage.read(USER_ASSETS, file_key)
    except NotFound:
        raise _missing_staged_object(identity.user_id, upload_id, file_key) from None
    try:
        grant = grants.claim_grant(identity.user_id, upload_id, file_key, int(moment.timestamp()))
    except DependencyUnavailable:
        raise
    except ServiceError:  # completed or claimed before: this copy is a replay's, and goes
        storage.delete(USER_ASSETS, file_key)
        raise
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
        check_decodes(data, image.content_type, footprint.budget(settings.memory_size_mb))
        check_crop(grant.crop, data, image.content_type)
        result = _store_and_register(
            services,
            identity,
            data,
            image,
            DEFAULT_ASSET_CONTEXT,
            moment,
            upload_id=upload_id,
            crop=grant.crop,
        )
    except DependencyUnavailable:
        grants.release_grant(identity.user_id, upload_id)
        raise
    except ServiceError:
        storage.delete(USER_ASSETS, file_key)
        raise
    try:
        storage.delete(USER_ASSETS, file_key)
    except DependencyUnavailable:
        # Registered: the answer is the photo. A retry could not complete again (the grant
        # is spent), and the staged copy expires (R2's lifecycle rule; the local stack's
        # cleanup at start).
        logger.warning("staged upload not removed", extra={"uploadId": upload_id})
    return result


def _missing_staged_object(user_id: str, upload_id: str, file_key: str) -> ServiceError:
    """Why there is nothing to complete: no such grant, a completed or claimed one, or no PUT
    yet."""
    refused = grants.taken(grants.find_grant(user_id, upload_id), file_key)
    return refused or NotFound(UPLOAD_NOT_RECEIVED)


def remembered(result: StoredPhoto | DirectUpload) -> dict[str, Any]:
    """What an idempotency record keeps of a result: references and counts, nothing
    personal (no file name, no URL). `recall` rebuilds the result from it."""
    if isinstance(result, StoredPhoto):
        reference = {"assetId": result.photo.asset_id}
    else:
        reference = {"uploadId": result.grant.upload_id}
    allowance = asdict(result.allowance) if result.allowance is not None else None
    return reference | {"allowance": allowance}


def recall(
    services: Services, identity: Identity, record: dict[str, Any]
) -> StoredPhoto | DirectUpload:
    """The first result of an upload, complete or upload-url, rebuilt from what `remembered`
    kept: the photo it registered, or the grant it wrote."""
    kept = record.get("allowance")
    allowance = Allowance(**kept) if isinstance(kept, dict) else None
    if "uploadId" in record:
        grant = grants.find_grant(identity.user_id, record["uploadId"])
        if grant is None:
            raise NotFound(UPLOAD_NOT_FOUND)
        return direct_upload(services, grant, allowance)
    photo = photos.get_photo(identity.user_id, record["assetId"])
    if photo is None:
        raise NotFound(PHOTO_GONE)
    return StoredPhoto(photo, signed_photo_url(services, photo), allowance)


def signed_photo_url(services: Services, photo: Photo) -> SignedUrl:
    """The photo's GET URL as the upload answered it: signed at the upload time, so the same
    photo always gives the same answer (an idempotent retry's included)."""
    moment = int(datetime.fromisoformat(photo.uploaded_at).timestamp())
    return services.signer.photo_url(photo.bucket, photo.file_key, now=moment)


def _store_and_register(
    services: Services,
    identity: Identity,
    data: bytes,
    image: ValidatedImage,
    context: str,
    moment: datetime,
    upload_id: str | None = None,
    crop: crops.Crop | None = None,
) -> StoredPhoto:
    """Strip personal metadata, write the file, then register it. If registration fails the
    file is removed again, so a failed upload leaves neither an orphan file nor a
    half-registered photo. `size` and the checksum are those of the stored bytes."""
    data = strip_metadata(data, image.content_type)
    uploaded_at = iso_ms(moment)
    asset_id = str(uuid.uuid4())
    photo = Photo(
        user_id=identity.user_id,
        asset_id=asset_id,
        bucket=USER_ASSETS,
        file_key=photo_key(identity.user_id, asset_id, image.extension),
        file_name=image.file_name,
        content_type=image.content_type,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        asset_context=context,
        uploaded_at=uploaded_at,
        active_sort_key=f"{uploaded_at}#{asset_id}",
        crop=crop,
    )
    services.storage.put(USER_ASSETS, photo.file_key, data, image.content_type)
    try:
        photos.register(photo, identity.username, uploaded_at, upload_id)
    except DependencyUnavailable:
        # The outcome is unknown: the transaction may have committed and only its answer
        # been lost. Its row decides: there, the photo is registered (answer it); gone, the
        # file goes too; unknowable, the file stays (a file without a row is swept; a row
        # without its file would be a broken photo).
        if not _registered(photo):
            services.storage.delete(USER_ASSETS, photo.file_key)
            raise
    except BaseException:
        services.storage.delete(USER_ASSETS, photo.file_key)
        raise
    return StoredPhoto(photo, signed_photo_url(services, photo))


def _registered(photo: Photo) -> bool:
    """Whether the photo's row exists after a registration of unknown outcome (the error
    goes on when even that cannot be read)."""
    try:
        found = photos.get_photo(photo.user_id, photo.asset_id)
    except DependencyUnavailable:
        logger.warning("registration outcome unknown: file kept", extra={"assetId": photo.asset_id})
        raise
    if found is not None:
        logger.warning("registration answered late: registered", extra={"assetId": photo.asset_id})
    return found is not None
