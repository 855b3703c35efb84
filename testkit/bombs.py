"""Hostile images: small files whose decoding costs far more than their size suggests.

Each is the worst case of one accepted format at the service's limits (100 MP, the upload
size cap), built with Pillow (and pillow-heif for HEIC) from flat pixels, so it compresses to
a few kilobytes or megabytes. The tests use them to prove the limits refuse what they must
and accept what they must; the bench (`bench/bombs.py`) measures the time and peak memory of
decoding each one.

- `scan_bomb(extra)`: a progressive grey JPEG whose last scan is repeated `extra` times (each
  repeat is a few hundred bytes; libjpeg walks the whole coefficient buffer for every scan).
- `progressive_jpeg`, `baseline_jpeg`: colour JPEGs at the pixel cap.
- `png(bits, alpha)`: 8- or 16-bit PNGs, grey or RGB, with or without alpha.
- `gif`: a GIF whose logical screen is the whole pixel cap.
- `webp_canvas_bomb`: a VP8X canvas of 10000x10000 holding a single 1x1 animation frame.
- `webp_still`: a lossless still WebP at the pixel cap.
- `heic(grid)`: a HEIC of one image, or a grid of 512x512 tiles (as phones write them).
"""

from __future__ import annotations

import io
import struct
from pathlib import Path

from PIL import Image

from testkit import images
from testkit.disk_cache import kept_on_disk

SIDE = 10_000  # 10000 x 10000 = the 100 MP cap

# Seconds of encoding each (a 100 MP HEIC or lossless WebP): built once per machine.
_on_disk = kept_on_disk(Path(__file__), Path(images.__file__))


def _save(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _flat(mode: str, size: tuple[int, int] = (SIDE, SIDE)) -> Image.Image:
    """A gradient, not a flat fill: every block has some content for the decoder to do."""
    ramp = Image.linear_gradient("L").resize(size)
    if mode == "L":
        return ramp
    bands = [ramp, ramp.transpose(Image.Transpose.ROTATE_90), ramp.rotate(180)]
    image = Image.merge("RGB", bands)
    return image if mode == "RGB" else image.convert(mode)


@_on_disk
def _progressive_grey(side: int) -> bytes:
    """Flat grey: each refinement scan is a few hundred bytes (141 at 10000 px), as in the
    security review's file."""
    return _save(Image.new("L", (side, side), 128), "JPEG", quality=75, progressive=True)


def _last_scan(data: bytes) -> tuple[int, int]:
    """(start, end) of the last SOS segment and its entropy-coded data, before the EOI."""
    start = data.rindex(b"\xff\xda")
    end = data.rindex(b"\xff\xd9")
    return start, end


def scan_bomb(extra: int, side: int = SIDE) -> bytes:
    """A progressive grey JPEG of `side` x `side` with its last scan repeated `extra` times."""
    data = _progressive_grey(side)
    start, end = _last_scan(data)
    return data[:end] + data[start:end] * extra + data[end:]


@_on_disk
def progressive_jpeg(side: int = SIDE, subsampling: int = 0) -> bytes:
    """Colour progressive JPEG (libjpeg's standard scan script), 4:4:4 by default."""
    return _save(
        _flat("RGB", (side, side)), "JPEG", quality=75, progressive=True, subsampling=subsampling
    )


@_on_disk
def baseline_jpeg(side: int = SIDE) -> bytes:
    return _save(_flat("RGB", (side, side)), "JPEG", quality=75, subsampling=0)


@_on_disk
def png(bits: int = 8, alpha: bool = True, grey: bool = False, side: int = SIDE) -> bytes:
    """A PNG of `side` x `side`; 16-bit ones are written through Pillow's I;16 (grey) or by
    re-encoding the IHDR of an 8-bit file's raw rows (RGB/RGBA: Pillow cannot write them)."""
    if bits == 8:
        mode = ("LA" if alpha else "L") if grey else ("RGBA" if alpha else "RGB")
        return _save(_flat(mode, (side, side)), "PNG", compress_level=9)
    return _png16(side, alpha, grey)


def _png16(side: int, alpha: bool, grey: bool) -> bytes:
    """A 16-bit PNG built chunk by chunk: rows of zeros (filter 0), deflated at level 9."""
    import zlib

    channels = (2 if alpha else 1) if grey else (4 if alpha else 3)
    colour_type = (4 if alpha else 0) if grey else (6 if alpha else 2)
    row = b"\x00" + bytes(side * channels * 2)
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(kind + payload)
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", side, side, 16, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@_on_disk
def gif(side: int = SIDE) -> bytes:
    return _save(_flat("L", (side, side)).convert("P"), "GIF")


def webp_canvas_bomb(side: int = SIDE) -> bytes:
    """VP8X canvas `side` x `side`, animated, one ANMF frame of 1x1 px (~100 bytes)."""
    frame = _save(Image.new("RGB", (1, 1), "red"), "WEBP", lossless=True)
    bitstream = frame[12:]  # the VP8L chunk of a simple file
    anmf = (
        (0).to_bytes(3, "little") * 2  # frame x, y / 2
        + (0).to_bytes(3, "little") * 2  # width - 1, height - 1 (1x1)
        + (100).to_bytes(3, "little")  # duration
        + b"\x00"
        + bitstream
    )

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return kind + len(payload).to_bytes(4, "little") + payload + b"\x00" * (len(payload) & 1)

    vp8x = bytes([0x02, 0, 0, 0]) + (side - 1).to_bytes(3, "little") * 2  # animation flag
    anim = (0).to_bytes(4, "little") + (0).to_bytes(2, "little")
    body = b"WEBP" + chunk(b"VP8X", vp8x) + chunk(b"ANIM", anim) + chunk(b"ANMF", anmf)
    return b"RIFF" + len(body).to_bytes(4, "little") + body


@_on_disk
def webp_still(side: int = SIDE, alpha: bool = True) -> bytes:
    return _save(_flat("RGBA" if alpha else "RGB", (side, side)), "WEBP", lossless=True)


@_on_disk
def heic(side: int = SIDE, grid: bool = False) -> bytes:
    """A HEIC of `side` x `side` (pillow-heif's encoder: a single coded image, or, with
    `grid`, the 512 px tiles phones write, through libheif's tiled encoding)."""
    options: dict[str, object] = {"quality": 10}
    if grid:
        options["tile_size"] = 512  # pillow-heif >= 1.x: encode as a grid of tiles
    return images.heic(_flat("RGB", (side, side)), **options)
