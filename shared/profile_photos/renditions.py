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
at-least-once delivery and a race between the stream and a view are harmless. A photo erased
while it was being rendered gets its renditions removed again: the render re-reads the photo
after writing (erasure deletes the original, then the item, then the renditions).
"""

from __future__ import annotations

import re

from profile_photos.errors import NotFound
from profile_photos.services import Services
from profile_photos.store import photos, render_function
from profile_photos.store.records import Photo

SIZES: dict[str, int] = {"SMALL": 128, "MEDIUM": 512, "LARGE": 1024}
ORIGINAL = "ORIGINAL"
CONTENT_TYPE = "image/webp"
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
    written. Nothing is left behind when the photo was erased meanwhile."""
    from profile_photos.images.render import render  # Pillow: only where renditions are made

    storage = services.storage
    try:
        original = storage.read(photo.bucket, photo.file_key)
    except NotFound:
        return []  # erased since the record was written
    made = render(original.body or b"", photo.content_type, tuple(SIZES.values()))
    keys = []
    for size, side in SIZES.items():
        key = rendition_key(photo.file_key, size)
        storage.put(photo.bucket, key, made[side].data, CONTENT_TYPE)
        keys.append(key)
    if photos.get_photo(photo.user_id, photo.asset_id) is None:
        for key in keys:
            storage.delete(photo.bucket, key)
        return []
    return keys


def render_photo(services: Services, user_id: str, asset_id: str) -> bool:
    """Make the renditions of the user's photo; False when it does not exist (any more)."""
    photo = photos.get_photo(user_id, asset_id)
    return photo is not None and bool(make_renditions(services, photo))


def ensure_rendition(services: Services, key: str) -> bool:
    """Make the renditions of the photo that `key` (a rendition's key) belongs to, if it is
    one: through the renditions function when one is configured (signed fetch carries no
    imaging libraries), else in this process. False: not a rendition, or no such photo."""
    owner = parse_rendition(key)
    if owner is None:
        return False
    function = services.settings.renditions_function
    if function:
        return render_function.render(function, *owner)
    return render_photo(services, *owner)
