"""Object storage: the LOCAL filesystem provider (`local`) and the R2 provider (`r2`, botocore's
S3 client), behind one surface (`base.Storage`); `open_storage` picks the configured one."""

from __future__ import annotations

from profile_photos.settings import Settings
from profile_photos.store.storage.base import (
    APP_ASSETS,
    BUCKETS,
    FILE_NOT_FOUND,
    OBJECT_EXISTS,
    STAGING_PREFIX,
    USER_ASSETS,
    Storage,
    StoredFile,
    check_key,
)

__all__ = [
    "APP_ASSETS",
    "BUCKETS",
    "FILE_NOT_FOUND",
    "OBJECT_EXISTS",
    "STAGING_PREFIX",
    "USER_ASSETS",
    "Storage",
    "StoredFile",
    "check_key",
    "open_storage",
]


def open_storage(settings: Settings) -> Storage:
    """The configured provider (R2's client only in R2 mode)."""
    if settings.object_storage_provider == "LOCAL":
        from profile_photos.store.storage.local import LocalStorage

        return LocalStorage(settings.local_storage_base_path)
    from profile_photos.store.storage.r2 import R2Storage, r2_buckets, r2_client

    return R2Storage(r2_client(settings), r2_buckets(settings))
