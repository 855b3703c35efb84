"""Image contents: the size from the header, and personal metadata removed without re-encoding.

Pure functions over bytes, standard library only: no pixel is decoded or re-encoded. The
public surface is this module: `read_dimensions`, `check_dimensions`, `strip_metadata` and the
limits `MAX_SIDE` and `MAX_PIXELS`. `content_type` is the canonical type `validation` settled
on (image/jpeg, image/png, image/gif, image/webp, image/heic, image/heif); any other is
refused. One module per format holds its walker, its header read and its allowlist: `jpeg`,
`png`, `gif`, `webp` and `heif` (ISO-BMFF boxes, `iinf`, `ipma`, `iloc`); `binary` has the
bounded field reader they all read through, `exif` the orientation carried over and the
minimal Exif that holds it.

Bounded parsing. Every walk over the container (JPEG segments and the entropy-coded data of
each scan, PNG chunks, GIF blocks and sub-blocks, RIFF chunks, ISO-BMFF boxes, `iinf`, `ipma`
and `iloc` entries and `iloc` extents) either advances by at least one byte a step or has its
count checked against the bytes left to hold it, and no extent is read twice, so work and
memory are linear in the file size. A structure that breaks this (a length field smaller
than its header or pointing outside its parent, a zero-length, out-of-file or overlapping
extent, a count its box cannot hold, a field size the format does not define) makes the file
invalid: `UnsupportedMediaType` (415) with a message starting `Invalid image file:`, never an
IndexError. `read_dimensions` walks the whole structure `strip_metadata` walks, so a file it
accepts is one `strip_metadata` can strip: an upload is refused before anything is charged.

`read_dimensions` reads the size a decoder allocates, from the header, before any orientation
is applied: JPEG's first SOF, PNG's IHDR, WebP's VP8X canvas or VP8/VP8L frame, GIF's logical
screen widened to any frame reaching past it, the HEIC/HEIF primary item's `ispe` (the coded
size, before `clap` and `irot`). `check_dimensions` refuses decompression bombs: more than
`MAX_SIDE` px a side or `MAX_PIXELS` (100 megapixels) in all.

`strip_metadata` keeps an allowlist: what changes how the primary image looks (orientation,
colour profile, the image data) and nothing else; each format's module lists what it keeps.
Where a removed Exif block held an Orientation other than 1 (or, lacking Exif, an XMP
`tiff:Orientation`), a minimal big-endian Exif holding only IFD0/Orientation takes its place.
JPEG, PNG, GIF and WebP are rewritten from the parts kept; HEIC/HEIF boxes are not rewritten:
the Exif and XMP item payloads are blanked in place. Zero bytes after the end of the image
(the padding some tools write) carry nothing and are kept; any other byte there makes the
whole tail go. A file with nothing to remove is returned as the very same object.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple, TypeVar

from profile_photos.errors import UnsupportedMediaType
from profile_photos.images import gif, heif, jpeg, png, webp
from profile_photos.images.binary import Malformed

__all__ = ["MAX_PIXELS", "MAX_SIDE", "check_dimensions", "read_dimensions", "strip_metadata"]

MAX_SIDE = 16384
MAX_PIXELS = 100_000_000

_Result = TypeVar("_Result")


class _Format(NamedTuple):
    name: str  # as messages spell it
    dimensions: Callable[[bytes], tuple[int, int]]
    strip: Callable[[bytes], bytes]


_FORMATS = {
    "image/jpeg": _Format("JPEG", jpeg.dimensions, jpeg.strip),
    "image/png": _Format("PNG", png.dimensions, png.strip),
    "image/gif": _Format("GIF", gif.dimensions, gif.strip),
    "image/webp": _Format("WebP", webp.dimensions, webp.strip),
    "image/heic": _Format("HEIC", heif.dimensions, heif.strip),
    "image/heif": _Format("HEIF", heif.dimensions, heif.strip),
}


def read_dimensions(data: bytes, content_type: str) -> tuple[int, int]:
    """(width, height) in pixels, read from the image header of a file of `content_type`."""
    image_format = _format(content_type)
    width, height = _parse(image_format.name, image_format.dimensions, data)
    if width <= 0 or height <= 0:
        raise UnsupportedMediaType(
            f"Invalid image file: the {image_format.name} header gives an empty size: "
            f"{width}x{height} px"
        )
    return width, height


def check_dimensions(width: int, height: int) -> None:
    """Refuse images too large to decode safely (decompression bombs)."""
    if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
        raise UnsupportedMediaType(
            f"Image is {width}x{height} px; the maximum is {MAX_SIDE} px a side "
            f"and {MAX_PIXELS // 1_000_000} megapixels"
        )


def strip_metadata(data: bytes, content_type: str) -> bytes:
    """`data` without personal metadata; `data` itself when there was nothing to remove."""
    image_format = _format(content_type)
    stripped = _parse(image_format.name, image_format.strip, data)
    return data if stripped == data else stripped


def _format(content_type: str) -> _Format:
    try:
        return _FORMATS[content_type]
    except KeyError:
        raise UnsupportedMediaType(f"Cannot read the contents of {content_type} files") from None


def _parse(name: str, parser: Callable[[bytes], _Result], data: bytes) -> _Result:
    """`parser(data)`, its `Malformed` reported as an invalid file of format `name`."""
    try:
        return parser(data)
    except Malformed as exc:
        raise UnsupportedMediaType(
            f"Invalid image file: the {name} file structure is invalid: {exc}"
        ) from exc
