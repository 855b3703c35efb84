"""Photos for the bench: real JPEGs, as a phone would send them, of an exact size.

Noise pixels (they compress like a photo's detail, not like a flat test card), an Exif block
with the location tags the upload path must strip, then zero padding after the end-of-image
marker up to the exact size asked for. Deterministic: the same bytes on every run.
"""

from __future__ import annotations

import functools
import io
import random

MIB = 1024 * 1024


@functools.cache
def photo(size: int) -> bytes:
    from PIL import Image

    pixels = max(64 * 64, size // 4)
    width = max(64, int((pixels * 4 / 3) ** 0.5))
    height = max(48, pixels // width)
    noise = random.Random(size).randbytes(width * height * 3)  # noqa: S311 - pixels, not keys
    image = Image.frombytes("RGB", (width, height), noise)
    exif = Image.Exif()
    exif[0x0112] = 1  # Orientation
    exif[0x010F] = "BenchCam"  # Make
    exif[0x8825] = {1: "N", 2: (52.0, 31.0, 12.0), 3: "E", 4: (13.0, 24.0, 36.0)}  # GPS
    for quality in (90, 75, 60, 45, 30):
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=quality, exif=exif.tobytes())
        data = buffer.getvalue()
        if len(data) <= size:
            return data + bytes(size - len(data))
    raise ValueError(f"cannot make a {size}-byte JPEG")
