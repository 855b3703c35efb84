"""PNG: the chunks from the signature to IEND.

The walk reads each chunk's length field and type, and steps over its data and CRC (the CRCs
are not checked: a kept chunk is copied whole, so its CRC stays whatever it was).

`dimensions` is the size in IHDR, which must be the first chunk; the walk goes on to IEND.

`strip` keeps the chunks IHDR, PLTE, IDAT, IEND, tRNS, cHRM, gAMA, iCCP, sBIT, sRGB, cICP,
mDCV, cLLI, bKGD, hIST, pHYs, sPLT and APNG's acTL, fcTL, fdAT, copied whole (their CRCs stay
valid), and nothing after IEND. Dropped: tEXt, iTXt (XMP), zTXt, eXIf, tIME, caBX (C2PA) and
any other chunk. An orientation other than 1 in the eXIf (or, lacking one, the XMP) comes
back as a minimal Exif in a new eXIf chunk, for the viewers that honour it, where the old one
was (else right after IHDR): before IDAT, as the format requires.

Refused (`Malformed`): no PNG signature; a chunk length above the format's 2^31-1 or running
past the end of the file; a file that ends before IEND; a first chunk that is not a 13-byte
IHDR (the last by `dimensions`, which upload calls first).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator

from profile_photos.images.binary import Chunks, Malformed, joined, uint
from profile_photos.images.exif import (
    kept_orientation,
    minimal_exif,
    read_exif_orientation,
    read_xmp_orientation,
)

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_MAX_LENGTH = 2**31 - 1  # the format's limit on a chunk's length field
_KEEP = frozenset(
    {b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"cHRM", b"gAMA", b"iCCP", b"sBIT", b"sRGB"}
    | {b"cICP", b"mDCV", b"cLLI", b"bKGD", b"hIST", b"pHYs", b"sPLT", b"acTL", b"fcTL", b"fdAT"}
)


def _chunks(data: bytes) -> Iterator[tuple[bytes, int, int]]:
    """(type, start, end) of each chunk, up to and including IEND."""
    if not data.startswith(_SIGNATURE):
        raise Malformed("no PNG signature")
    pos = len(_SIGNATURE)
    while True:
        length = uint(data, pos, 4)
        end = pos + 12 + length
        if length > _MAX_LENGTH or end > len(data):
            raise Malformed(f"the chunk at byte {pos} runs past the end of the file")
        kind = data[pos + 4 : pos + 8]
        yield kind, pos, end
        if kind == b"IEND":
            return
        pos = end


def dimensions(data: bytes) -> tuple[int, int]:
    """(width, height) from IHDR."""
    chunks = _chunks(data)
    kind, start, end = next(chunks)
    if kind != b"IHDR" or end - start != 25:
        raise Malformed("the first chunk is not a valid IHDR")
    for _ in chunks:  # to IEND: the whole structure
        pass
    return uint(data, start + 8, 4), uint(data, start + 12, 4)


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return len(payload).to_bytes(4) + kind + payload + zlib.crc32(kind + payload).to_bytes(4)


def strip(data: bytes) -> bytes:
    """`data` with only the allowlisted chunks, up to IEND."""
    view = memoryview(data)
    kept: Chunks = [view[: len(_SIGNATURE)]]
    changed = False
    exif_at = 2  # a new eXIf must precede IDAT: where the old one was, else after IHDR
    exif_orientation = xmp_orientation = None
    end = len(_SIGNATURE)
    for kind, start, end in _chunks(data):
        if kind in _KEEP:
            kept.append(view[start:end])
            continue
        changed = True
        if kind == b"eXIf":
            exif_at, exif_orientation = len(kept), read_exif_orientation(data[start + 8 : end - 4])
        elif kind == b"iTXt" and data.startswith(b"XML:com.adobe.xmp\x00", start + 8):
            xmp_orientation = xmp_orientation or read_xmp_orientation(data[start + 8 : end - 4])
    if orientation := kept_orientation(exif_orientation, xmp_orientation):
        kept.insert(exif_at, _chunk(b"eXIf", minimal_exif(orientation)))
    return joined(data, kept, end, changed)
