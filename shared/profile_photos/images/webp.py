"""WebP: the chunks of the RIFF container, to the RIFF size.

The walk reads the RIFF header and size, then each chunk's fourcc and size field, stepping
over its payload and the padding byte of an odd-sized one. Bytes past the RIFF size are not
part of the image.

`dimensions` is read from the first chunk: the VP8X canvas, else the VP8L or VP8 (key frame)
bitstream header; the walk goes on to the RIFF size.

`strip` keeps the chunks VP8X (its EXIF/XMP flags updated), VP8, VP8L, ALPH, ANIM, ANMF and
ICCP, copied whole, and rewrites the RIFF size; nothing past it. Dropped: EXIF, `XMP ` and any
other chunk. An orientation other than 1 in the EXIF (or, lacking one, the XMP) comes back as
a minimal Exif in a new EXIF chunk, where the old one was (else last), only in an extended
(VP8X) file: a simple one cannot carry it.

Refused (`Malformed`): no RIFF/WEBP header; a RIFF size past the end of the file or too small
to hold a chunk; a chunk running past the RIFF size; a first chunk that is none of VP8X, VP8L
or VP8 with a valid signature, or too short to hold the size (the last by `dimensions`, which
upload calls first).
"""

from __future__ import annotations

from collections.abc import Iterator

from profile_photos.images.binary import Chunks, Malformed, joined, uint, zero_tail
from profile_photos.images.exif import (
    kept_orientation,
    minimal_exif,
    read_exif_orientation,
    read_xmp_orientation,
)

_KEEP = frozenset({b"VP8X", b"VP8 ", b"VP8L", b"ALPH", b"ANIM", b"ANMF", b"ICCP"})
_VP8X_EXIF, _VP8X_XMP = 0x08, 0x04


def _chunks(data: bytes) -> Iterator[tuple[bytes, int, int]]:
    """(fourcc, start, end) of each chunk inside the RIFF container, padding included."""
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise Malformed("no RIFF/WEBP header")
    riff_end = 8 + uint(data, 4, 4, "little")
    if riff_end > len(data) or riff_end < 20:
        raise Malformed("the RIFF size does not match the file")
    pos = 12
    while pos < riff_end:
        size = uint(data, pos + 4, 4, "little")
        end = pos + 8 + size + (size & 1)
        if end > riff_end:
            raise Malformed(f"the chunk at byte {pos} runs past the end of the RIFF container")
        yield data[pos : pos + 4], pos, end
        pos = end


def dimensions(data: bytes) -> tuple[int, int]:
    """(width, height) from the first chunk: VP8X canvas, VP8L or VP8 frame header."""
    chunks = _chunks(data)
    kind, start, end = next(chunks)
    for _ in chunks:  # to the RIFF size: the whole structure
        pass
    body = start + 8
    if kind == b"VP8X" and end - body >= 10:
        return uint(data, body + 4, 3, "little") + 1, uint(data, body + 7, 3, "little") + 1
    if kind == b"VP8L" and end - body >= 5 and data[body] == 0x2F:
        bits = uint(data, body + 1, 4, "little")
        return (bits & 0x3FFF) + 1, (bits >> 14 & 0x3FFF) + 1
    if kind == b"VP8 " and end - body >= 10 and data[body + 3 : body + 6] == b"\x9d\x01\x2a":
        width, height = uint(data, body + 6, 2, "little"), uint(data, body + 8, 2, "little")
        return width & 0x3FFF, height & 0x3FFF  # the top two bits are a scaling hint
    raise Malformed(f"unknown or short first chunk {kind!r}")


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return kind + len(payload).to_bytes(4, "little") + payload + bytes(len(payload) & 1)


def strip(data: bytes) -> bytes:
    """`data` with only the allowlisted chunks, the RIFF size and VP8X flags to match."""
    view = memoryview(data)
    kept: Chunks = []
    changed = False
    exif_at: int | None = None
    exif_orientation = xmp_orientation = None
    end = 12
    for kind, start, end in _chunks(data):
        if kind in _KEEP:
            kept.append(view[start:end])
            continue
        changed = True
        payload = data[start + 8 : start + 8 + uint(data, start + 4, 4, "little")]
        if kind == b"EXIF":
            exif_at, exif_orientation = len(kept), read_exif_orientation(payload)
        elif kind == b"XMP ":
            xmp_orientation = xmp_orientation or read_xmp_orientation(payload)
    if not changed and zero_tail(data, end):
        return data
    extended = bool(kept) and bytes(kept[0][:4]) == b"VP8X"  # only VP8X can carry EXIF
    orientation = kept_orientation(exif_orientation, xmp_orientation) if extended else None
    if orientation:
        at = exif_at if exif_at is not None else len(kept)
        kept.insert(at, _chunk(b"EXIF", minimal_exif(orientation)))
    if extended:
        header = bytes(kept[0])
        flags = header[8] & ~(_VP8X_EXIF | _VP8X_XMP) | (_VP8X_EXIF if orientation else 0)
        kept[0] = header[:8] + bytes((flags,)) + header[9:]
    size = 4 + sum(len(chunk) for chunk in kept)
    return joined(data, [b"RIFF", size.to_bytes(4, "little"), b"WEBP", *kept], end, True)
