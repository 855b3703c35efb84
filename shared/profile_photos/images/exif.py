"""The orientation carried over from removed metadata, and the minimal Exif that holds it.

Stripping drops every Exif and XMP block, but the Orientation they held changes how the image
looks. `read_exif_orientation` reads it from IFD0 of the TIFF structure of an Exif block,
`read_xmp_orientation` from an XMP packet's `tiff:Orientation`; `kept_orientation` picks the
one to write back (Exif wins, as in readers; 1, the default, needs nothing written), and
`minimal_exif` builds the big-endian TIFF block whose IFD0 holds only that tag.

The blocks read here are being dropped, so a damaged one is not an error: it just has no
orientation. The reads are bounded all the same (`uint` on the block's own bytes).
"""

from __future__ import annotations

import re

from profile_photos.images.binary import ByteOrder, Malformed, uint

ORIENTATION_TAG = 0x0112
_XMP_ORIENTATION = re.compile(rb'tiff:Orientation(?:="|>)([1-8])\b')
_BYTE_ORDERS: dict[bytes, ByteOrder] = {b"II": "little", b"MM": "big"}


def read_exif_orientation(tiff: bytes) -> int | None:
    """The Orientation (1-8) in IFD0 of a TIFF-structured Exif block, else None.

    The block is being dropped, so a damaged one is not an error: it just has no orientation.
    """
    tiff = tiff.removeprefix(b"Exif\x00\x00")
    order = _BYTE_ORDERS.get(tiff[:2])
    if order is None:
        return None
    try:
        ifd = uint(tiff, 4, 4, order)
        for entry in range(ifd + 2, ifd + 2 + 12 * uint(tiff, ifd, 2, order), 12):
            if uint(tiff, entry, 2, order) == ORIENTATION_TAG:
                value = uint(tiff, entry + 8, 2, order)
                return value if uint(tiff, entry + 2, 2, order) == 3 and 1 <= value <= 8 else None
    except Malformed:
        return None
    return None


def read_xmp_orientation(xmp: bytes) -> int | None:
    """The `tiff:Orientation` (1-8) of an XMP packet, attribute or element, else None."""
    match = _XMP_ORIENTATION.search(xmp)
    return int(match[1]) if match else None


def kept_orientation(exif: int | None, xmp: int | None) -> int | None:
    """The orientation to write back, None for the default (1): Exif wins, as in readers."""
    value = exif if exif is not None else xmp
    return value if value != 1 else None


def minimal_exif(orientation: int | None) -> bytes:
    """A big-endian TIFF block whose IFD0 holds only the Orientation tag (or nothing)."""
    entries = b""
    if orientation is not None:
        entries = ORIENTATION_TAG.to_bytes(2) + (3).to_bytes(2) + (1).to_bytes(4)
        entries += orientation.to_bytes(2) + bytes(2)
    count = len(entries) // 12
    return b"MM\x00\x2a" + (8).to_bytes(4) + count.to_bytes(2) + entries + bytes(4)
