"""What decoding a file will cost, priced from its header before a pixel is decoded.

The pixel cap (`images.check_dimensions`, 100 MP) bounds the image, not the decoder: the same
100 MP cost 28 MB as a baseline JPEG (decoded at a DCT scale), 600 MB as a 4:4:4 progressive
JPEG (its whole coefficient buffer) and 1.5 GB as a WebP (Pillow decodes every WebP through
libwebp's animation decoder: two RGBA canvases and a copy), and a progressive JPEG walks that
buffer once per scan. So each file is priced twice, from its header only, and refused when
either price is over its limit:

- **memory**: the decoder's peak, `pixels x BYTES_PER_PIXEL` of its format and mode (for a
  progressive JPEG, 2 bytes per coefficient of each component at its own sampling), against
  `budget(memory_mb)`: 70% of the function's memory, less `RESERVED_MB` for the process
  itself (the interpreter, the handler's imports, Pillow, the request's own bytes);
- **work**, where the pixel cap does not bound it: a JPEG's coefficient blocks visited,
  summed over every scan's components, against `MAX_SCAN_BLOCKS` (baseline files visit each
  block once; libjpeg's standard progressive script visits a 4:4:4 image's blocks about 4.4
  times, 21 M at the memory limit; a repeated refinement scan adds a whole pass each time),
  and a PNG's inflated bytes (rows of 16-bit samples are twice as many bytes to inflate and
  unfilter as 8-bit ones) against `MAX_INFLATED_BYTES`.

The factors are measured, not derived (`make bench`, hostile files: the peak resident set of a
fresh process decoding each format's worst case, minus the process before the decode), and
the bench checks each format's largest accepted file stays within its budget. Decoding paths
that both use them: the upload's decode check (`images.decoding`) and the renditions
(`renditions.make_renditions`).

Standard library only, like the parsers it reads through.
"""

from __future__ import annotations

from dataclasses import dataclass

from profile_photos.errors import UnsupportedMediaType
from profile_photos.images import check_dimensions, jpeg, read_dimensions
from profile_photos.images.binary import Malformed, uint

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_INFLATED_BYTES",
    "MAX_SCAN_BLOCKS",
    "Price",
    "budget",
    "check",
    "price",
]

MIB = 1024 * 1024
MEMORY_SHARE = 0.70  # of the function's MemorySize: the rest is headroom
RESERVED_MB = 160  # the process before the decode (handler, Pillow, the request's bytes)
# Above libjpeg's standard progressive script on the largest 4:4:4 photo the memory budget
# admits (21 M); a flat image's repeated refinement scans cost up to ~100 ns a block here.
# The worst case at each limit is in `make bench` (hostile files), against the Timeout.
MAX_SCAN_BLOCKS = 24_000_000
MAX_INFLATED_BYTES = 420_000_000  # a 100 MP 8-bit RGBA PNG and its filter bytes; 16-bit: 52 MP

# Bytes per pixel at the decoder's peak, measured on 100 MP files (see the module doc).
WEBP = 16.0  # Pillow 13: libwebp's WebPAnimDecoder for every WebP, still or animated
HEIF = 7.0  # pillow-heif: libheif's RGB plane + Pillow's copy (grids: the assembled canvas)
GIF = 1.5  # palette index per pixel (the first frame, on the logical screen)
PNG_RENDER = 1.3  # a rendition's working copies over the decoded image
# PNG: Pillow's storage per pixel of each (colour type, bit depth): 4 bytes for RGB, RGBA and
# LA (Pillow stores them in 32 bits); 1 for grey and palette; 16-bit grey is I;16 (2), and a
# rendition scales it through a 32-bit copy (+4) to 8 bits (+1).
_PNG_BYTES = {0: 1.0, 2: 4.0, 3: 1.0, 4: 4.0, 6: 4.0}
_PNG_GREY16 = 7.0
_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # samples per pixel of each colour type
_COEFFICIENT = 2  # bytes: a progressive JPEG keeps every DCT coefficient as a 16-bit value
_DRAFT_REDUCTION = 4  # a baseline JPEG over 2048 px decodes at <= 1/2 scale (both sides)
_DRAFT_FLOOR = 2048 * 2048  # ... and one under it has at most this many pixels


def budget(memory_mb: int) -> int:
    """Bytes a decode may take in a function of `memory_mb` MB (at least 64 MiB)."""
    return max(64 * MIB, int(memory_mb * MEMORY_SHARE) * MIB - RESERVED_MB * MIB)


DEFAULT_LIMIT = budget(1024)  # the imaging functions' MemorySize in template.yaml


@dataclass(frozen=True, slots=True)
class Price:
    """What decoding a file's primary image costs."""

    memory: int  # bytes at the decoder's peak
    scan_blocks: int = 0  # JPEG: coefficient blocks visited, over every scan
    inflated: int = 0  # PNG: bytes inflated and unfiltered


def price(data: bytes, content_type: str) -> Price:
    """The price of decoding `data`'s primary image, from its header."""
    return _price(data, content_type, *read_dimensions(data, content_type))


def _price(data: bytes, content_type: str, width: int, height: int) -> Price:
    """`price`, for a header already read (`width` x `height`)."""
    pixels = width * height
    if content_type == "image/jpeg":
        return _jpeg(data)
    if content_type == "image/png":
        depth, colour = uint(data, 24, 1), uint(data, 25, 1)
        row = _up(width * _PNG_CHANNELS.get(colour, 4) * depth, 8) + 1  # + the filter byte
        memory = int(pixels * _png_bytes(depth, colour) * PNG_RENDER)
        return Price(memory, inflated=row * height)
    if content_type == "image/webp":
        return Price(int(pixels * WEBP))
    if content_type == "image/gif":
        return Price(int(pixels * GIF))
    if content_type in ("image/heic", "image/heif"):
        return Price(int(pixels * HEIF))
    raise UnsupportedMediaType(f"Cannot read the contents of {content_type} files")


def check(data: bytes, content_type: str, limit: int) -> None:
    """Refuse `data` (415) when its header is invalid or over the pixel cap, or when decoding
    it would take more than `limit` bytes or `MAX_SCAN_BLOCKS` coefficient blocks."""
    width, height = read_dimensions(data, content_type)
    check_dimensions(width, height)
    cost = _price(data, content_type, width, height)
    if cost.scan_blocks > MAX_SCAN_BLOCKS:
        raise UnsupportedMediaType(
            f"Invalid image file: its scans decode {cost.scan_blocks / 1e6:.1f} million "
            f"blocks; the maximum is {MAX_SCAN_BLOCKS // 1_000_000} million"
        )
    if cost.inflated > MAX_INFLATED_BYTES:
        raise UnsupportedMediaType(
            f"Image is {width}x{height} px; its PNG rows inflate to {cost.inflated // 1_000_000}"
            f" MB, more than the {MAX_INFLATED_BYTES // 1_000_000} MB allowed"
        )
    if cost.memory > limit:
        raise UnsupportedMediaType(
            f"Image is {width}x{height} px; decoding this {_NAMES[content_type]} takes about "
            f"{_up(cost.memory, MIB)} MB, more than the {limit // MIB} MB allowed"
        )


_NAMES = {
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/gif": "GIF",
    "image/webp": "WebP",
    "image/heic": "HEIC",
    "image/heif": "HEIF",
}


def _jpeg(data: bytes) -> Price:
    try:
        frame = jpeg.frame(data)
    except Malformed as exc:
        raise UnsupportedMediaType(
            f"Invalid image file: the JPEG file structure is invalid: {exc}"
        ) from exc
    h_max = max(h for h, _ in frame.sampling.values())
    v_max = max(v for _, v in frame.sampling.values())
    blocks = {  # 8x8 blocks of each component at its own sampling
        component: _up(_up(frame.width * h, h_max), 8) * _up(_up(frame.height * v, v_max), 8)
        for component, (h, v) in frame.sampling.items()
    }
    visits = sum(blocks.get(component, 0) for scan in frame.scans for component in scan)
    pixels = frame.width * frame.height
    if frame.progressive:  # the whole coefficient buffer, at each component's sampling
        peak = sum(blocks.values()) * 64 * _COEFFICIENT
    else:  # decoded at a DCT scale: the output only
        peak = len(frame.sampling) * max(pixels // _DRAFT_REDUCTION, min(pixels, _DRAFT_FLOOR))
    return Price(peak, scan_blocks=visits)


def _up(value: int, divisor: int) -> int:
    return -(-value // divisor)


def _png_bytes(depth: int, colour: int) -> float:
    """Bytes per pixel of the decoded PNG, from IHDR's bit depth and colour type."""
    if colour == 0 and depth == 16:
        return _PNG_GREY16
    return _PNG_BYTES.get(colour, 4.0)
