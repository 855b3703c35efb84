"""Ariadne resolvers, split by type. They translate between GraphQL and `profile_photos`.

Arguments are checked before any work: an id that cannot be a user id (`USER_ID_PATTERN`)
finds no user without a DynamoDB call; a malformed `assetId`, `first` or `after` is
BAD_USER_INPUT. Every mutation (each export page included) is then charged 1 unit of the
caller's rate limit (`charge`) BEFORE it reads or changes anything: a refusal is RATE_LIMITED
with `retryAfter` and nothing changed (every mutation returns a non-null type, so the
refusal ends the operation: no later mutation runs). Reads are not charged: the query cost
limit bounds them.

Reads: every field whose resolver goes to DynamoDB is priced in the query cost (`PRICES`,
READ_COST per execution, COUNT_COST for an export's `count`), and reads through the
request's `Loader` (graphql_loader), so repeated identical fields (aliases, `me` beside
`user(id: <own id>)`, fragments) make one read per request. The DynamoDB requests of an
accepted operation are therefore at most:

    1 (the claims refresh, graphql_handler; none when this container stored them lately)
    + 1 GetItem per distinct user id read (`user(id)`, `me`)
    + 1 Query of the caller's active photos (`profilePhotos`, owner only)
    + 1 COUNT query (an export's `count`, per 1 MB of history DynamoDB reads for it)
    + per mutation: its charge (1; 2 when refused, which ends the operation) and its own
      work (export page: 1 Query; restore, delete: a handful each)

and, each distinct read being priced, at most MAX_COST / (1 + READ_COST) of them.

Export pagination: pages walk the photos table's key order (assetId, a random UUID: stable
while photos come and go, but not upload order). `after` is an opaque cursor, the base64url of
`<userId>/<assetId>` of the previous page's last item: it is checked for shape and for the
caller (another user's cursor is BAD_USER_INPUT, never a peek into their photos; the query is
on the caller's own partition anyway). `count` stays what it always was, the total number of
photos (a COUNT query, run only when selected); `items` is this page.
"""

from __future__ import annotations

import base64
import binascii
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ariadne import MutationType, ObjectType, QueryType
from graphql import GraphQLResolveInfo
from graphql_loader import Loader

from profile_photos import profiles
from profile_photos.auth import USER_ID_PATTERN, Identity
from profile_photos.crop import MIN_SIDE, Crop
from profile_photos.errors import Forbidden, ValidationFailed
from profile_photos.ratelimit import REQUEST
from profile_photos.renditions import CONTENT_TYPE as WEBP
from profile_photos.renditions import ORIGINAL, SIZES, rendition_key
from profile_photos.services import Services
from profile_photos.store.records import Photo, User
from profile_photos.store.storage import USER_ASSETS
from profile_photos.times import iso_ms


@dataclass(frozen=True)
class Context:
    services: Services  # signing for this request's base URL
    identity: Identity
    now: int  # epoch seconds, one clock for every URL signed in this request
    loader: Loader = field(default_factory=Loader)  # this request's reads, each made once

    def sign(
        self,
        bucket: str,
        key: str,
        size: str | None = ORIGINAL,
        square: bool | None = False,
        crop_version: int = 0,
    ) -> str:
        """The signed GET URL of `bucket/key` in `size` (a rendition's key for a size), square
        or not. An explicit `size: null` or `square: null` (the arguments are nullable, as the
        contract writes them) is the default: ORIGINAL, not square."""
        size = size or ORIGINAL
        if square and size == ORIGINAL:
            raise ValidationFailed("square needs a rendition size (SMALL, MEDIUM or LARGE)")
        path = rendition_key(key, size, bool(square), crop_version)
        return self.services.signer.photo_url(bucket, path, now=self.now).url


def context_of(info: GraphQLResolveInfo[Context]) -> Context:
    return info.context


EXPORT_PAGE_MAX = 100  # `exportProfilePhotos(first:)`: default and maximum
MAX_CURSOR_CHARS = 256  # base64url of "<userId>/<assetId>": at most 220

# The query cost of a field's DynamoDB requests, on top of the 1 every field costs
# (graphql_limits): a read of one item or one page, or a mutation (charged, then a few
# requests of its own), costs READ_COST; a COUNT reads the caller's whole history (DynamoDB
# charges it by the size of every item it counts), so it costs more. A full export page with
# every field (about 1,910) plus its page read and `count` still fits MAX_COST (2,000); a
# query makes at most 2000 / 21 = 95 reads.
READ_COST = 20
COUNT_COST = 50
PRICES: dict[tuple[str, str], int] = {
    ("Query", "user"): READ_COST,
    ("Query", "me"): READ_COST,
    ("User", "profilePhotos"): READ_COST,
    ("PhotoExport", "count"): COUNT_COST,
    ("Mutation", "exportProfilePhotos"): READ_COST,
    ("Mutation", "restoreProfilePhoto"): READ_COST,
    ("Mutation", "deleteProfilePhoto"): READ_COST,
    ("Mutation", "deleteAllProfilePhotos"): READ_COST,
    ("Mutation", "setProfilePhotoCrop"): READ_COST,
}


def charge_request(context: Context) -> None:
    """Spend 1 unit of the caller's budget for a mutation or export page (RATE_LIMITED when
    spent; raised before the mutation does anything). The request's loader forgets its
    answers here, before anything changes, so what is read after this point sees the change."""
    context.loader.forget()
    context.services.limiter.charge(context.identity.user_id, 1, time.time(), REQUEST)


# BAD_USER_INPUT for an `assetId` that is not a UUID, checked before the request is charged
checked_asset_id = profiles.checked_asset_id


def encode_cursor(user_id: str, asset_id: str) -> str:
    raw = f"{user_id}/{asset_id}".encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str, user_id: str) -> str:
    """The assetId a cursor of this caller's export points after; BAD_USER_INPUT otherwise."""
    invalid = ValidationFailed("after must be a pageInfo.endCursor of your own export")
    if len(cursor) > MAX_CURSOR_CHARS:
        raise invalid
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise invalid from None
    owner, _, asset_id = raw.partition("/")
    if owner != user_id or not profiles.ASSET_ID.fullmatch(asset_id):
        raise invalid
    return asset_id


@dataclass(frozen=True)
class ExportPage:
    user_id: str
    expires_at: str
    items: list[Photo]
    has_next_page: bool
    end_cursor: str | None


query = QueryType()
mutation = MutationType()
user_type = ObjectType("User")
photo_type = ObjectType("ProfilePhoto")
exported_type = ObjectType("ExportedPhoto")
export_type = ObjectType("PhotoExport")


@query.field("user")
def resolve_user(_: Any, info: GraphQLResolveInfo[Context], id: str) -> User | None:
    if not USER_ID_PATTERN.fullmatch(id):
        return None  # cannot be a user id (a token subject): never seen, no read needed
    return context_of(info).loader.user(id)


@query.field("me")
def resolve_me(_: Any, info: GraphQLResolveInfo[Context]) -> User | None:
    context = context_of(info)
    return context.loader.user(context.identity.user_id)


@user_type.field("profilePhotoUrl")
def resolve_profile_photo_url(
    user: User,
    info: GraphQLResolveInfo[Context],
    size: str | None = ORIGINAL,
    square: bool | None = False,
) -> str | None:
    if not user.current_file_key:
        return None
    bucket = user.current_bucket or USER_ASSETS
    return context_of(info).sign(
        bucket, user.current_file_key, size, square, user.current_crop_version
    )


user_type.set_alias("profilePhotoUploadedAt", "current_uploaded_at")
user_type.set_alias("profilePhotoThumbhash", "current_thumbhash")
user_type.set_alias("profilePhotoColor", "current_color")


@user_type.field("profilePhotos")
def resolve_profile_photos(user: User, info: GraphQLResolveInfo[Context]) -> list[Photo]:
    context = context_of(info)
    if user.id != context.identity.user_id:
        raise Forbidden("Only the owner can list a user's profile photos")
    return context.loader.active_photos(user.id)


for object_type in (photo_type, exported_type):
    object_type.set_alias("assetId", "asset_id")
    object_type.set_alias("fileKey", "file_key")
    object_type.set_alias("contentType", "content_type")
    object_type.set_alias("uploadedAt", "uploaded_at")
    object_type.set_alias("fileName", "file_name")
    object_type.set_alias("crop", "crop")

    @object_type.field("url")
    def resolve_url(
        photo: Photo,
        info: GraphQLResolveInfo[Context],
        size: str | None = ORIGINAL,
        square: bool | None = False,
    ) -> str:
        return context_of(info).sign(photo.bucket, photo.file_key, size, square, photo.crop_version)


photo_type.set_alias("dominantColor", "dominant_color")


@exported_type.field("renditions")
def resolve_renditions(photo: Photo, info: GraphQLResolveInfo[Context]) -> list[dict[str, Any]]:
    sign = context_of(info).sign
    return [
        {
            "size": size,
            "square": square,
            "url": sign(photo.bucket, photo.file_key, size, square, photo.crop_version),
            "contentType": WEBP,
        }
        for size in SIZES
        for square in (False, True)
    ]


exported_type.set_alias("archivedAt", "archived_at")


@mutation.field("restoreProfilePhoto")
def resolve_restore(_: Any, info: GraphQLResolveInfo[Context], assetId: str) -> dict[str, Any]:
    context = context_of(info)
    identity = context.identity
    checked_asset_id(assetId)
    charge_request(context)
    photo = profiles.restore_photo(identity, assetId)
    return {"photo": photo, "user": profiles.get_user(identity.user_id)}


@mutation.field("setProfilePhotoCrop")
def resolve_set_crop(
    _: Any, info: GraphQLResolveInfo[Context], assetId: str, crop: dict[str, int]
) -> Photo:
    context = context_of(info)
    checked_asset_id(assetId)
    box = Crop(crop["left"], crop["top"], crop["side"], "USER")
    if box.side < MIN_SIDE:
        raise ValidationFailed(f"crop side must be at least {MIN_SIDE} pixels")
    charge_request(context)
    services = context.services
    return profiles.set_crop(context.identity, assetId, box, services.storage, services.cdn)


@mutation.field("deleteProfilePhoto")
def resolve_delete(_: Any, info: GraphQLResolveInfo[Context], assetId: str) -> dict[str, Any]:
    context = context_of(info)
    checked_asset_id(assetId)
    charge_request(context)
    services = context.services
    erasure = profiles.delete_photo(context.identity, assetId, services.storage, services.cdn)
    return _deletion(context, erasure)


@mutation.field("deleteAllProfilePhotos")
def resolve_delete_all(_: Any, info: GraphQLResolveInfo[Context]) -> dict[str, Any]:
    context = context_of(info)
    charge_request(context)
    services = context.services
    erasure = profiles.delete_all_photos(context.identity, services.storage, services.cdn)
    return _deletion(context, erasure)


def _deletion(context: Context, erasure: profiles.Erasure) -> dict[str, Any]:
    user = profiles.get_user(context.identity.user_id)
    current = profiles.current_photo(user) if user is not None else None
    purge = erasure.purge
    return {
        "deletedCount": len(erasure.deleted_asset_ids),
        "deletedAssetIds": erasure.deleted_asset_ids,
        "currentPhoto": current,
        "user": user,
        "purge": {"cdn": purge.cdn, "invalidationId": purge.invalidation_id, "paths": purge.paths},
    }


@mutation.field("exportProfilePhotos")
def resolve_export(
    _: Any,
    info: GraphQLResolveInfo[Context],
    first: int | None = EXPORT_PAGE_MAX,
    after: str | None = None,
) -> ExportPage:
    """One page of the caller's export (module docstring). `first: null` means the default."""
    context = context_of(info)
    user_id = context.identity.user_id
    size = EXPORT_PAGE_MAX if first is None else first
    if not 1 <= size <= EXPORT_PAGE_MAX:
        raise ValidationFailed(f"first must be between 1 and {EXPORT_PAGE_MAX}, got {size}")
    start = decode_cursor(after, user_id) if after is not None else None
    charge_request(context)
    page = profiles.photos_page(user_id, size, start)
    signer = context.services.signer  # when this page's URLs (all minted now) expire
    expires = datetime.fromtimestamp(
        signer.window_start(context.now) + signer.window + signer.ttl, UTC
    )
    return ExportPage(
        user_id=user_id,
        expires_at=iso_ms(expires),
        items=page.items,
        has_next_page=page.more,
        end_cursor=encode_cursor(user_id, page.items[-1].asset_id) if page.items else None,
    )


export_type.set_alias("expiresAt", "expires_at")
export_type.set_alias("items", "items")


@export_type.field("count")
def resolve_export_count(page: ExportPage, info: GraphQLResolveInfo[Context]) -> int:
    return context_of(info).loader.count(page.user_id)


@export_type.field("pageInfo")
def resolve_page_info(page: ExportPage, info: GraphQLResolveInfo[Context]) -> dict[str, Any]:
    return {"hasNextPage": page.has_next_page, "endCursor": page.end_cursor}


TYPES = [query, mutation, user_type, photo_type, exported_type, export_type]
