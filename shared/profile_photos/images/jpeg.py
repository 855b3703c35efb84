"""JPEG: the segments from SOI to the EOI that ends the primary image.

The walk reads each marker (past any 0xFF fill bytes) and the length field of each segment
that has one; a SOS segment runs on through the entropy-coded data of its scan, to the first
0xFF not followed by 0x00 (stuffing), RSTn or fill, found by a C-speed search linear in the
scan's length. Progressive files have several scans, with tables between them.

`dimensions` is the size in the first SOFn (the frame header), the walk going on to the EOI.

`strip` keeps SOI; APP0 only if it is JFIF (its thumbnail, if any, dropped); APP2 only if it
is ICC_PROFILE; APP14 only if it is Adobe; the tables and headers (DQT, DHT, DAC, DRI, SOFn,
DNL, DHP, EXP, SOS), RSTn/TEM markers and the entropy-coded data of every scan, copied byte
for byte; the EOI. Everything else is dropped: APP1 (Exif, XMP, extended XMP), APP2 other than
ICC (MPF), APP11 (JUMBF, C2PA), APP13 (IPTC), every other APPn, COM, JPGn, and all that
follows the EOI (MPF secondary images and gain maps, Motion Photo videos, trailers). An
orientation other than 1 in the Exif (or, lacking one, the XMP) comes back as a minimal Exif
APP1, where the first dropped segment before the image data was.

`frame` reads what a decoder allocates and how much work its scans are: the frame header's
size, whether it is progressive, each component's sampling factors, and the components of
each scan (`images.footprint` prices them).

Refused (`Malformed`): more than `MAX_SCANS` scans (500, the limit libjpeg-turbo's own
fuzzers and `tjbench -limitscans` set through `TJPARAM_SCANLIMIT`: a progressive decoder walks
its whole coefficient buffer once per scan, so a repeated scan of a few hundred bytes costs
a full pass over the image); no SOI; a byte other than 0xFF where a marker belongs; a stray 0x00 or
second SOI marker; a segment length below 2 or past the end of the file; a scan no marker
ends; an EOI before any scan; a scan before any frame header, or a frame header too short to
hold the size (the last two by `dimensions`, which upload calls first).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from profile_photos.images.binary import Chunks, Malformed, joined, uint
from profile_photos.images.exif import (
    kept_orientation,
    minimal_exif,
    read_exif_orientation,
    read_xmp_orientation,
)

_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})  # TEM, RSTn: no length field
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # not DHT, JPG, DAC
# APPn, COM, JPG and JPGn: dropped unless `_kept` names them
_OPTIONAL = frozenset({*range(0xE0, 0xF0), 0xFE, 0xC8, *range(0xF0, 0xFE)})
_SOS, _EOI, _APP0, _APP1 = 0xDA, 0xD9, 0xE0, 0xE1
_JFIF_HEADER = 14  # "JFIF\0", version, units, densities, thumbnail size: then the thumbnail
_NOT_FF = re.compile(rb"[^\xff]")
# In entropy-coded data 0xFF is followed by 0x00 (stuffing), RSTn, or fill: anything else is
# the marker that ends the scan. A C-speed search, linear in the scan's length.
_SCAN_END = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
_PROGRESSIVE = frozenset({0xC2, 0xC6, 0xCA, 0xCE})
MAX_SCANS = 500


@dataclass(frozen=True, slots=True)
class Frame:
    """What decoding the primary image involves, from its headers."""

    width: int
    height: int
    progressive: bool
    sampling: dict[int, tuple[int, int]]  # component id -> (horizontal, vertical) factors
    scans: list[tuple[int, ...]]  # the component ids of each scan, in order


def _segments(data: bytes) -> Iterator[tuple[int, int, int, int]]:
    """(marker, start, body, end) of each segment after SOI, the last being the primary
    image's EOI. A SOS segment ends where the entropy-coded data of its scan does."""
    if not data.startswith(b"\xff\xd8"):
        raise Malformed("no start-of-image marker")
    pos, scans = 2, 0
    while True:
        start = pos
        if uint(data, pos, 1) != 0xFF:
            raise Malformed(f"expected a marker at byte {pos}")
        marker_at = _NOT_FF.search(data, pos + 1)  # past any fill bytes
        if marker_at is None:
            raise Malformed("the file ends early")
        pos = marker_at.start() - 1
        marker = data[pos + 1]
        if marker == _EOI:
            if not scans:
                raise Malformed("the image data is missing")
            yield marker, start, pos + 2, pos + 2
            return
        if marker in _STANDALONE:
            body = end = pos + 2
        elif marker in (0x00, 0xD8):
            raise Malformed(f"unexpected marker 0x{marker:02X} at byte {pos}")
        else:
            length = uint(data, pos + 2, 2)
            body, end = pos + 4, pos + 2 + length
            if length < 2 or end > len(data):
                raise Malformed(f"segment 0x{marker:02X} at byte {pos} has a bad length")
        if marker == _SOS:
            scan_end = _SCAN_END.search(data, end)
            if scan_end is None:
                raise Malformed("the image data has no end-of-image marker")
            end, scans = scan_end.start(), scans + 1
            if scans > MAX_SCANS:
                raise Malformed(f"more than {MAX_SCANS} scans")
        yield marker, start, body, end
        pos = end


def dimensions(data: bytes) -> tuple[int, int]:
    """(width, height) from the first frame header (SOFn)."""
    size = None
    for marker, _, body, end in _segments(data):  # to the EOI: the whole structure
        if size is None and marker in _SOF:
            if end - body < 6:
                raise Malformed("the frame header is too short")
            size = uint(data, body + 3, 2), uint(data, body + 1, 2)
        elif size is None and marker == _SOS:
            raise Malformed("no frame header before the image data")
    if size is None:  # unreachable: the walk ends at an EOI after a scan, a SOF before it
        raise Malformed("no frame header")
    return size


def frame(data: bytes) -> Frame:
    """The first frame header's size, mode and sampling, and every scan's components."""
    found: Frame | None = None
    scans: list[tuple[int, ...]] = []
    for marker, _, body, end in _segments(data):
        if found is None and marker in _SOF:
            count = uint(data, body + 5, 1)
            if end - body < 6 + 3 * count:
                raise Malformed("the frame header is too short")
            sampling = {
                data[body + 6 + 3 * i]: (data[body + 7 + 3 * i] >> 4, data[body + 7 + 3 * i] & 15)
                for i in range(count)
            }
            if any(h not in range(1, 5) or v not in range(1, 5) for h, v in sampling.values()):
                raise Malformed("a component has a sampling factor outside 1..4")
            found = Frame(
                uint(data, body + 3, 2),
                uint(data, body + 1, 2),
                marker in _PROGRESSIVE,
                sampling,
                scans,
            )
        elif marker == _SOS:
            count = uint(data, body, 1)
            if uint(data, body - 2, 2) < 3 + 2 * count:  # the header's own length field
                raise Malformed("a scan header is too short")
            scans.append(tuple(data[body + 1 + 2 * i] for i in range(count)))
    if found is None:
        raise Malformed("no frame header")
    return found


def _kept(data: bytes, marker: int, body: int, end: int) -> bool:
    if marker == _APP0:
        return end - body >= _JFIF_HEADER and data.startswith(b"JFIF\x00", body)
    if marker == 0xE2:
        return data.startswith(b"ICC_PROFILE\x00", body)
    if marker == 0xEE:
        return data.startswith(b"Adobe", body)
    return marker not in _OPTIONAL


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes((0xFF, marker)) + (len(payload) + 2).to_bytes(2) + payload


def strip(data: bytes) -> bytes:
    """`data` with only the allowlisted segments, up to the primary image's EOI."""
    view = memoryview(data)  # kept segments are views: the output is the only copy made
    kept: Chunks = [view[:2]]
    changed, scanned = False, False
    exif_at: int | None = None  # where the first segment dropped before the image data was
    exif_orientation = xmp_orientation = None
    end = 2
    for marker, start, body, end in _segments(data):
        scanned = scanned or marker == _SOS
        if not _kept(data, marker, body, end):
            changed = True
            exif_at = len(kept) if exif_at is None and not scanned else exif_at
            if marker == _APP1 and data.startswith(b"Exif\x00", body):
                exif_orientation = exif_orientation or read_exif_orientation(data[body + 6 : end])
            elif marker == _APP1:
                xmp_orientation = xmp_orientation or read_xmp_orientation(data[body:end])
        elif marker == _APP0 and (
            end - body > _JFIF_HEADER or data[body + 12 : body + 14] != b"\x00\x00"
        ):  # a JFIF thumbnail: the header is kept, the thumbnail goes
            changed = True
            kept.append(_segment(_APP0, data[body : body + 12] + b"\x00\x00"))
        else:
            kept.append(view[start:end])
    if orientation := kept_orientation(exif_orientation, xmp_orientation):
        at = exif_at if exif_at is not None else 1
        kept.insert(at, _segment(_APP1, b"Exif\x00\x00" + minimal_exif(orientation)))
    return joined(data, kept, end, changed)
