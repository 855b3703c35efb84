"""Object storage: the LOCAL filesystem provider and the R2 provider (boto3's S3 client).

Both offer the same small surface: `put` (optionally `exclusive`: only if the key is free, else
`Conflict`), `read`, `delete`, `presigned_get`, `presigned_put` (R2: with `If-None-Match: *`
signed in, so a presigned PUT never replaces an object). Buckets are the
logical names used in URLs (`user-assets`, `app-assets`); R2 maps them to the configured
bucket names. Keys are checked before any I/O: no `..`, `.` or empty segment, no absolute
path, backslash or NUL (also after percent-decoding), and the LOCAL provider additionally
refuses any resolved path (symlinks followed) outside the bucket's directory. A refused key
reads as "not found": it names nothing we store.
"""

from __future__ import annotations

import functools
import json
import os
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import unquote

from profile_photos.errors import Conflict, DependencyUnavailable, NotFound
from profile_photos.settings import KNOWN_EXTENSIONS, Settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

USER_ASSETS = "user-assets"
APP_ASSETS = "app-assets"
BUCKETS = (USER_ASSETS, APP_ASSETS)
STAGING_PREFIX = "staging/"  # direct uploads wait here until `complete` (or expiry)
FILE_NOT_FOUND = "File not found"
OBJECT_EXISTS = "An object already exists at this key"


@dataclass(frozen=True, slots=True)
class StoredFile:
    """One object as read from storage. `body` is None for HEAD, 304 and too-large reads."""

    size: int
    etag: str
    content_type: str
    body: bytes | None = None
    not_modified: bool = False
    too_large: bool = False
    metadata: dict[str, str] = field(default_factory=dict)


class Storage(Protocol):
    def put(
        self,
        bucket: str,
        key: str,
        data: bytes,
        content_type: str,
        metadata: dict[str, str] | None = None,
        *,
        exclusive: bool = False,
    ) -> None: ...

    def read(
        self,
        bucket: str,
        key: str,
        *,
        include_body: bool = True,
        if_none_match: str | None = None,
        inline_limit: int | None = None,
    ) -> StoredFile: ...

    def delete(self, bucket: str, key: str) -> None: ...

    def presigned_get(self, bucket: str, key: str, expires_in: int) -> str | None: ...

    def presigned_put(
        self,
        bucket: str,
        key: str,
        *,
        content_type: str,
        size: int,
        metadata: dict[str, str],
        expires_in: int,
    ) -> tuple[str, dict[str, str]] | None: ...


def check_key(key: str) -> str:
    """Return `key` if it is a safe relative object key, else raise `NotFound`."""
    for form in {key, unquote(key)}:
        if (
            not form
            or form.startswith("/")
            or "\\" in form
            or "\x00" in form
            or any(part in ("", ".", "..") for part in form.split("/"))
        ):
            raise NotFound(FILE_NOT_FOUND)
    return key


def _etag_matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    candidates = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in candidates or etag in candidates


class LocalStorage:
    """Files under `<base>/<bucket>/<key>`, written atomically, typed by their extension.

    The ETag is derived from modification time and size (as nginx does): objects are
    immutable (every key holds a fresh UUID), so it changes only if a file is replaced.
    """

    def __init__(self, base_path: Path) -> None:
        self.base_path = base_path

    def _path(self, bucket: str, key: str) -> Path:
        if bucket not in BUCKETS:
            raise NotFound(FILE_NOT_FOUND)
        root = (self.base_path / bucket).resolve()
        path = (root / check_key(key)).resolve()
        if not path.is_relative_to(root):
            raise NotFound(FILE_NOT_FOUND)
        return path

    def _metadata_path(self, bucket: str, key: str) -> Path:
        """Object metadata lives beside the buckets, never inside one (so never served)."""
        return self.base_path / ".metadata" / bucket / f"{check_key(key)}.json"

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
        """Write atomically (a temporary file renamed into place). `exclusive` links it into
        place instead, which fails if the key holds a file: `Conflict`, nothing changed."""
        path = self._path(bucket, key)
        try:
            if metadata and not exclusive:
                self._write_metadata(bucket, key, metadata)
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                if exclusive:
                    os.link(tmp_name, path)  # atomic, and refuses an existing file
                else:
                    os.replace(tmp_name, path)
            except FileExistsError:
                raise Conflict(OBJECT_EXISTS) from None
            finally:
                Path(tmp_name).unlink(missing_ok=True)
            if metadata and exclusive:
                self._write_metadata(bucket, key, metadata)
        except OSError as exc:
            raise DependencyUnavailable("Object storage is unavailable") from exc

    def _write_metadata(self, bucket: str, key: str, metadata: dict[str, str]) -> None:
        sidecar = self._metadata_path(bucket, key)
        sidecar.parent.mkdir(parents=True, exist_ok=True)
        sidecar.write_text(json.dumps(metadata))

    def read(
        self,
        bucket: str,
        key: str,
        *,
        include_body: bool = True,
        if_none_match: str | None = None,
        inline_limit: int | None = None,
    ) -> StoredFile:
        path = self._path(bucket, key)
        try:
            stat = path.stat()
        except (FileNotFoundError, NotADirectoryError) as exc:
            raise NotFound(FILE_NOT_FOUND) from exc
        if not path.is_file():
            raise NotFound(FILE_NOT_FOUND)
        extension = path.suffix.lower().lstrip(".")
        meta = StoredFile(
            size=stat.st_size,
            etag=f'"{stat.st_mtime_ns:x}-{stat.st_size:x}"',
            content_type=KNOWN_EXTENSIONS.get(extension, "application/octet-stream"),
        )
        if _etag_matches(if_none_match, meta.etag):
            return replace(meta, not_modified=True)
        if inline_limit is not None and meta.size > inline_limit:
            return replace(meta, too_large=True)
        sidecar = self._metadata_path(bucket, key)
        if sidecar.exists():
            meta = replace(meta, metadata=json.loads(sidecar.read_text()))
        if not include_body:
            return meta
        try:
            return replace(meta, body=path.read_bytes())
        except FileNotFoundError as exc:
            raise NotFound(FILE_NOT_FOUND) from exc

    def delete(self, bucket: str, key: str) -> None:
        self._path(bucket, key).unlink(missing_ok=True)
        self._metadata_path(bucket, key).unlink(missing_ok=True)

    def presigned_get(self, bucket: str, key: str, expires_in: int) -> str | None:
        return None  # files are always served through the signed endpoint

    def presigned_put(
        self,
        bucket: str,
        key: str,
        *,
        content_type: str,
        size: int,
        metadata: dict[str, str],
        expires_in: int,
    ) -> tuple[str, dict[str, str]] | None:
        return None  # LOCAL receives direct uploads through the signed endpoint (PUT token)


class R2Storage:
    """Cloudflare R2 through boto3's S3 client (SigV4, region `auto`)."""

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


@functools.cache
def get_storage(settings: Settings) -> Storage:
    """The configured provider, created once per container (R2's client on first use)."""
    if settings.object_storage_provider == "LOCAL":
        return LocalStorage(settings.local_storage_base_path)
    return R2Storage(_r2_client(settings), _r2_buckets(settings))


def _r2_buckets(settings: Settings) -> dict[str, str]:
    buckets = {USER_ASSETS: settings.r2_user_assets_bucket or ""}
    if settings.r2_app_assets_bucket:
        buckets[APP_ASSETS] = settings.r2_app_assets_bucket
    return buckets


def _r2_client(settings: Settings) -> S3Client:
    import boto3  # only R2 mode pays for boto3's import
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=settings.r2_endpoint,
        region_name="auto",
        aws_access_key_id=settings.r2_access_key_id,
        aws_secret_access_key=settings.r2_secret_access_key,
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            retries={"mode": "standard", "max_attempts": 3},
            connect_timeout=3,
            read_timeout=10,
        ),
    )
