"""Image contents: the size from the header, and personal metadata removed without re-encoding.

Pure functions over bytes, standard library only: no pixel is decoded or re-encoded. Malformed
input raises `UnsupportedMediaType` (415), never an IndexError.

`content_type` is the canonical type `validation` settled on (image/jpeg, image/png, ...).

`read_dimensions` reads the size a decoder allocates, from the header, before any orientation
is applied: JPEG's first SOF, PNG's IHDR, WebP's VP8X canvas or VP8/VP8L frame, GIF's logical
screen widened to any frame reaching past it. For HEIC/HEIF it is the `ispe` of the primary
item (the largest `ispe` when no association names one): the coded size, before the `clap` crop
and `irot`, so encoders' padding counts (pillow-heif codes a 16x12 picture as 64x64).
`check_dimensions` refuses decompression bombs: more than `MAX_SIDE` px a side or `MAX_PIXELS`.

`strip_metadata` removes location and other personal metadata and keeps what changes how the
image looks (orientation, colour profile). Where a removed Exif block held an Orientation other
than 1 (or, lacking Exif, an XMP `tiff:Orientation`), a minimal big-endian Exif holding only
IFD0/Orientation takes its place. Per format:

- JPEG: every APP1 segment (Exif, XMP, extended XMP), APP13 (Photoshop IPTC) and COM are
  dropped. APP0 (JFIF), APP2 (ICC profile, MPF), APP14 (Adobe), the tables and everything from
  the first SOS on are copied byte for byte.
- PNG: tEXt, iTXt, zTXt, eXIf and tIME chunks are dropped; all others (iCCP, sRGB, gAMA, cHRM,
  ...) are copied whole, so their CRCs stay valid. Orientation is written back as a minimal
  eXIf chunk, for the viewers that honour it.
- WebP: EXIF and `XMP ` chunks are dropped, the VP8X flags and the RIFF size are updated; ICCP
  and the image chunks are copied whole.
- GIF: comment extensions and "XMP DataXMP" application extensions are dropped; everything
  else (NETSCAPE looping, ICC application extension, frames) is copied whole.
- HEIC/HEIF: the boxes are not rewritten. The payload of every `Exif` item and every XMP item
  (`mime` item of type application/rdf+xml), found through `iloc`, is overwritten in place: the
  Exif with a minimal Exif (orientation only, zero-padded), the XMP with an empty `x:xmpmeta`
  element padded with spaces. Every offset, item and reference stays valid; orientation (`irot`,
  `imir`) and colour (`colr`) are item properties and are untouched. Metadata stored in
  another file or in another item (`iloc` data reference or construction method 2) is refused.

A file with nothing to remove is returned as the very same object.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Iterator
from typing import Any

from profile_photos.errors import UnsupportedMediaType

MAX_SIDE = 16384
MAX_PIXELS = 100_000_000

ORIENTATION_TAG = 0x0112
_XMP_ORIENTATION = re.compile(rb'tiff:Orientation(?:="|>)([1-8])\b')


class _Malformed(Exception):
    """A header that cannot be parsed; reported to the client as `UnsupportedMediaType`."""


def read_dimensions(data: bytes, content_type: str) -> tuple[int, int]:
    """(width, height) in pixels, read from the image header of a file of `content_type`."""
    name, dimensions, _ = _format(content_type)
    width, height = _parse(name, dimensions, data)
    if width <= 0 or height <= 0:
        raise UnsupportedMediaType(f"The {name} header gives an empty size: {width}x{height} px")
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
        raise UnsupportedMediaType(f"The file is not a readable {name} image: {exc}") from exc


def _uint(data: bytes, offset: int, size: int, order: str = "big") -> int:
    """The unsigned integer of `size` bytes at `offset`; `_Malformed` past the end."""
    if offset < 0 or offset + size > len(data):
        raise _Malformed("the file ends early")
    return int.from_bytes(data[offset : offset + size], order)  # type: ignore[arg-type]


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
_JPEG_DROP = frozenset({0xE1, 0xED, 0xFE})  # APP1 (Exif, XMP), APP13 (IPTC), COM
_JPEG_SOS = 0xDA


def _jpeg_segments(data: bytes) -> Iterator[tuple[int, int, int, int]]:
    """(marker, start, body, end) of each segment after SOI; the last is SOS, to the file end."""
    if not data.startswith(b"\xff\xd8"):
        raise _Malformed("no start-of-image marker")
    pos = 2
    while True:
        start = pos
        if _uint(data, pos, 1) != 0xFF:
            raise _Malformed(f"expected a marker at byte {pos}")
        while _uint(data, pos + 1, 1) == 0xFF:  # fill bytes
            pos += 1
        marker = _uint(data, pos + 1, 1)
        if marker == _JPEG_SOS:
            yield marker, start, pos + 2, len(data)
            return
        if marker in _JPEG_STANDALONE:
            body = end = pos + 2
        elif marker in (0x00, 0xD8, 0xD9):
            raise _Malformed("the image data is missing")
        else:
            length = _uint(data, pos + 2, 2)
            body, end = pos + 4, pos + 2 + length
            if length < 2 or end > len(data):
                raise _Malformed(f"segment 0x{marker:02X} has a bad length")
        yield marker, start, body, end
        pos = end


def _jpeg_dimensions(data: bytes) -> tuple[int, int]:
    for marker, _, body, end in _jpeg_segments(data):
        if marker in _JPEG_SOF:
            if end - body < 6:
                raise _Malformed("the frame header is too short")
            return _uint(data, body + 3, 2), _uint(data, body + 1, 2)
    raise _Malformed("no frame header before the image data")


def _jpeg_segment(marker: int, payload: bytes) -> bytes:
    return bytes((0xFF, marker)) + (len(payload) + 2).to_bytes(2) + payload


def _strip_jpeg(data: bytes) -> bytes:
    view = memoryview(data)  # kept segments are views: the output is the only copy made
    kept: list[bytes | memoryview] = [view[:2]]
    removed_at: int | None = None  # where the first dropped segment was
    exif_orientation = xmp_orientation = None
    for marker, start, body, end in _jpeg_segments(data):
        if marker not in _JPEG_DROP:
            kept.append(view[start:end])
            continue
        removed_at = len(kept) if removed_at is None else removed_at
        payload = data[body:end]
        if marker == 0xE1 and payload.startswith(b"Exif\x00"):
            exif_orientation = exif_orientation or _exif_orientation(payload[6:])
        elif marker == 0xE1:
            xmp_orientation = xmp_orientation or _xmp_orientation(payload)
    if removed_at is None:
        return data
    if orientation := _kept_orientation(exif_orientation, xmp_orientation):
        exif = _jpeg_segment(0xE1, b"Exif\x00\x00" + _minimal_exif(orientation))
        kept.insert(removed_at, exif)
    return b"".join(kept)


# --- PNG ------------------------------------------------------------------------------------

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_DROP = frozenset({b"tEXt", b"iTXt", b"zTXt", b"eXIf", b"tIME"})


def _png_chunks(data: bytes) -> Iterator[tuple[bytes, int, int]]:
    """(type, start, end) of each chunk, up to and including IEND."""
    if not data.startswith(_PNG_SIGNATURE):
        raise _Malformed("no PNG signature")
    pos = len(_PNG_SIGNATURE)
    while True:
        end = pos + 12 + _uint(data, pos, 4)
        if end > len(data):
            raise _Malformed("a chunk runs past the end of the file")
        kind = data[pos + 4 : pos + 8]
        yield kind, pos, end
        if kind == b"IEND":
            return
        pos = end


def _png_dimensions(data: bytes) -> tuple[int, int]:
    kind, start, end = next(_png_chunks(data))
    if kind != b"IHDR" or end - start != 25:
        raise _Malformed("the first chunk is not a valid IHDR")
    return _uint(data, start + 8, 4), _uint(data, start + 12, 4)


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return len(payload).to_bytes(4) + kind + payload + zlib.crc32(kind + payload).to_bytes(4)


def _strip_png(data: bytes) -> bytes:
    kept: list[bytes] = []
    removed = False
    exif_at = 1  # a new eXIf must precede IDAT: where the old one was, else after IHDR
    exif_orientation = xmp_orientation = None
    for kind, start, end in _png_chunks(data):
        if kind not in _PNG_DROP:
            kept.append(data[start:end])
            continue
        removed = True
        payload = data[start + 8 : end - 4]
        if kind == b"eXIf":
            exif_at, exif_orientation = len(kept), _exif_orientation(payload)
        elif kind == b"iTXt" and payload.startswith(b"XML:com.adobe.xmp\x00"):
            xmp_orientation = xmp_orientation or _xmp_orientation(payload)
    if not removed:
        return data
    if orientation := _kept_orientation(exif_orientation, xmp_orientation):
        kept.insert(exif_at, _png_chunk(b"eXIf", _minimal_exif(orientation)))
    return _PNG_SIGNATURE + b"".join(kept) + data[end:]


# --- GIF ------------------------------------------------------------------------------------

_GIF_XMP_APPLICATION = b"\x0bXMP DataXMP"


def _gif_colour_table_size(packed: int) -> int:
    return 3 << ((packed & 7) + 1) if packed & 0x80 else 0


def _gif_sub_blocks_end(data: bytes, pos: int) -> int:
    while size := _uint(data, pos, 1):
        pos += 1 + size
    return pos + 1


def _gif_blocks(data: bytes) -> Iterator[tuple[int, int, int]]:
    """(introducer, start, end) of the header, then each extension and image, then trailer."""
    if not data.startswith((b"GIF87a", b"GIF89a")):
        raise _Malformed("no GIF signature")
    packed = _uint(data, 10, 1)
    pos = 13 + _gif_colour_table_size(packed)
    yield 0, 0, pos
    while pos < len(data):  # some encoders omit the trailer
        introducer = _uint(data, pos, 1)
        if introducer == 0x3B:
            yield introducer, pos, pos + 1
            return
        if introducer == 0x21:
            end = _gif_sub_blocks_end(data, pos + 2)
        elif introducer == 0x2C:
            packed = _uint(data, pos + 9, 1)
            table = _gif_colour_table_size(packed)
            end = _gif_sub_blocks_end(data, pos + 10 + table + 1)  # after the LZW code size
        else:
            raise _Malformed(f"unknown block 0x{introducer:02X} at byte {pos}")
        yield introducer, pos, end
        pos = end
    if pos > len(data):
        raise _Malformed("the file ends early")


def _gif_dimensions(data: bytes) -> tuple[int, int]:
    """The logical screen, widened to any frame that reaches past it (as decoders do)."""
    width, height = _uint(data, 6, 2, "little"), _uint(data, 8, 2, "little")
    for introducer, start, _ in _gif_blocks(data):
        if introducer == 0x2C:
            left, top = _uint(data, start + 1, 2, "little"), _uint(data, start + 3, 2, "little")
            frame_width = _uint(data, start + 5, 2, "little")
            frame_height = _uint(data, start + 7, 2, "little")
            width, height = max(width, left + frame_width), max(height, top + frame_height)
    return width, height


def _strip_gif(data: bytes) -> bytes:
    kept: list[bytes] = []
    removed = False
    for introducer, start, end in _gif_blocks(data):
        label = data[start + 1 : start + 2]
        if introducer == 0x21 and (
            label == b"\xfe"
            or (label == b"\xff" and data.startswith(_GIF_XMP_APPLICATION, start + 2))
        ):
            removed = True
        else:
            kept.append(data[start:end])
    if not removed:
        return data
    return b"".join(kept) + data[end:]


# --- WebP -----------------------------------------------------------------------------------

_WEBP_DROP = frozenset({b"EXIF", b"XMP "})
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
            raise _Malformed("a chunk runs past the end of the file")
        yield data[pos : pos + 4], pos, end
        pos = end


def _webp_dimensions(data: bytes) -> tuple[int, int]:
    kind, start, end = next(_webp_chunks(data))
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
    kept: list[bytes] = []
    removed = False
    exif_at: int | None = None
    exif_orientation = xmp_orientation = None
    for kind, start, end in _webp_chunks(data):
        if kind not in _WEBP_DROP:
            kept.append(data[start:end])
            continue
        removed = True
        payload = data[start + 8 : start + 8 + _uint(data, start + 4, 4, "little")]
        if kind == b"EXIF":
            exif_at, exif_orientation = len(kept), _exif_orientation(payload)
        else:
            xmp_orientation = xmp_orientation or _xmp_orientation(payload)
    if not removed:
        return data
    extended = kept[0].startswith(b"VP8X")  # only the extended format can carry EXIF
    orientation = _kept_orientation(exif_orientation, xmp_orientation) if extended else None
    if orientation:
        at = exif_at if exif_at is not None else len(kept)
        kept.insert(at, _webp_chunk(b"EXIF", _minimal_exif(orientation)))
    if extended:
        flags = kept[0][8] & ~(_VP8X_EXIF | _VP8X_XMP) | (_VP8X_EXIF if orientation else 0)
        kept[0] = kept[0][:8] + bytes((flags,)) + kept[0][9:]
    chunks = b"".join(kept)
    return b"RIFF" + (4 + len(chunks)).to_bytes(4, "little") + b"WEBP" + chunks + data[end:]


# --- HEIC / HEIF ----------------------------------------------------------------------------

_EMPTY_XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"/>'


def _boxes(data: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(type, body, end) of the ISO-BMFF boxes laid end to end in data[start:end]."""
    pos = start
    while pos < end:
        size, kind, body = _uint(data, pos, 4), data[pos + 4 : pos + 8], pos + 8
        if size == 1:
            size, body = _uint(data, pos + 8, 8), pos + 16
        elif size == 0:
            size = end - pos
        if size < body - pos or pos + size > end:
            raise _Malformed(f"box {kind!r} has a bad size")
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
    for item, indexes in _heif_associations(ipma) if ipma else ():
        if item == primary:
            for index in indexes:
                if index in sizes:
                    return sizes[index]
    return max(sizes.values(), key=lambda size: size[0] * size[1])


def _heif_primary(pitm: bytes) -> int:
    return _uint(pitm, 4, 2 if pitm[:1] == b"\x00" else 4)


def _heif_associations(ipma: bytes) -> Iterator[tuple[int, list[int]]]:
    """(item ID, property indexes) from an `ipma` box body."""
    version, flags = _uint(ipma, 0, 1), _uint(ipma, 1, 3)
    id_size, index_size = (2 if version < 1 else 4), (2 if flags & 1 else 1)
    index_mask = 0x7FFF if flags & 1 else 0x7F  # the top bit says "essential"
    pos = 8
    for _ in range(_uint(ipma, 4, 4)):
        item, count = _uint(ipma, pos, id_size), _uint(ipma, pos + id_size, 1)
        pos += id_size + 1
        indexes = [_uint(ipma, pos + i * index_size, index_size) & index_mask for i in range(count)]
        pos += count * index_size
        yield item, indexes


def _heif_metadata_items(iinf: bytes) -> dict[int, bytes]:
    """item ID -> b"Exif" or b"XMP" for the metadata items listed in an `iinf` box body."""
    entries_at = 6 if iinf[:1] == b"\x00" else 8
    found: dict[int, bytes] = {}
    for kind, body, end in _boxes(iinf, entries_at, len(iinf)):
        if kind != b"infe":
            continue
        version = _uint(iinf, body, 1)
        if version >= 2:
            id_size = 2 if version == 2 else 4
            item = _uint(iinf, body + 4, id_size)
            item_type = iinf[body + 6 + id_size : body + 10 + id_size]
            strings = iinf[body + 10 + id_size : end].split(b"\x00")
            content_type = strings[1] if item_type == b"mime" and len(strings) > 1 else b""
        else:
            item, item_type = _uint(iinf, body + 4, 2), b""
            strings = iinf[body + 8 : end].split(b"\x00")
            content_type = strings[1] if len(strings) > 1 else b""
        if item_type == b"Exif":
            found[item] = b"Exif"
        elif content_type == b"application/rdf+xml":
            found[item] = b"XMP"
    return found


def _heif_extents(iloc: bytes) -> Iterator[tuple[int, int, int, list[tuple[int, int]]]]:
    """(item ID, construction method, data reference, [(offset, length)]) per `iloc` entry."""
    version = _uint(iloc, 0, 1)
    offset_size, length_size = _uint(iloc, 4, 1) >> 4, _uint(iloc, 4, 1) & 15
    base_size, index_size = _uint(iloc, 5, 1) >> 4, _uint(iloc, 5, 1) & 15
    if version not in (1, 2):
        index_size = 0
    id_size = 4 if version == 2 else 2
    count, pos = _uint(iloc, 6, id_size), 6 + id_size
    for _ in range(count):
        item, pos = _uint(iloc, pos, id_size), pos + id_size
        method = 0
        if version in (1, 2):
            method, pos = _uint(iloc, pos, 2) & 15, pos + 2
        reference, base = _uint(iloc, pos, 2), _uint(iloc, pos + 2, base_size)
        extent_count, pos = _uint(iloc, pos + 2 + base_size, 2), pos + 4 + base_size
        extents = []
        for _ in range(extent_count):
            pos += index_size
            offset = _uint(iloc, pos, offset_size)
            length = _uint(iloc, pos + offset_size, length_size)
            pos += offset_size + length_size
            extents.append((base + offset, length))
        yield item, method, reference, extents


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
    meta = _heif_meta(data)
    if b"iinf" not in meta:
        return data
    items = _heif_metadata_items(_box(meta, b"iinf", data))
    if not items:
        return data
    out = bytearray(data)
    for item, method, reference, extents in _heif_extents(_box(meta, b"iloc", data)):
        if item not in items:
            continue
        if method not in (0, 1) or reference != 0:
            raise _Malformed("its metadata is stored in a way this service cannot remove")
        origin, limit = (0, len(data)) if method == 0 else meta.get(b"idat", (-1, -1))
        regions = [(origin + offset, length) for offset, length in extents]
        if origin < 0 or any(length == 0 or at + length > limit for at, length in regions):
            raise _Malformed("a metadata item lies outside the file")
        blank = _heif_blank(items[item], b"".join(data[at : at + n] for at, n in regions))
        for at, length in regions:
            out[at : at + length], blank = blank[:length], blank[length:]
    return bytes(out)


_FORMATS: dict[str, tuple[str, Callable, Callable]] = {
    "image/jpeg": ("JPEG", _jpeg_dimensions, _strip_jpeg),
    "image/png": ("PNG", _png_dimensions, _strip_png),
    "image/gif": ("GIF", _gif_dimensions, _strip_gif),
    "image/webp": ("WebP", _webp_dimensions, _strip_webp),
    "image/heic": ("HEIC", _heif_dimensions, _strip_heif),
    "image/heif": ("HEIF", _heif_dimensions, _strip_heif),
}
