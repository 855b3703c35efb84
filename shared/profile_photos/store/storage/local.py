"""LOCAL storage: files under `<base>/<bucket>/<key>` on a disk the function can write."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import replace
from pathlib import Path

from profile_photos.errors import Conflict, DependencyUnavailable, NotFound
from profile_photos.settings import KNOWN_EXTENSIONS
from profile_photos.store.storage.base import (
    BUCKETS,
    FILE_NOT_FOUND,
    OBJECT_EXISTS,
    StoredFile,
    check_key,
)


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    candidates = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in candidates or etag in candidates


def _sync_directory(directory: Path) -> None:
    """Make a new directory entry durable (a file renamed or linked into place)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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
        place instead, which fails if the key holds a file: `Conflict`, nothing changed.

        A failing disk (full, refused) is `DependencyUnavailable` with nothing left at the
        key: an exclusive write whose temporary file or metadata cannot be finished takes
        its link back, so the client's retry of the same PUT is not refused as a duplicate.
        """
        path = self._path(bucket, key)
        try:
            if metadata and not exclusive:
                self._write_metadata(bucket, key, metadata)
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
            placed = False
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())  # on disk before any row can name it
                if not exclusive:
                    os.replace(tmp_name, path)
                    placed = True
                    try:
                        _sync_directory(path.parent)
                    except OSError:
                        path.unlink(missing_ok=True)  # a failed write leaves nothing behind
                        raise
                    return
                os.link(tmp_name, path)  # atomic, and refuses an existing file
                try:
                    _sync_directory(path.parent)
                    os.unlink(tmp_name)
                    placed = True
                    if metadata:
                        self._write_metadata(bucket, key, metadata)
                except OSError:
                    path.unlink(missing_ok=True)
                    raise
            except FileExistsError:
                raise Conflict(OBJECT_EXISTS) from None
            finally:
                if not placed:
                    Path(tmp_name).unlink(missing_ok=True)
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
            return self._read(bucket, key, path, include_body, if_none_match, inline_limit)
        except (FileNotFoundError, NotADirectoryError) as exc:
            raise NotFound(FILE_NOT_FOUND) from exc
        except OSError as exc:  # the disk refused (permissions, I/O error)
            raise DependencyUnavailable("Object storage is unavailable") from exc

    def _read(
        self,
        bucket: str,
        key: str,
        path: Path,
        include_body: bool,
        if_none_match: str | None,
        inline_limit: int | None,
    ) -> StoredFile:
        stat = path.stat()
        if not path.is_file():
            raise NotFound(FILE_NOT_FOUND)
        extension = path.suffix.lower().lstrip(".")
        meta = StoredFile(
            size=stat.st_size,
            etag=f'"{stat.st_mtime_ns:x}-{stat.st_size:x}"',
            content_type=KNOWN_EXTENSIONS.get(extension, "application/octet-stream"),
        )
        if etag_matches(if_none_match, meta.etag):
            return replace(meta, not_modified=True)
        if inline_limit is not None and meta.size > inline_limit:
            return replace(meta, too_large=True)
        sidecar = self._metadata_path(bucket, key)
        if sidecar.exists():
            meta = replace(meta, metadata=json.loads(sidecar.read_text()))
        if not include_body:
            return meta
        return replace(meta, body=path.read_bytes())

    def delete(self, bucket: str, key: str) -> None:
        path, sidecar = self._path(bucket, key), self._metadata_path(bucket, key)
        try:
            path.unlink(missing_ok=True)
            sidecar.unlink(missing_ok=True)
        except OSError as exc:
            raise DependencyUnavailable("Object storage is unavailable") from exc

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
