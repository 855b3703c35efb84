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
viewers arrive together (a page of avatars, a CDN's edge locations), so renders are
single-flight: every render, the stream's and a view's, first takes the photo's render lease,
a conditional write of `renderingUntil` on the photo's item (`store.photo_renders.claim_render`),
which also proves the photo exists: a URL of an erased photo is answered 404 without invoking
anything. A view's miss that finds the lease held gets `RenderPending`; signed fetch then
waits a moment for the holder's file and otherwise answers 503 with `Retry-After`
(`delivery`). The stream's render skips a photo whose lease is held (a view is making its
sizes) or that a render already finished (its placeholders are on the item: a view came
first, or the record is delivered again). The lease lasts `RENDER_LEASE_SECONDS`, longer
than signed fetch waits for the renditions function, so a render is never started twice
while its viewer still waits. Every render gives its lease back when it is done, made or
not (`make_renditions`): in `store.photo_renders.save_rendered`'s UpdateItem when the render
writes what it learnt (a new photo's first render), else with one conditional UpdateItem of
its own. An upload's render so costs one write more than a render without a lease (the
claim) and one read fewer (no GetItem of the lease); the claim's stream record wakes
nothing (`retentionDue` removed, rendering starts on INSERT). When signed fetch renders
through the renditions function, the function renders under the lease signed fetch took and
gives back exactly that one (its `until` travels in the request, `store.render_function`),
also when signed fetch stopped waiting for its answer.

**Erasure.** Once an erasure answers, no rendition file of the photo exists: signed fetch
serves a rendition that exists without reading the photo's item, so a file written after the
answer would be served. The lease fences renders in flight (`profiles._erase_files`):
erasure deletes the original, then the renditions, then reads the lease (one consistent
GetItem, `await_renders`); while a lease taken before that read is live, it polls
(`RENDER_POLL_SECONDS`) until the lease is given back or runs out, then deletes the
renditions again; only then go the CDN purge and the item. A render claims its lease before
it reads the original, and gives it back after its last write and its check of the original,
so a render either holds the lease when erasure reads it (erasure waits for its writes, then
deletes them), or claimed it after that read (it reads the original after its delete, and
writes nothing), or gave it back before that read (its writes came before the check of the
original; if the check found the original, the writes also came before erasure deleted the
renditions, and if it did not, the render removed them itself). An erasure with no render in
flight reads the lease once and does not wait; one with a render in flight waits at most
`RENDER_LEASE_SECONDS` (10 s, and a second for the claimer's clock; the GraphQL function's
timeout is 15 s), and so does `deleteAllProfilePhotos` for all of a user's photos: it deletes
every original before it reads the first lease. A render that outlives its lease is outside
this guarantee; renders are well within it: measured on this 2-vCPU machine, a 12 MP JPEG
renders in ~0.4 s (~1.4 s in a fresh process, the face detector's model loading) and a 100 MP
RGBA PNG, the slowest input the size limits let through, in ~3.1 s (~5 s at the renditions
function's share of a CPU, docs/performance.md). A render slower than its lease is removed
only by its own check of the original (after writing), so its files can outlive the answer
until that check.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from profile_photos.errors import Conflict, DependencyUnavailable, NotFound, RenderPending
from profile_photos.images import footprint
from profile_photos.observability import logger
from profile_photos.services import Services
from profile_photos.store import render_function
from profile_photos.store.records import Photo

if TYPE_CHECKING:
    from profile_photos.images.avatar import Rendered

SIZES: dict[str, int] = {"SMALL": 128, "MEDIUM": 512, "LARGE": 1024}
ORIGINAL = "ORIGINAL"
CONTENT_TYPE = "image/webp"
# Longer than signed fetch waits for the renditions function (store.aws.RENDER_FUNCTION: 8 s
# at worst), so no second render starts while the first one's viewer still waits; short
# enough that a holder that died without giving it back blocks a photo's sizes, and an erasure
# of the photo, for seconds.
RENDER_LEASE_SECONDS = 10
# How often an erasure looks again at a render's lease while it waits for the render: a
# render takes about half a second, so the wait outlasts it by a tenth of a second at most.
RENDER_POLL_SECONDS = 0.1
# The erasure's clock and pause, here so that a test can stand in for them.
clock = time.time
sleep = time.sleep
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


def make_renditions(services: Services, photo: Photo, until: int | None = None) -> list[str]:
    """Render every size and square of `photo` from its stored original and store them; the
    keys written. The crop box is the photo's own when it has one (the user's, or computed
    before), else computed now (faces, else the centre) and written to the item with the
    upright size and the placeholders. Nothing is left behind when the photo is erased
    meanwhile, and no square of an older crop version when the crop changed meanwhile
    (module docstring). `until`: the render lease this render holds, given back after its
    last write and its check of the original, whether it made anything or failed (None: the
    caller gives back its own lease)."""
    from profile_photos.store import photo_renders  # pynamodb: only where a render is due

    released = False
    try:
        written, learnt = _render_and_store(services, photo)
        if learnt is not None:
            photo_renders.save_rendered(
                photo,
                learnt.crop,
                learnt.width,
                learnt.height,
                learnt.thumbhash,
                learnt.dominant_color,
                lease=until,
            )
            released = True  # in the same write, or the photo (and its lease) is gone
        return written
    finally:
        if not released and until is not None:
            _release(photo, until)


def _render_and_store(services: Services, photo: Photo) -> tuple[list[str], Rendered | None]:
    """`make_renditions` without the lease: the keys written, and the render when the item
    still lacks what it learnt (the crop box, the upright size, the placeholders)."""
    from profile_photos.images import avatar  # Pillow: only where renditions are made
    from profile_photos.store import photos

    storage = services.storage
    try:
        original = storage.read(photo.bucket, photo.file_key)
    except NotFound:
        return [], None  # erased since the record was written
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
    now = photos.get_photo(photo.user_id, photo.asset_id)
    if now is None or not _exists(services, photo.bucket, photo.file_key):
        _remove(services, photo.bucket, written)
        return [], None
    if now.crop_version != photo.crop_version:  # re-cropped meanwhile: these squares are stale
        stale = set(square_keys(photo))  # this render's crop version
        _remove(services, photo.bucket, [key for key in written if key in stale])
        written = [key for key in written if key not in stale]
    if photo.crop is None or photo.width is None or photo.thumbhash is None:
        return written, made
    return written, None


def _remove(services: Services, bucket: str, keys: list[str]) -> None:
    for key in keys:
        services.storage.delete(bucket, key)


def render_new_photo(services: Services, photo: Photo, now: int) -> list[str]:
    """The stream's render of a new photo, under its render lease: skipped while a view
    holds the lease (that view makes the same files), when a render already finished, or
    when the photo is gone; otherwise `make_renditions` of the photo as its item is now."""
    from profile_photos.store import photo_renders

    until = now + RENDER_LEASE_SECONDS
    try:
        claimed = photo_renders.claim_render(
            photo.user_id, photo.asset_id, now=now, until=until, unrendered=True
        )
    except Conflict:
        return []
    if claimed is None:
        return []
    return make_renditions(services, claimed, until)


def render_photo(services: Services, user_id: str, asset_id: str, until: int) -> bool:
    """Make the renditions of the user's photo under the render lease its caller took with
    `until` (signed fetch, through the renditions function), and give that lease back; False
    when the photo does not exist (any more)."""
    from profile_photos.store import photos

    photo = photos.get_photo(user_id, asset_id)
    if photo is None:
        return False  # its item, and so its lease, is gone
    return bool(make_renditions(services, photo, until))


def ensure_rendition(services: Services, key: str, now: int | None = None) -> bool:
    """Make the renditions of the photo that `key` (a rendition's key) belongs to, if it is
    one, holding its render lease meanwhile: through the renditions function when one is
    configured (signed fetch carries no imaging libraries), else in this process. False:
    not a rendition, or no such photo (or original). `RenderPending`: another request is
    making them, or the function's answer did not come in time (it goes on, and gives the
    lease back when done)."""
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
    handed_over = False  # the render gives the lease back itself, here or in the function
    try:
        # a square of another crop version than the photo's is never made: an old URL
        # must not show the new crop (nor the old one, whose squares are removed)
        current_square = owner.crop_version in (None, photo.crop_version)
        if not current_square or not _exists(services, photo.bucket, photo.file_key):
            return False
        function = services.settings.renditions_function
        if not function:
            handed_over = True
            return bool(make_renditions(services, photo, until))
        try:
            made = render_function.render(function, owner.user_id, owner.asset_id, until)
        except RenderPending:
            handed_over = True  # the function goes on, and gives the lease back when done
            raise
        handed_over = True  # it answered: its render is over and the lease given back
        return made
    finally:
        if not handed_over:
            _release(photo, until)


def await_renders(photos: list[Photo]) -> list[Photo]:
    """Wait while renders hold the photos' render leases: the photos whose lease was live
    when read (one consistent GetItem each, more while one is held), each waited for until
    the lease read is given back, taken anew (its holder is done: the next one claimed it
    after the read) or runs out. Erasure's fence (module docstring): it reads the leases
    after deleting the originals, so a render that claims later writes nothing, and a lease
    claimed before the first read ends within `RENDER_LEASE_SECONDS` of it (a second more
    for the claimer's clock), so the whole wait is bounded by that, however many photos."""
    from profile_photos.store import photo_renders

    deadline = clock() + RENDER_LEASE_SECONDS + 1
    awaited = []
    for photo in photos:
        held = photo_renders.render_lease(photo.user_id, photo.asset_id)
        if held is None or held <= clock():
            continue
        awaited.append(photo)
        lease: int | None = held
        while lease == held and (left := min(held, deadline) - clock()) > 0:
            sleep(min(RENDER_POLL_SECONDS, left))
            lease = photo_renders.render_lease(photo.user_id, photo.asset_id)
    return awaited


def _exists(services: Services, bucket: str, key: str) -> bool:
    try:
        services.storage.read(bucket, key, include_body=False)
    except NotFound:
        return False
    return True


def _release(photo: Photo, until: int) -> None:
    """Give the lease back when no write of what a render learnt did, so the next view
    tries again at once and an erasure waits no longer; if that fails, the lease simply
    runs out."""
    from profile_photos.store import photo_renders

    try:
        photo_renders.release_render(photo.user_id, photo.asset_id, until)
    except DependencyUnavailable:
        logger.warning("render lease not released", extra={"assetId": photo.asset_id})
