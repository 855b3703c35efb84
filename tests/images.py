"""Real, small images built in memory with Pillow and pillow-heif (deterministic, cached)."""

from __future__ import annotations

import functools
import io

from PIL import Image


def _picture() -> Image.Image:
    image = Image.new("RGB", (16, 12))
    image.putdata([(x * 16, y * 20, 128) for y in range(12) for x in range(16)])
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
    return _encode("BMP")


@functools.cache
def heic_bytes() -> bytes:
    """An HEVC-coded HEIF image, as iPhones write (major brand `heic`)."""
    import pillow_heif

    pillow_heif.register_heif_opener()
    return _encode("HEIF", quality=90)


@functools.cache
def heif_bytes() -> bytes:
    """A HEIF file whose brands name no HEVC profile (major brand `mif1`).

    pillow-heif writes `heic` files; re-branding the `ftyp` box of one keeps every other byte
    valid and gives the generic-HEIF flavour some cameras and converters produce.
    """
    data = bytearray(heic_bytes())
    size = int.from_bytes(data[:4], "big")
    assert data[4:8] == b"ftyp"
    data[8:12] = b"mif1"
    for offset in range(16, size, 4):
        if data[offset : offset + 4] in (b"heic", b"heix"):
            data[offset : offset + 4] = b"miaf"
    return bytes(data)
