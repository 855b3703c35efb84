"""Real, small images built in memory with Pillow and pillow-heif, for every test layer
(unit, integration, e2e) and for the sample events (`testkit.events`).

Every builder is deterministic (same bytes on every run and machine with the same library
versions) and cached, so a test may call it as often as it likes. The picture is a 16x12
RGB gradient: small enough to keep fixtures cheap, real enough that each file decodes.
"""

from __future__ import annotations

import functools
import io

from PIL import Image

WIDTH, HEIGHT = 16, 12


def _picture() -> Image.Image:
    image = Image.new("RGB", (WIDTH, HEIGHT))
    image.putdata([(x * 16, y * 20, 128) for y in range(HEIGHT) for x in range(WIDTH)])
    return image


def _encode(fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    _picture().save(buffer, fmt, **options)
    return buffer.getvalue()


@functools.cache
def jpeg_bytes() -> bytes:
    return _encode("JPEG", quality=90)


@functools.cache
def png_bytes() -> bytes:
    return _encode("PNG")


@functools.cache
def gif_bytes() -> bytes:
    return _encode("GIF")


@functools.cache
def webp_bytes() -> bytes:
    return _encode("WEBP", lossless=True)


@functools.cache
def bmp_bytes() -> bytes:
    """A type the service never accepts (magic number `BM`)."""
    return _encode("BMP")


@functools.cache
def heic_bytes() -> bytes:
    """An HEVC-coded HEIF image as iPhones write it (`ftyp` major brand `heic`)."""
    import pillow_heif

    pillow_heif.register_heif_opener()
    return _encode("HEIF", quality=90)


@functools.cache
def heif_bytes() -> bytes:
    """A HEIF image whose `ftyp` brands name no HEVC profile (major brand `mif1`).

    pillow-heif cannot write one directly: the libheif it bundles encodes HEVC (x265) and
    nothing else (AVIF, which is AV1 in the same container, is not HEIF anyway). So this is
    `heic_bytes()` with its `ftyp` box re-branded: major brand `mif1`, and every HEVC brand
    in the compatible list replaced by `miaf`. Every other byte is untouched, so the file
    still decodes (pillow-heif opens it) and has the generic-HEIF signature some cameras
    and converters produce.
    """
    data = bytearray(heic_bytes())
    size = int.from_bytes(data[:4], "big")
    if data[4:8] != b"ftyp":
        raise AssertionError("pillow-heif no longer starts its files with an ftyp box")
    data[8:12] = b"mif1"
    for offset in range(16, size, 4):
        if data[offset : offset + 4] in (b"heic", b"heix", b"hevc", b"hevx"):
            data[offset : offset + 4] = b"miaf"
    return bytes(data)


def ftyp_box(major: bytes, *compatible: bytes) -> bytes:
    """A bare ISO-BMFF `ftyp` box (minor version 0), to forge HEIF/AVIF/MP4 signatures."""
    body = b"ftyp" + major + bytes(4) + b"".join(compatible)
    return (len(body) + 4).to_bytes(4, "big") + body
