"""Image contents: the size from the header, and personal metadata removed without re-encoding.

Pure functions over bytes, standard library only: no pixel is decoded or re-encoded.

`content_type` is the canonical type `validation` settled on (image/jpeg, image/png, ...).

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
screen widened to any frame reaching past it. For HEIC/HEIF it is the `ispe` of the primary
item (the largest `ispe` when no association names one): the coded size, before the `clap` crop
and `irot`, so encoders' padding counts (pillow-heif codes a 16x12 picture as 64x64).
`check_dimensions` refuses decompression bombs: more than `MAX_SIDE` px a side or `MAX_PIXELS`.

`strip_metadata` keeps an allowlist: what changes how the primary image looks (orientation,
colour profile, the image data) and nothing else. Where a removed Exif block held an
Orientation other than 1 (or, lacking Exif, an XMP `tiff:Orientation`), a minimal big-endian
Exif holding only IFD0/Orientation takes its place. Per format, what is kept:

- JPEG: SOI; APP0 only if it is JFIF (its thumbnail, if any, dropped); APP2 only if it is
  ICC_PROFILE; APP14 only if it is Adobe; the tables and headers (DQT, DHT, DAC, DRI, SOFn,
  DNL, DHP, EXP, SOS), RSTn/TEM markers and the entropy-coded data of every scan (progressive
  files have several, with tables between them), copied byte for byte; the minimal Exif; the
  EOI that ends the primary image. Everything else is dropped: APP1 (Exif, XMP, extended XMP),
  APP2 other than ICC (MPF), APP11 (JUMBF, C2PA), APP13 (IPTC), every other APPn, COM, JPGn,
  and all that follows the EOI (MPF secondary images and gain maps, Motion Photo videos,
  trailers).
- PNG: the chunks IHDR, PLTE, IDAT, IEND, tRNS, cHRM, gAMA, iCCP, sBIT, sRGB, cICP, mDCV,
  cLLI, bKGD, hIST, pHYs, sPLT and APNG's acTL, fcTL, fdAT, copied whole (their CRCs stay
  valid), and the minimal Exif as an eXIf chunk, for the viewers that honour it; nothing after
  IEND. Dropped: tEXt, iTXt (XMP), zTXt, eXIf, tIME, caBX (C2PA) and any other chunk.
- GIF: the header and colour tables, image descriptors and their data, graphic control and
  plain text extensions, the NETSCAPE2.0/ANIMEXTS1.0 (looping) and ICCRGBG1012 (colour
  profile) application extensions, and the trailer; nothing after it. Dropped: comment
  extensions and every other application extension ("XMP DataXMP", IPTC, ...).
- WebP: the chunks VP8X (its EXIF/XMP flags updated), VP8, VP8L, ALPH, ANIM, ANMF and ICCP,
  copied whole, and the minimal Exif as an EXIF chunk; the RIFF size rewritten; nothing past
  the RIFF size. Dropped: EXIF, `XMP ` and any other chunk.
- HEIC/HEIF: the boxes are not rewritten. The payload of every `Exif` item and every XMP item
  (`mime` item of type application/rdf+xml), found through `iloc`, is overwritten in place: the
  Exif with a minimal Exif (orientation only, zero-padded), the XMP with an empty `x:xmpmeta`
  element padded with spaces. Every offset, item and reference stays valid; orientation (`irot`,
  `imir`) and colour (`colr`) are item properties and are untouched. Metadata stored in
  another file or in another item (`iloc` data reference or construction method 2) is refused.

Zero bytes after the end of the image (the padding some tools write) carry nothing and are
kept; any other byte there makes the whole tail go. A file with nothing to remove is returned
as the very same object.
"""

from __future__ import annotations

import re
import struct
import zlib
from array import array
from collections.abc import Callable, Iterator
from itertools import pairwise
from typing import Any

from profile_photos.errors import UnsupportedMediaType

MAX_SIDE = 16384
MAX_PIXELS = 100_000_000

ORIENTATION_TAG = 0x0112
_XMP_ORIENTATION = re.compile(rb'tiff:Orientation(?:="|>)([1-8])\b')

Chunks = list[bytes | memoryview]


class _Malformed(Exception):
    """An invalid container structure; reported to the client as `UnsupportedMediaType`."""


def read_dimensions(data: bytes, content_type: str) -> tuple[int, int]:
    """(width, height) in pixels, read from the image header of a file of `content_type`."""
    name, dimensions, _ = _format(content_type)
    width, height = _parse(name, dimensions, data)
    if width <= 0 or height <= 0:
        raise UnsupportedMediaType(
            f"Invalid image file: the {name} header gives an empty size: {width}x{height} px"
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
    name, _, strip = _format(content_type)
    stripped = _parse(name, strip, data)
    return data if stripped == data else stripped


# --- shared helpers -------------------------------------------------------------------------


def _format(content_type: str) -> tuple[str, Callable, Callable]:
    try:
        return _FORMATS[content_type]
    except KeyError:
        raise UnsupportedMediaType(f"Cannot read the contents of {content_type} files") from None


def _parse(name: str, parser: Callable[[bytes], Any], data: bytes) -> Any:
    try:
        return parser(data)
    except _Malformed as exc:
        raise UnsupportedMediaType(
            f"Invalid image file: the {name} file structure is invalid: {exc}"
        ) from exc


def _uint(data: bytes | memoryview, offset: int, size: int, order: str = "big") -> int:
    """The unsigned integer of `size` bytes at `offset`; `_Malformed` past the end."""
    if offset < 0 or offset + size > len(data):
        raise _Malformed("the file ends early")
    return int.from_bytes(data[offset : offset + size], order)  # type: ignore[arg-type]


def _zero_tail(data: bytes, end: int) -> bool:
    """Whether everything after `end` is zero padding (or nothing)."""
    return data.count(0, end) == len(data) - end


def _joined(data: bytes, pieces: Chunks, end: int, changed: bool) -> bytes:
    """`pieces` joined, with the zero padding after `end`; `data` when nothing changed."""
    if _zero_tail(data, end):
        if not changed:
            return data
        pieces.append(memoryview(data)[end:])
    return b"".join(pieces)


def _exif_orientation(tiff: bytes) -> int | None:
    """The Orientation (1-8) in IFD0 of a TIFF-structured Exif block, else None.

    The block is being dropped, so a damaged one is not an error: it just has no orientation.
    """
    tiff = tiff.removeprefix(b"Exif\x00\x00")
    order = {b"II": "little", b"MM": "big"}.get(tiff[:2])
    if order is None:
        return None
    try:
        ifd = _uint(tiff, 4, 4, order)
        for entry in range(ifd + 2, ifd + 2 + 12 * _uint(tiff, ifd, 2, order), 12):
            if _uint(tiff, entry, 2, order) == ORIENTATION_TAG:
                value = _uint(tiff, entry + 8, 2, order)
                return value if _uint(tiff, entry + 2, 2, order) == 3 and 1 <= value <= 8 else None
    except _Malformed:
        return None
    return None


def _xmp_orientation(xmp: bytes) -> int | None:
    match = _XMP_ORIENTATION.search(xmp)
    return int(match[1]) if match else None


def _kept_orientation(exif: int | None, xmp: int | None) -> int | None:
    """The orientation to write back, None for the default (1): Exif wins, as in readers."""
    value = exif if exif is not None else xmp
    return value if value != 1 else None


def _minimal_exif(orientation: int | None) -> bytes:
    """A big-endian TIFF block whose IFD0 holds only the Orientation tag (or nothing)."""
    entries = b""
    if orientation is not None:
        entries = ORIENTATION_TAG.to_bytes(2) + (3).to_bytes(2) + (1).to_bytes(4)
        entries += orientation.to_bytes(2) + bytes(2)
    count = len(entries) // 12
    return b"MM\x00\x2a" + (8).to_bytes(4) + count.to_bytes(2) + entries + bytes(4)


# --- JPEG -----------------------------------------------------------------------------------

_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})  # TEM, RSTn: no length field
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # not DHT, JPG, DAC
# APPn, COM, JPG and JPGn: dropped unless `_jpeg_kept` names them
_JPEG_OPTIONAL = frozenset({*range(0xE0, 0xF0), 0xFE, 0xC8, *range(0xF0, 0xFE)})
_JPEG_SOS, _JPEG_EOI, _JPEG_APP0, _JPEG_APP1 = 0xDA, 0xD9, 0xE0, 0xE1
_JFIF_HEADER = 14  # "JFIF\0", version, units, densities, thumbnail size: then the thumbnail
_NOT_FF = re.compile(rb"[^\xff]")
# In entropy-coded data 0xFF is followed by 0x00 (stuffing), RSTn, or fill: anything else is
# the marker that ends the scan. A C-speed search, linear in the scan's length.
_JPEG_SCAN_END = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")


def _jpeg_segments(data: bytes) -> Iterator[tuple[int, int, int, int]]:
    """(marker, start, body, end) of each segment after SOI, the last being the primary
    image's EOI. A SOS segment ends where the entropy-coded data of its scan does."""
    if not data.startswith(b"\xff\xd8"):
        raise _Malformed("no start-of-image marker")
    pos, scans = 2, 0
    while True:
        start = pos
        if _uint(data, pos, 1) != 0xFF:
            raise _Malformed(f"expected a marker at byte {pos}")
        marker_at = _NOT_FF.search(data, pos + 1)  # past any fill bytes
        if marker_at is None:
            raise _Malformed("the file ends early")
        pos = marker_at.start() - 1
        marker = data[pos + 1]
        if marker == _JPEG_EOI:
            if not scans:
                raise _Malformed("the image data is missing")
            yield marker, start, pos + 2, pos + 2
            return
        if marker in _JPEG_STANDALONE:
            body = end = pos + 2
        elif marker in (0x00, 0xD8):
            raise _Malformed(f"unexpected marker 0x{marker:02X} at byte {pos}")
        else:
            length = _uint(data, pos + 2, 2)
            body, end = pos + 4, pos + 2 + length
            if length < 2 or end > len(data):
                raise _Malformed(f"segment 0x{marker:02X} at byte {pos} has a bad length")
        if marker == _JPEG_SOS:
            scan_end = _JPEG_SCAN_END.search(data, end)
            if scan_end is None:
                raise _Malformed("the image data has no end-of-image marker")
            end, scans = scan_end.start(), scans + 1
        yield marker, start, body, end
        pos = end


def _jpeg_dimensions(data: bytes) -> tuple[int, int]:
    size = None
    for marker, _, body, end in _jpeg_segments(data):  # to the EOI: the whole structure
        if size is None and marker in _JPEG_SOF:
            if end - body < 6:
                raise _Malformed("the frame header is too short")
            size = _uint(data, body + 3, 2), _uint(data, body + 1, 2)
        elif size is None and marker == _JPEG_SOS:
            raise _Malformed("no frame header before the image data")
    if size is None:  # unreachable: the walk ends at an EOI after a scan, a SOF before it
        raise _Malformed("no frame header")
    return size


def _jpeg_kept(data: bytes, marker: int, body: int, end: int) -> bool:
    if marker == _JPEG_APP0:
        return end - body >= _JFIF_HEADER and data.startswith(b"JFIF\x00", body)
    if marker == 0xE2:
        return data.startswith(b"ICC_PROFILE\x00", body)
    if marker == 0xEE:
        return data.startswith(b"Adobe", body)
    return marker not in _JPEG_OPTIONAL


def _jpeg_segment(marker: int, payload: bytes) -> bytes:
    return bytes((0xFF, marker)) + (len(payload) + 2).to_bytes(2) + payload


def _strip_jpeg(data: bytes) -> bytes:
    view = memoryview(data)  # kept segments are views: the output is the only copy made
    kept: Chunks = [view[:2]]
    changed, scanned = False, False
    exif_at: int | None = None  # where the first segment dropped before the image data was
    exif_orientation = xmp_orientation = None
    end = 2
    for marker, start, body, end in _jpeg_segments(data):
        scanned = scanned or marker == _JPEG_SOS
        if not _jpeg_kept(data, marker, body, end):
            changed = True
            exif_at = len(kept) if exif_at is None and not scanned else exif_at
            if marker == _JPEG_APP1 and data.startswith(b"Exif\x00", body):
                exif_orientation = exif_orientation or _exif_orientation(data[body + 6 : end])
            elif marker == _JPEG_APP1:
                xmp_orientation = xmp_orientation or _xmp_orientation(data[body:end])
        elif marker == _JPEG_APP0 and (
            end - body > _JFIF_HEADER or data[body + 12 : body + 14] != b"\x00\x00"
        ):  # a JFIF thumbnail: the header is kept, the thumbnail goes
            changed = True
            kept.append(_jpeg_segment(_JPEG_APP0, data[body : body + 12] + b"\x00\x00"))
        else:
            kept.append(view[start:end])
    if orientation := _kept_orientation(exif_orientation, xmp_orientation):
        at = exif_at if exif_at is not None else 1
        kept.insert(at, _jpeg_segment(_JPEG_APP1, b"Exif\x00\x00" + _minimal_exif(orientation)))
    return _joined(data, kept, end, changed)


# --- PNG ------------------------------------------------------------------------------------

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_MAX_LENGTH = 2**31 - 1  # the format's limit on a chunk's length field
_PNG_KEEP = frozenset(
    {b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"cHRM", b"gAMA", b"iCCP", b"sBIT", b"sRGB"}
    | {b"cICP", b"mDCV", b"cLLI", b"bKGD", b"hIST", b"pHYs", b"sPLT", b"acTL", b"fcTL", b"fdAT"}
)


def _png_chunks(data: bytes) -> Iterator[tuple[bytes, int, int]]:
    """(type, start, end) of each chunk, up to and including IEND."""
    if not data.startswith(_PNG_SIGNATURE):
        raise _Malformed("no PNG signature")
    pos = len(_PNG_SIGNATURE)
    while True:
        length = _uint(data, pos, 4)
        end = pos + 12 + length
        if length > _PNG_MAX_LENGTH or end > len(data):
            raise _Malformed(f"the chunk at byte {pos} runs past the end of the file")
        kind = data[pos + 4 : pos + 8]
        yield kind, pos, end
        if kind == b"IEND":
            return
        pos = end


def _png_dimensions(data: bytes) -> tuple[int, int]:
    chunks = _png_chunks(data)
    kind, start, end = next(chunks)
    if kind != b"IHDR" or end - start != 25:
        raise _Malformed("the first chunk is not a valid IHDR")
    for _ in chunks:  # to IEND: the whole structure
        pass
    return _uint(data, start + 8, 4), _uint(data, start + 12, 4)


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return len(payload).to_bytes(4) + kind + payload + zlib.crc32(kind + payload).to_bytes(4)


def _strip_png(data: bytes) -> bytes:
    view = memoryview(data)
    kept: Chunks = [view[: len(_PNG_SIGNATURE)]]
    changed = False
    exif_at = 2  # a new eXIf must precede IDAT: where the old one was, else after IHDR
    exif_orientation = xmp_orientation = None
    end = len(_PNG_SIGNATURE)
    for kind, start, end in _png_chunks(data):
        if kind in _PNG_KEEP:
            kept.append(view[start:end])
            continue
        changed = True
        if kind == b"eXIf":
            exif_at, exif_orientation = len(kept), _exif_orientation(data[start + 8 : end - 4])
        elif kind == b"iTXt" and data.startswith(b"XML:com.adobe.xmp\x00", start + 8):
            xmp_orientation = xmp_orientation or _xmp_orientation(data[start + 8 : end - 4])
    if orientation := _kept_orientation(exif_orientation, xmp_orientation):
        kept.insert(exif_at, _png_chunk(b"eXIf", _minimal_exif(orientation)))
    return _joined(data, kept, end, changed)


# --- GIF ------------------------------------------------------------------------------------

_GIF_APPLICATIONS = frozenset({b"NETSCAPE2.0", b"ANIMEXTS1.0", b"ICCRGBG1012"})
_GIF_KEPT_LABELS = frozenset({0xF9, 0x01})  # graphic control, plain text
_GIF_TRAILER, _GIF_EXTENSION, _GIF_IMAGE = 0x3B, 0x21, 0x2C


def _gif_colour_table_size(packed: int) -> int:
    return 3 << ((packed & 7) + 1) if packed & 0x80 else 0


def _gif_sub_blocks_end(data: bytes, pos: int) -> int:
    """The end of the chain of data sub-blocks at `pos`: each step advances at least 1 byte."""
    while size := _uint(data, pos, 1):
        pos += 1 + size
    return pos + 1


def _gif_blocks(data: bytes) -> Iterator[tuple[int, int, int]]:
    """(introducer, start, end) of the header, then each extension and image, then trailer."""
    if not data.startswith((b"GIF87a", b"GIF89a")):
        raise _Malformed("no GIF signature")
    packed = _uint(data, 10, 1)
    pos = 13 + _gif_colour_table_size(packed)
    if pos > len(data):
        raise _Malformed("the file ends early")
    yield 0, 0, pos
    while pos < len(data):  # some encoders omit the trailer
        introducer = data[pos]
        if introducer == _GIF_TRAILER:
            yield introducer, pos, pos + 1
            return
        if introducer == _GIF_EXTENSION:
            end = _gif_sub_blocks_end(data, pos + 2)
        elif introducer == _GIF_IMAGE:
            table = _gif_colour_table_size(_uint(data, pos + 9, 1))
            end = _gif_sub_blocks_end(data, pos + 10 + table + 1)  # after the LZW code size
        else:
            raise _Malformed(f"unknown block 0x{introducer:02X} at byte {pos}")
        yield introducer, pos, end
        pos = end


def _gif_dimensions(data: bytes) -> tuple[int, int]:
    """The logical screen, widened to any frame that reaches past it (as decoders do)."""
    width, height = _uint(data, 6, 2, "little"), _uint(data, 8, 2, "little")
    for introducer, start, _ in _gif_blocks(data):
        if introducer == _GIF_IMAGE:
            left, top = _uint(data, start + 1, 2, "little"), _uint(data, start + 3, 2, "little")
            frame_width = _uint(data, start + 5, 2, "little")
            frame_height = _uint(data, start + 7, 2, "little")
            width, height = max(width, left + frame_width), max(height, top + frame_height)
    return width, height


def _gif_kept(data: bytes, introducer: int, start: int) -> bool:
    if introducer != _GIF_EXTENSION:
        return True
    label = data[start + 1]
    if label == 0xFF:
        return data[start + 2] == 11 and data[start + 3 : start + 14] in _GIF_APPLICATIONS
    return label in _GIF_KEPT_LABELS


def _strip_gif(data: bytes) -> bytes:
    view = memoryview(data)
    kept: Chunks = []
    changed = False
    end = 0
    for introducer, start, end in _gif_blocks(data):
        if _gif_kept(data, introducer, start):
            kept.append(view[start:end])
        else:
            changed = True
    return _joined(data, kept, end, changed)


# --- WebP -----------------------------------------------------------------------------------

_WEBP_KEEP = frozenset({b"VP8X", b"VP8 ", b"VP8L", b"ALPH", b"ANIM", b"ANMF", b"ICCP"})
_VP8X_EXIF, _VP8X_XMP = 0x08, 0x04


def _webp_chunks(data: bytes) -> Iterator[tuple[bytes, int, int]]:
    """(fourcc, start, end) of each chunk inside the RIFF container, padding included."""
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise _Malformed("no RIFF/WEBP header")
    riff_end = 8 + _uint(data, 4, 4, "little")
    if riff_end > len(data) or riff_end < 20:
        raise _Malformed("the RIFF size does not match the file")
    pos = 12
    while pos < riff_end:
        size = _uint(data, pos + 4, 4, "little")
        end = pos + 8 + size + (size & 1)
        if end > riff_end:
            raise _Malformed(f"the chunk at byte {pos} runs past the end of the RIFF container")
        yield data[pos : pos + 4], pos, end
        pos = end


def _webp_dimensions(data: bytes) -> tuple[int, int]:
    chunks = _webp_chunks(data)
    kind, start, end = next(chunks)
    for _ in chunks:  # to the RIFF size: the whole structure
        pass
    body = start + 8
    if kind == b"VP8X" and end - body >= 10:
        return _uint(data, body + 4, 3, "little") + 1, _uint(data, body + 7, 3, "little") + 1
    if kind == b"VP8L" and end - body >= 5 and data[body] == 0x2F:
        bits = _uint(data, body + 1, 4, "little")
        return (bits & 0x3FFF) + 1, (bits >> 14 & 0x3FFF) + 1
    if kind == b"VP8 " and end - body >= 10 and data[body + 3 : body + 6] == b"\x9d\x01\x2a":
        width, height = _uint(data, body + 6, 2, "little"), _uint(data, body + 8, 2, "little")
        return width & 0x3FFF, height & 0x3FFF  # the top two bits are a scaling hint
    raise _Malformed(f"unknown or short first chunk {kind!r}")


def _webp_chunk(kind: bytes, payload: bytes) -> bytes:
    return kind + len(payload).to_bytes(4, "little") + payload + bytes(len(payload) & 1)


def _strip_webp(data: bytes) -> bytes:
    view = memoryview(data)
    kept: Chunks = []
    changed = False
    exif_at: int | None = None
    exif_orientation = xmp_orientation = None
    end = 12
    for kind, start, end in _webp_chunks(data):
        if kind in _WEBP_KEEP:
            kept.append(view[start:end])
            continue
        changed = True
        payload = data[start + 8 : start + 8 + _uint(data, start + 4, 4, "little")]
        if kind == b"EXIF":
            exif_at, exif_orientation = len(kept), _exif_orientation(payload)
        elif kind == b"XMP ":
            xmp_orientation = xmp_orientation or _xmp_orientation(payload)
    if not changed and _zero_tail(data, end):
        return data
    extended = bool(kept) and bytes(kept[0][:4]) == b"VP8X"  # only VP8X can carry EXIF
    orientation = _kept_orientation(exif_orientation, xmp_orientation) if extended else None
    if orientation:
        at = exif_at if exif_at is not None else len(kept)
        kept.insert(at, _webp_chunk(b"EXIF", _minimal_exif(orientation)))
    if extended:
        header = bytes(kept[0])
        flags = header[8] & ~(_VP8X_EXIF | _VP8X_XMP) | (_VP8X_EXIF if orientation else 0)
        kept[0] = header[:8] + bytes((flags,)) + header[9:]
    size = 4 + sum(len(chunk) for chunk in kept)
    return _joined(data, [b"RIFF", size.to_bytes(4, "little"), b"WEBP", *kept], end, True)


# --- HEIC / HEIF ----------------------------------------------------------------------------

_EMPTY_XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"/>'
_STRUCT_FIELD = {0: "", 4: "I", 8: "Q"}  # the iloc field sizes defined, as struct codes
_LOW_40 = (1 << 40) - 1


def _boxes(data: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(type, body, end) of the ISO-BMFF boxes laid end to end in data[start:end]."""
    pos = start
    while pos < end:
        size, kind, body = _uint(data, pos, 4), data[pos + 4 : pos + 8], pos + 8
        if size == 1:
            size, body = _uint(data, pos + 8, 8), pos + 16
        elif size == 0:
            size = end - pos
        if size < body - pos or pos + size > end:  # a box holds at least its own header
            raise _Malformed(f"box {kind!r} at byte {pos} has a bad size")
        yield kind, body, pos + size
        pos += size


def _children(data: bytes, body: int, end: int) -> dict[bytes, tuple[int, int]]:
    """type -> (body, end) of the first child box of each type."""
    found: dict[bytes, tuple[int, int]] = {}
    for kind, child_body, child_end in _boxes(data, body, end):
        found.setdefault(kind, (child_body, child_end))
    return found


def _heif_meta(data: bytes) -> dict[bytes, tuple[int, int]]:
    """The boxes inside the file's `meta` box (a full box: 4 bytes of version and flags)."""
    for kind, body, end in _boxes(data, 0, len(data)):
        if kind == b"meta":
            return _children(data, body + 4, end)
    raise _Malformed("no meta box")


def _box(meta: dict[bytes, tuple[int, int]], kind: bytes, data: bytes) -> bytes:
    """The body of a box, as its own bytes, so reads past its end are caught."""
    if kind not in meta:
        raise _Malformed(f"no {kind.decode()} box")
    body, end = meta[kind]
    return data[body:end]


def _heif_dimensions(data: bytes) -> tuple[int, int]:
    """The `ispe` of the primary item; the largest `ispe` if no association names it."""
    meta = _heif_meta(data)
    _heif_metadata_extents(data, meta)  # the whole item structure, as stripping reads it
    iprp = _box(meta, b"iprp", data)
    properties = _children(iprp, 0, len(iprp))
    ipco = _box(properties, b"ipco", iprp)
    ipma = _box(properties, b"ipma", iprp) if b"ipma" in properties else b""
    sizes = {}
    for index, (kind, body, end) in enumerate(_boxes(ipco, 0, len(ipco)), start=1):
        if kind == b"ispe":
            if end - body < 12:
                raise _Malformed("the ispe box is too short")
            sizes[index] = (_uint(ipco, body + 4, 4), _uint(ipco, body + 8, 4))
    if not sizes:
        raise _Malformed("no image size (ispe) property")
    primary = _heif_primary(_box(meta, b"pitm", data)) if b"pitm" in meta else None
    found = None
    for item, indexes in _heif_associations(ipma) if ipma else ():  # every entry is read
        if found is None and item == primary:
            found = next((sizes[index] for index in indexes if index in sizes), None)
    return found or max(sizes.values(), key=lambda size: size[0] * size[1])


def _heif_primary(pitm: bytes) -> int:
    return _uint(pitm, 4, 2 if pitm[:1] == b"\x00" else 4)


def _heif_associations(ipma: bytes) -> Iterator[tuple[int, list[int]]]:
    """(item ID, property indexes) from an `ipma` box body."""
    version, flags = _uint(ipma, 0, 1), _uint(ipma, 1, 3)
    id_size, index_size = (2 if version < 1 else 4), (2 if flags & 1 else 1)
    index_mask = 0x7FFF if flags & 1 else 0x7F  # the top bit says "essential"
    count, pos = _uint(ipma, 4, 4), 8
    if count * (id_size + 1) > len(ipma) - pos:
        raise _Malformed(f"ipma declares {count} entries, more than its {len(ipma)} bytes hold")
    for _ in range(count):
        item, indexes = _uint(ipma, pos, id_size), _uint(ipma, pos + id_size, 1)
        pos += id_size + 1
        if pos + indexes * index_size > len(ipma):
            raise _Malformed(f"ipma entry for item {item} runs past the end of its box")
        yield (
            item,
            [_uint(ipma, pos + i * index_size, index_size) & index_mask for i in range(indexes)],
        )
        pos += indexes * index_size


def _heif_metadata_items(iinf: bytes) -> dict[int, bytes]:
    """item ID -> b"Exif" or b"XMP" for the metadata items listed in an `iinf` box body."""
    entries_at = 6 if iinf[:1] == b"\x00" else 8
    found: dict[int, bytes] = {}
    for kind, body, end in _boxes(iinf, entries_at, len(iinf)):
        if kind != b"infe":
            continue
        infe = iinf[body:end]  # reads past the entry's end are caught
        version = _uint(infe, 0, 1)
        if version >= 2:
            id_size = 2 if version == 2 else 4
            item = _uint(infe, 4, id_size)
            item_type = infe[6 + id_size : 10 + id_size]
            strings = infe[10 + id_size :].split(b"\x00", 2)
            content_type = strings[1] if item_type == b"mime" and len(strings) > 1 else b""
        else:
            item, item_type = _uint(infe, 4, 2), b""
            strings = infe[8:].split(b"\x00", 2)
            content_type = strings[1] if len(strings) > 1 else b""
        if item_type == b"Exif":
            found[item] = b"Exif"
        elif content_type == b"application/rdf+xml":
            found[item] = b"XMP"
    return found


def _heif_extents(iloc: memoryview) -> Iterator[tuple[int, int, int, Iterator[tuple[int, int]]]]:
    """(item ID, construction method, data reference, (offset, length) of each extent) per
    `iloc` entry; the extents are unpacked as they are read, from the entry's own bytes.

    Counts are checked against the bytes left before they are looped over: the walk is linear
    in the size of the box."""
    version = _uint(iloc, 0, 1)
    if version > 2:
        raise _Malformed(f"iloc version {version} is not defined")
    offset_size, length_size = _uint(iloc, 4, 1) >> 4, _uint(iloc, 4, 1) & 15
    base_size, index_size = _uint(iloc, 5, 1) >> 4, _uint(iloc, 5, 1) & 15
    if version == 0:
        index_size = 0
    if not {offset_size, length_size, base_size, index_size} <= _STRUCT_FIELD.keys():
        raise _Malformed("an iloc field size is not 0, 4 or 8 bytes")
    id_size = 4 if version == 2 else 2
    method_size = 2 if version else 0
    count, pos = _uint(iloc, 6, id_size), 6 + id_size
    entry_size = id_size + method_size + 2 + base_size + 2  # an entry without extents
    extent_size = index_size + offset_size + length_size
    layout = ">" + "".join(_STRUCT_FIELD[size] for size in (index_size, offset_size, length_size))
    if count * entry_size > len(iloc) - pos:
        raise _Malformed(f"iloc declares {count} items, more than its {len(iloc)} bytes hold")
    for _ in range(count):
        item, pos = _uint(iloc, pos, id_size), pos + id_size
        method = _uint(iloc, pos, 2) & 15 if method_size else 0
        pos += method_size
        reference, base = _uint(iloc, pos, 2), _uint(iloc, pos + 2, base_size)
        extent_count, pos = _uint(iloc, pos + 2 + base_size, 2), pos + 4 + base_size
        if extent_count * max(extent_size, 1) > len(iloc) - pos:
            raise _Malformed(f"iloc declares {extent_count} extents for item {item}, more than fit")
        if extent_count and not length_size:  # every extent's length would be 0
            raise _Malformed(f"item {item} has a zero-length extent")
        raw, pos = iloc[pos : pos + extent_count * extent_size], pos + extent_count * extent_size
        fields = struct.iter_unpack(layout, raw) if extent_count else iter(())
        if offset_size:
            yield item, method, reference, ((base + f[-2], f[-1]) for f in fields)
        else:
            yield item, method, reference, ((base, f[-1]) for f in fields)


def _heif_metadata_extents(
    data: bytes, meta: dict[bytes, tuple[int, int]]
) -> list[tuple[bytes, array[int]]]:
    """(kind, its extents as `start << 40 | end` file offsets) of each metadata item, every
    `iloc` entry of the file or its `idat` checked: no extent is empty, runs outside, or
    overlaps another. Memory: 8 bytes an extent (an extent takes 4 to 24 bytes of `iloc`)."""
    if len(data) >= 1 << 40:
        raise _Malformed("the file is too large")
    items = _heif_metadata_items(_box(meta, b"iinf", data)) if b"iinf" in meta else {}
    if b"iloc" not in meta:
        if items:
            raise _Malformed("no iloc box")
        return []
    spans = array("Q")  # start << 40 | end of every extent, to find overlaps
    found: list[tuple[bytes, int, int]] = []  # (kind, first span, end of its spans)
    body, end = meta[b"iloc"]
    for item, method, reference, extents in _heif_extents(memoryview(data)[body:end]):
        if method not in (0, 1) or reference != 0:
            if item in items:
                raise _Malformed("its metadata is stored in a way this service cannot remove")
            continue  # in another item or another file: nothing here to check
        origin, limit = (0, len(data)) if method == 0 else meta.get(b"idat", (-1, -1))
        if origin < 0:
            raise _Malformed(f"item {item} is in an idat box the file does not have")
        first = len(spans)
        for offset, length in extents:
            at = origin + offset
            if length == 0:
                raise _Malformed(f"item {item} has a zero-length extent")
            if at + length > limit:
                raise _Malformed(f"item {item} has an extent outside the file")
            if spans and at < spans[-1] & _LOW_40 and at + length > spans[-1] >> 40:
                raise _Malformed("two item extents overlap")  # found early: no sort needed
            spans.append(at << 40 | (at + length))
        if item in items:
            found.append((items[item], first, len(spans)))
    in_order = all(a <= b for a, b in pairwise(spans))  # as encoders write them: no sort
    # (else the sort takes ~44 bytes an extent: still linear, ~6x the iloc box at worst)
    previous_end = 0
    for span in spans if in_order else sorted(spans):
        if span >> 40 < previous_end:
            raise _Malformed("two item extents overlap")
        previous_end = span & _LOW_40
    return [(kind, spans[first:last]) for kind, first, last in found]


def _heif_blank(kind: bytes, payload: bytes) -> bytes:
    """What overwrites a metadata item's payload: same length, nothing personal left."""
    if kind == b"Exif":
        tiff_at = 4 + _uint(payload, 0, 4) if len(payload) >= 4 else len(payload)
        orientation = _kept_orientation(_exif_orientation(payload[tiff_at:]), None)
        blank = bytes(4) + _minimal_exif(orientation)
        filler = b"\x00"
    else:
        blank, filler = _EMPTY_XMP, b" "
    if len(blank) > len(payload):
        blank = b""
    return blank + filler * (len(payload) - len(blank))


def _strip_heif(data: bytes) -> bytes:
    metadata = _heif_metadata_extents(data, _heif_meta(data))
    if not metadata:
        return data
    view = memoryview(data)
    replaced: list[tuple[int, int, memoryview]] = []  # (start, end, new bytes)
    for kind, spans in metadata:
        regions = [(span >> 40, span & _LOW_40) for span in spans]
        blank = memoryview(_heif_blank(kind, b"".join(view[at:end] for at, end in regions)))
        used = 0
        for at, end in regions:
            replaced.append((at, end, blank[used : used + end - at]))
            used += end - at
    pieces: Chunks = []
    pos = 0
    for at, end, blank in sorted(replaced, key=lambda region: region[0]):
        pieces += [view[pos:at], blank]
        pos = end
    pieces.append(view[pos:])
    return b"".join(pieces)


_FORMATS: dict[str, tuple[str, Callable, Callable]] = {
    "image/jpeg": ("JPEG", _jpeg_dimensions, _strip_jpeg),
    "image/png": ("PNG", _png_dimensions, _strip_png),
    "image/gif": ("GIF", _gif_dimensions, _strip_gif),
    "image/webp": ("WebP", _webp_dimensions, _strip_webp),
    "image/heic": ("HEIC", _heif_dimensions, _strip_heif),
    "image/heif": ("HEIF", _heif_dimensions, _strip_heif),
}
