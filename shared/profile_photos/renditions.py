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
`renderingUntil` on the photo's item (`store.photo_renders.claim_render`), which also proves
the photo exists: a URL of an erased photo is answered 404 without invoking anything. The other
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
from dataclasses import dataclass

from profile_photos.errors import Conflict, DependencyUnavailable, NotFound, RenderPending
from profile_photos.images import footprint
from profile_photos.observability import logger
from profile_photos.services import Services
from profile_photos.store import render_function
from profile_photos.store.records import Photo

SIZES: dict[str, int] = {"SMALL": 128, "MEDIUM": 512, "LARGE": 1024}
ORIGINAL = "ORIGINAL"
CONTENT_TYPE = "image/webp"
# Longer than signed fetch waits for the renditions function (store.aws.RENDER_FUNCTION: 8 s
# at worst), so no second render starts while the first one's viewer still waits; short
# enough that a holder that died without giving it back blocks a photo's sizes for seconds.
RENDER_LEASE_SECONDS = 10
RETRY_AFTER_SECONDS = render_function.RETRY_AFTER_SECONDS
PENDING = render_function.PENDING
RENDITION_KEY = re.compile(
    r"(?P<stem>users/(?P<user>[A-Za-z0-9_-]{1,128})/profile-picture/"
    r"(?P<asset>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}))"
    r"\.(?P<size>small|medium|large)(?:\.sq(?P<version>0|[1-9][0-9]{0,8}))?\.webp"
)


@dataclass(frozen=True, slots=True)
class RenditionOf:
    """Whose photo a rendition's key belongs to; `crop_version` for a square one."""

    user_id: str
    asset_id: str
    crop_version: int | None


def rendition_key(file_key: str, size: str, square: bool = False, crop_version: int = 0) -> str:
    """The key of `size` of the photo stored at `file_key` (`ORIGINAL`: the key itself). A
    square's key names the crop version it was cut with, so a changed crop is a new key
    (and a new URL) and no cache can answer it with the old square."""
    if size == ORIGINAL:
        if square:
            raise ValueError("the original has no square rendition")
        return file_key
    if size not in SIZES:
        raise ValueError(f"unknown size {size!r}")
    stem = file_key.rpartition(".")[0]
    return (
        f"{stem}.{size.lower()}.sq{crop_version}.webp" if square else f"{stem}.{size.lower()}.webp"
    )


def square_keys(photo: Photo, versions: range | None = None) -> list[str]:
    """The squares of the photo's crop `versions` (its current one by default)."""
    versions = versions or range(photo.crop_version, photo.crop_version + 1)
    return [
        rendition_key(photo.file_key, size, True, version) for version in versions for size in SIZES
    ]


def rendition_keys(photo: Photo) -> list[str]:
    """Every rendition the photo can have: each size, and the squares of every crop version
    it has had. A crop change removes the older squares, but when it failed half way only
    a later change or the erasure finds what was left, so erasure looks at every version
    (crop changes are rate-limited: the list stays short)."""
    sizes = [rendition_key(photo.file_key, size) for size in SIZES]
    return sizes + square_keys(photo, range(photo.crop_version + 1))


def parse_rendition(key: str) -> RenditionOf | None:
    """Whose rendition `key` is; None for any other key."""
    match = RENDITION_KEY.fullmatch(key)
    if match is None:
        return None
    version = match["version"]
    return RenditionOf(match["user"], match["asset"], None if version is None else int(version))


def make_renditions(services: Services, photo: Photo) -> list[str]:
    """Render every size and square of `photo` from its stored original and store them; the
    keys written. The crop box is the photo's own when it has one (the user's, or computed
    before), else computed now (faces, else the centre) and written to the item with the
    upright size and the placeholders. Nothing is left behind when the photo is erased
    meanwhile, and no square of an older crop version when the crop changed meanwhile
    (module docstring)."""
    from profile_photos.images import avatar  # Pillow: only where renditions are made

    storage = services.storage
    try:
        original = storage.read(photo.bucket, photo.file_key)
    except NotFound:
        return []  # erased since the record was written
    limit = footprint.budget(services.settings.memory_size_mb)
    made = avatar.render_photo(
        original.body or b"",
        photo.content_type,
        tuple(SIZES.values()),
        crop=photo.crop,
        memory_limit=limit,
    )
    written: list[str] = []
    for size, side in SIZES.items():
        for key, rendition in (
            (rendition_key(photo.file_key, size), made.sizes[side]),
            (rendition_key(photo.file_key, size, True, photo.crop_version), made.squares[side]),
        ):
            storage.put(photo.bucket, key, rendition.data, CONTENT_TYPE)
            written.append(key)
    from profile_photos.store import photo_renders, photos

    now = photos.get_photo(photo.user_id, photo.asset_id)
    if now is None or not _exists(services, photo.bucket, photo.file_key):
        _remove(services, photo.bucket, written)
        return []
    if now.crop_version != photo.crop_version:  # re-cropped meanwhile: these squares are stale
        stale = set(square_keys(photo))  # this render's crop version
        _remove(services, photo.bucket, [key for key in written if key in stale])
        written = [key for key in written if key not in stale]
    if photo.crop is None or photo.width is None or photo.thumbhash is None:
        photo_renders.save_rendered(
            photo, made.crop, made.width, made.height, made.thumbhash, made.dominant_color
        )
    return written


def _remove(services: Services, bucket: str, keys: list[str]) -> None:
    for key in keys:
        services.storage.delete(bucket, key)


def render_new_photo(services: Services, photo: Photo, now: int) -> list[str]:
    """The stream's render of a new photo: skipped while a view holds its render lease (that
    view makes the same files); otherwise `make_renditions`."""
    from profile_photos.store import photo_renders

    until = photo_renders.render_lease(photo.user_id, photo.asset_id)
    if until is not None and until > now:
        return []
    return make_renditions(services, photo)


def render_photo(services: Services, user_id: str, asset_id: str) -> bool:
    """Make the renditions of the user's photo; False when it does not exist (any more)."""
    from profile_photos.store import photos

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
    from profile_photos.store import photo_renders  # pynamodb: only where a render is due

    try:
        photo = photo_renders.claim_render(owner.user_id, owner.asset_id, now=now, until=until)
    except Conflict:
        raise RenderPending(PENDING, RETRY_AFTER_SECONDS) from None
    if photo is None:
        return False
    made = rendering = False
    try:
        # a square of another crop version than the photo's is never made: an old URL
        # must not show the new crop (nor the old one, whose squares are removed)
        current_square = owner.crop_version in (None, photo.crop_version)
        if current_square and _exists(services, photo.bucket, photo.file_key):
            function = services.settings.renditions_function
            if function:
                made = render_function.render(function, owner.user_id, owner.asset_id)
            else:
                made = bool(make_renditions(services, photo))
    except RenderPending:
        rendering = True  # the function goes on: the lease stays its own until it runs out
        raise
    finally:
        if not made and not rendering:
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
    from profile_photos.store import photo_renders

    try:
        photo_renders.release_render(photo.user_id, photo.asset_id, until)
    except DependencyUnavailable:
        logger.warning("render lease not released", extra={"assetId": photo.asset_id})
