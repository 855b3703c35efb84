"""Object storage's surface, shared by both providers (`local`, `r2`).

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

from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import unquote

from profile_photos.errors import NotFound

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
