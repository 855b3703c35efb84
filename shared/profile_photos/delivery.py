"""Serving a file to the holder of a signed URL: the token and the object store, nothing else.

No DynamoDB is read: the token names the file and grants the operation, so one object-store
request answers every signed-URL hit.
"""

from __future__ import annotations

from dataclasses import dataclass

from profile_photos.settings import MAX_PRESIGN_SECONDS, Settings
from profile_photos.signing import verify_token
from profile_photos.storage import Storage, StoredFile

# A Lambda response is capped at 6 MB (6,291,456 bytes) after base64. Keeping 16 KiB for the
# status line, headers and JSON envelope, files up to this size are served inline; larger R2
# files are answered with a redirect to a presigned GET.
LAMBDA_RESPONSE_LIMIT = 6_291_456
MAX_INLINE_BYTES = (LAMBDA_RESPONSE_LIMIT - 16_384) // 4 * 3


@dataclass(frozen=True, slots=True)
class Delivery:
    """What a signed-URL request gets: the file (or a 304), or a redirect for large R2 files."""

    file: StoredFile
    max_age: int
    redirect_url: str | None = None


def deliver_signed(
    bucket: str,
    path: str,
    token: str | None,
    *,
    head: bool,
    if_none_match: str | None,
    settings: Settings,
    storage: Storage,
    now: int,
) -> Delivery:
    """Check the token for GET on exactly `bucket/path`, then read the object (one request)."""
    expires = verify_token(
        settings.local_storage_secret, token, bucket=bucket, path=path, operation="GET", now=now
    )
    max_age = expires - now
    inline_limit = MAX_INLINE_BYTES if settings.object_storage_provider == "R2" else None
    file = storage.read(
        bucket, path, include_body=not head, if_none_match=if_none_match, inline_limit=inline_limit
    )
    if file.too_large:
        return Delivery(
            file,
            max_age,
            redirect_url=storage.presigned_get(bucket, path, min(max_age, MAX_PRESIGN_SECONDS)),
        )
    return Delivery(file, max_age)
