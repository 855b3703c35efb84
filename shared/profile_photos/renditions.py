"""Renditions: every photo in web-safe sizes, made once, stored beside the original.

SMALL (128), MEDIUM (512) and LARGE (1024 px on the longest side, never upscaled) are WebP,
upright, sRGB and carry no metadata (`images.render`). They live under the photo's own user
prefix, beside the original (`users/{sub}/profile-picture/{assetId}.{size}.webp`), so the key
of every size follows from the original's key and nothing about them is written to a table:
retention never sees them, erasure removes them with the photo (`rendition_keys`), export
signs them beside the original.

Made by the photos table's stream (the renditions function, on INSERT) and, for a URL asked
for before the stream ran, on demand by signed fetch (`ensure_rendition`): a URL the API hands
out serves its size from the moment it is returned. Rendering twice writes the same bytes, so
at-least-once delivery and a race between the stream and a view are harmless.

**One render at a time.** A render takes a CPU for up to seconds, and a new photo's first
viewers arrive together (a page of avatars, a CDN's edge locations), so on-demand renders are
single-flight: the first miss takes the photo's render lease, a conditional write of
`renderingUntil` on the photo's item (`store.photos.claim_render`), which also proves the
photo exists: a URL of an erased photo is answered 404 without invoking anything. The other
misses get `RenderPending`; signed fetch then waits a moment for the holder's file and
otherwise answers 503 with `Retry-After` (`delivery`). The lease lasts `RENDER_LEASE_SECONDS`,
longer than signed fetch waits for the renditions function, so a render is never started
twice while its viewer still waits; it is given back when the render failed (the next view
tries again at once) and kept when it succeeded (its files answer every later view). The
stream's render skips a photo whose lease is live: a view is making (or just made) its sizes.
The stream's own render takes no lease (that would add a write, and a stream record that
wakes retention, to every upload), so a view during it can add one render, never more.

**Erasure.** A photo erased while it is being rendered gets its renditions removed again: the
render checks the original after writing, and erasure deletes the original first, then the
renditions, then the item (`profiles._erase`). Either the check comes after the original's
delete, and the render removes what it wrote, or it comes before, and so do the writes, which
erasure's later deletes remove.
"""

from __future__ import annotations

import re
import time

from profile_photos.errors import Conflict, DependencyUnavailable, NotFound, RenderPending
from profile_photos.images import footprint
from profile_photos.observability import logger
from profile_photos.services import Services
from profile_photos.store import photos, render_function
from profile_photos.store.records import Photo

SIZES: dict[str, int] = {"SMALL": 128, "MEDIUM": 512, "LARGE": 1024}
ORIGINAL = "ORIGINAL"
CONTENT_TYPE = "image/webp"
# Longer than signed fetch waits for the renditions function (store.aws.RENDER_FUNCTION: 8 s
# at worst), so no second render starts while the first one's viewer still waits; short
# enough that a holder that died without giving it back blocks a photo's sizes for seconds.
RENDER_LEASE_SECONDS = 10
RETRY_AFTER_SECONDS = 2  # a render takes about a second: when to ask again
PENDING = "Photo size is being made, retry shortly"
RENDITION_KEY = re.compile(
    r"(?P<stem>users/(?P<user>[A-Za-z0-9_-]{1,128})/profile-picture/"
    r"(?P<asset>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}))"
    r"\.(?P<size>small|medium|large)\.webp"
)


def rendition_key(file_key: str, size: str) -> str:
    """The key of `size` of the photo stored at `file_key` (`ORIGINAL`: the key itself)."""
    if size == ORIGINAL:
        return file_key
    if size not in SIZES:
        raise ValueError(f"unknown size {size!r}")
    return f"{file_key.rpartition('.')[0]}.{size.lower()}.webp"


def rendition_keys(photo: Photo) -> list[str]:
    return [rendition_key(photo.file_key, size) for size in SIZES]


def parse_rendition(key: str) -> tuple[str, str] | None:
    """(user id, asset id) of a rendition's key; None for any other key."""
    match = RENDITION_KEY.fullmatch(key)
    return (match["user"], match["asset"]) if match else None


def make_renditions(services: Services, photo: Photo) -> list[str]:
    """Render every size of `photo` from its stored original and store them; the keys
    written. Nothing is left behind when the photo is erased meanwhile (module docstring)."""
    from profile_photos.images.render import render  # Pillow: only where renditions are made

    storage = services.storage
    try:
        original = storage.read(photo.bucket, photo.file_key)
    except NotFound:
        return []  # erased since the record was written
    limit = footprint.budget(services.settings.memory_size_mb)
    made = render(
        original.body or b"", photo.content_type, tuple(SIZES.values()), memory_limit=limit
    )
    keys = []
    for size, side in SIZES.items():
        key = rendition_key(photo.file_key, size)
        storage.put(photo.bucket, key, made[side].data, CONTENT_TYPE)
        keys.append(key)
    if not _exists(services, photo.bucket, photo.file_key):
        for key in keys:
            storage.delete(photo.bucket, key)
        return []
    return keys


def render_new_photo(services: Services, photo: Photo, now: int) -> list[str]:
    """The stream's render of a new photo: skipped while a view holds its render lease (that
    view makes the same files); otherwise `make_renditions`."""
    until = photos.render_lease(photo.user_id, photo.asset_id)
    if until is not None and until > now:
        return []
    return make_renditions(services, photo)


def render_photo(services: Services, user_id: str, asset_id: str) -> bool:
    """Make the renditions of the user's photo; False when it does not exist (any more)."""
    photo = photos.get_photo(user_id, asset_id)
    return photo is not None and bool(make_renditions(services, photo))


def ensure_rendition(services: Services, key: str, now: int | None = None) -> bool:
    """Make the renditions of the photo that `key` (a rendition's key) belongs to, if it is
    one, holding its render lease meanwhile: through the renditions function when one is
    configured (signed fetch carries no imaging libraries), else in this process. False:
    not a rendition, or no such photo (or original). `RenderPending`: another request is
    making them."""
    owner = parse_rendition(key)
    if owner is None:
        return False
    now = int(time.time()) if now is None else now
    until = now + RENDER_LEASE_SECONDS
    try:
        photo = photos.claim_render(*owner, now=now, until=until)
    except Conflict:
        raise RenderPending(PENDING, RETRY_AFTER_SECONDS) from None
    if photo is None:
        return False
    made = False
    try:
        if _exists(services, photo.bucket, photo.file_key):
            function = services.settings.renditions_function
            if function:
                made = render_function.render(function, *owner)
            else:
                made = bool(make_renditions(services, photo))
    finally:
        if not made:
            _release(photo, until)
    return made


def _exists(services: Services, bucket: str, key: str) -> bool:
    try:
        services.storage.read(bucket, key, include_body=False)
    except NotFound:
        return False
    return True


def _release(photo: Photo, until: int) -> None:
    """Give the lease back after a render that made nothing, so the next view tries again
    at once; if that fails, the lease simply runs out."""
    try:
        photos.release_render(photo.user_id, photo.asset_id, until)
    except DependencyUnavailable:
        logger.warning("render lease not released", extra={"assetId": photo.asset_id})
