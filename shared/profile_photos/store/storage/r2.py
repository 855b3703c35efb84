"""R2 storage: Cloudflare R2 (or any S3 API) through botocore's S3 client."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from profile_photos.errors import Conflict, DependencyUnavailable, NotFound
from profile_photos.settings import Settings
from profile_photos.store.storage.base import (
    APP_ASSETS,
    FILE_NOT_FOUND,
    OBJECT_EXISTS,
    USER_ASSETS,
    StoredFile,
    check_key,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class R2Storage:
    """Cloudflare R2 through botocore's S3 client (SigV4, region `auto`)."""

    def __init__(self, client: S3Client, buckets: dict[str, str]) -> None:
        self.client = client
        self.buckets = buckets

    def _bucket(self, bucket: str) -> str:
        try:
            return self.buckets[bucket]
        except KeyError:
            raise NotFound(FILE_NOT_FOUND) from None

    def put(
        self,
        bucket: str,
        key: str,
        data: bytes,
        content_type: str,
        metadata: dict[str, str] | None = None,
        *,
        exclusive: bool = False,
    ) -> None:
        self._call(
            "put_object",
            Bucket=self._bucket(bucket),
            Key=check_key(key),
            Body=data,
            ContentType=content_type,
            Metadata=metadata or {},
            **({"IfNoneMatch": "*"} if exclusive else {}),
        )

    def read(
        self,
        bucket: str,
        key: str,
        *,
        include_body: bool = True,
        if_none_match: str | None = None,
        inline_limit: int | None = None,
    ) -> StoredFile:
        params: dict[str, Any] = {"Bucket": self._bucket(bucket), "Key": check_key(key)}
        if if_none_match:
            params["IfNoneMatch"] = if_none_match
        try:
            response = self._call("get_object" if include_body else "head_object", **params)
        except _NotModified as exc:
            # A 304 carries only the ETag: nothing else is sent back to the client.
            return StoredFile(size=0, etag=exc.etag, content_type="", not_modified=True)
        meta = StoredFile(
            size=response["ContentLength"],
            etag=response["ETag"],
            content_type=response.get("ContentType") or "application/octet-stream",
            metadata=response.get("Metadata") or {},
        )
        if not include_body:
            return meta
        stream = response["Body"]
        try:
            if inline_limit is not None and meta.size > inline_limit:
                return replace(meta, too_large=True)
            return replace(meta, body=stream.read())
        finally:
            stream.close()

    def delete(self, bucket: str, key: str) -> None:
        self._call("delete_object", Bucket=self._bucket(bucket), Key=check_key(key))

    def presigned_get(self, bucket: str, key: str, expires_in: int) -> str:
        return self.client.generate_presigned_url(
            "get_object",
            Params={"Bucket": self._bucket(bucket), "Key": check_key(key)},
            ExpiresIn=expires_in,
        )

    def presigned_put(
        self,
        bucket: str,
        key: str,
        *,
        content_type: str,
        size: int,
        metadata: dict[str, str],
        expires_in: int,
    ) -> tuple[str, dict[str, str]]:
        """A presigned PUT with Content-Type, Content-Length, metadata and `If-None-Match: *`
        in the signature: R2 refuses the upload unless the client sends exactly these
        headers, and refuses it (412) when the key already holds an object."""
        url = self.client.generate_presigned_url(
            "put_object",
            Params={
                "Bucket": self._bucket(bucket),
                "Key": check_key(key),
                "ContentType": content_type,
                "ContentLength": size,
                "Metadata": metadata,
                "IfNoneMatch": "*",
            },
            ExpiresIn=expires_in,
        )
        headers = {"Content-Type": content_type, "Content-Length": str(size), "If-None-Match": "*"}
        headers |= {f"x-amz-meta-{name}": value for name, value in metadata.items()}
        return url, headers

    def _call(self, operation: str, **params: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self.client, operation)(**params)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if error.get("Code") in ("NoSuchKey", "404", "NotFound") or status == 404:
                raise NotFound(FILE_NOT_FOUND) from exc
            if error.get("Code") == "PreconditionFailed" and operation == "put_object":
                raise Conflict(OBJECT_EXISTS) from exc
            if status == 304 or error.get("Code") == "304":
                headers = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
                raise _NotModified(headers.get("etag", params.get("IfNoneMatch", ""))) from exc
            raise DependencyUnavailable("Object storage is unavailable") from exc
        except BotoCoreError as exc:
            raise DependencyUnavailable("Object storage is unavailable") from exc


class _NotModified(Exception):
    def __init__(self, etag: str) -> None:
        super().__init__(etag)
        self.etag = etag


def r2_buckets(settings: Settings) -> dict[str, str]:
    buckets = {USER_ASSETS: settings.r2_user_assets_bucket or ""}
    if settings.r2_app_assets_bucket:
        buckets[APP_ASSETS] = settings.r2_app_assets_bucket
    return buckets


def r2_client(settings: Settings) -> S3Client:
    """An S3 client for R2 on the container's one botocore session, with the timeouts of
    `store.aws.OBJECT_STORAGE` (`store.aws.client`: botocore's, without boto3's import)."""
    from profile_photos.store.aws import client

    r2: S3Client = client(
        "s3",
        endpoint_url=settings.r2_endpoint,
        region_name="auto",
        aws_access_key_id=settings.r2_access_key_id,
        aws_secret_access_key=settings.r2_secret_access_key,
        config={"signature_version": "s3v4", "s3": {"addressing_style": "path"}},
    )
    return r2
