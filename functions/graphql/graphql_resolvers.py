"""Ariadne resolvers, split by type. They translate between GraphQL and `profile_photos`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ariadne import MutationType, ObjectType, QueryType
from graphql import GraphQLResolveInfo

from profile_photos import profiles
from profile_photos.auth import Identity
from profile_photos.errors import Forbidden
from profile_photos.models import PhotoModel, UserModel
from profile_photos.retention import active_photos
from profile_photos.settings import Settings
from profile_photos.signing import signed_url
from profile_photos.storage import Storage
from profile_photos.times import iso_ms


@dataclass(frozen=True)
class Context:
    identity: Identity
    settings: Settings
    storage: Storage
    base_url: str
    now: int  # epoch seconds, one clock for every URL signed in this request

    def sign(self, bucket: str, key: str) -> str:
        return signed_url(
            self.settings.local_storage_secret,
            base_url=self.base_url,
            bucket=bucket,
            path=key,
            operation="GET",
            now=self.now,
            ttl=self.settings.signed_url_ttl_seconds,
        ).url


def context_of(info: GraphQLResolveInfo) -> Context:
    return info.context  # type: ignore[no-any-return]


query = QueryType()
mutation = MutationType()
user_type = ObjectType("User")
photo_type = ObjectType("ProfilePhoto")
exported_type = ObjectType("ExportedPhoto")


@query.field("user")
def resolve_user(_: Any, info: GraphQLResolveInfo, id: str) -> UserModel | None:
    return profiles.get_user(id)


@query.field("me")
def resolve_me(_: Any, info: GraphQLResolveInfo) -> UserModel | None:
    return profiles.get_user(context_of(info).identity.user_id)


@user_type.field("profilePhotoUrl")
def resolve_profile_photo_url(user: UserModel, info: GraphQLResolveInfo) -> str | None:
    if not user.current_file_key:
        return None
    return context_of(info).sign(user.current_bucket or "user-assets", user.current_file_key)


user_type.set_alias("profilePhotoUploadedAt", "current_uploaded_at")


@user_type.field("profilePhotos")
def resolve_profile_photos(user: UserModel, info: GraphQLResolveInfo) -> list[PhotoModel]:
    if user.id != context_of(info).identity.user_id:
        raise Forbidden("Only the owner can list a user's profile photos")
    return active_photos(user.id)


for object_type in (photo_type, exported_type):
    object_type.set_alias("assetId", "asset_id")
    object_type.set_alias("fileKey", "file_key")
    object_type.set_alias("contentType", "content_type")
    object_type.set_alias("uploadedAt", "uploaded_at")

    @object_type.field("url")
    def resolve_url(photo: PhotoModel, info: GraphQLResolveInfo) -> str:
        return context_of(info).sign(photo.bucket, photo.file_key)

    @object_type.field("size")
    def resolve_size(photo: PhotoModel, info: GraphQLResolveInfo) -> int:
        return int(photo.size)


exported_type.set_alias("fileName", "file_name")
exported_type.set_alias("archivedAt", "archived_at")


@exported_type.field("archived")
def resolve_archived(photo: PhotoModel, info: GraphQLResolveInfo) -> bool:
    return bool(photo.archived)


@mutation.field("restoreProfilePhoto")
def resolve_restore(_: Any, info: GraphQLResolveInfo, assetId: str) -> dict[str, Any]:
    identity = context_of(info).identity
    photo = profiles.restore_photo(identity, assetId)
    return {"photo": photo, "user": profiles.get_user(identity.user_id)}


@mutation.field("deleteProfilePhoto")
def resolve_delete(_: Any, info: GraphQLResolveInfo, assetId: str) -> dict[str, Any]:
    context = context_of(info)
    erasure = profiles.delete_photo(context.identity, assetId, context.storage)
    return _deletion(context, erasure.deleted_asset_ids)


@mutation.field("deleteAllProfilePhotos")
def resolve_delete_all(_: Any, info: GraphQLResolveInfo) -> dict[str, Any]:
    context = context_of(info)
    erasure = profiles.delete_all_photos(context.identity, context.storage)
    return _deletion(context, erasure.deleted_asset_ids)


def _deletion(context: Context, deleted: list[str]) -> dict[str, Any]:
    user = profiles.get_user(context.identity.user_id)
    current = profiles.current_photo(user) if user is not None else None
    return {
        "deletedCount": len(deleted),
        "deletedAssetIds": deleted,
        "currentPhoto": current,
        "user": user,
    }


@mutation.field("exportProfilePhotos")
def resolve_export(_: Any, info: GraphQLResolveInfo) -> dict[str, Any]:
    context = context_of(info)
    items = sorted(
        profiles.all_photos(context.identity.user_id),
        key=lambda photo: photo.uploaded_at,
        reverse=True,
    )
    expires = datetime.fromtimestamp(context.now + context.settings.signed_url_ttl_seconds, UTC)
    return {"count": len(items), "expiresAt": iso_ms(expires), "items": items}


TYPES = [query, mutation, user_type, photo_type, exported_type]
