"""HEIC/HEIF: the ISO-BMFF boxes, the `meta` box's item structure, and `iloc`'s extents.

The walk reads the top-level boxes to the `meta` box and its children (`pitm`, `iinf`,
`iloc`, `iprp`, `idat`, ...); from `iinf` the `infe` entries that name an Exif item or an XMP
item (`mime` of type application/rdf+xml); from `iloc` every entry and every extent, checked
(each extent non-empty, inside the file or its `idat`, overlapping no other) whether or not
it belongs to a metadata item, as both `dimensions` and `strip` need the same structure.
Every count (`iloc` items and extents, `ipma` entries) is checked against the bytes left to
hold it before it is looped over, and each box is read from its own bytes, so the work and
memory are linear in the size of the file: no extent is gathered twice, none is copied.

`dimensions` is the `ispe` of the primary item (`pitm`, through the `ipma` associations), or
the largest `ispe` when no association names one: the coded size, before the `clap` crop and
`irot`, so encoders' padding counts (pillow-heif codes a 16x12 picture as 64x64).

`strip` does not rewrite the boxes. The payload of every Exif item and every XMP item, found
through `iloc`, is overwritten in place: the Exif with a minimal Exif (orientation only,
zero-padded), the XMP with an empty `x:xmpmeta` element padded with spaces. Every offset,
item and reference stays valid; orientation (`irot`, `imir`) and colour (`colr`) are item
properties and are untouched.

Refused (`Malformed`): a box smaller than its header or past the end of its parent; no `meta`
box; a metadata item without an `iloc` box; an `iloc` version above 2 or a field size other
than 0, 4 or 8 bytes; a count its box cannot hold; a zero-length extent, one outside the file
or the `idat` it names, or two that overlap; metadata stored in another file or in another
item (an `iloc` data reference or construction method 2), which cannot be blanked; a file of
2^40 bytes or more; and for `dimensions`, no `iprp`/`ipco`, no `ispe` or a short one.
"""

from __future__ import annotations

import re
import struct
from array import array
from collections.abc import Iterator
from itertools import pairwise

from profile_photos.images.binary import Chunks, Malformed, uint
from profile_photos.images.exif import kept_orientation, minimal_exif, read_exif_orientation

_Boxes = dict[bytes, tuple[int, int]]

_EMPTY_XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"/>'
_STRUCT_FIELD = {0: "", 4: "I", 8: "Q"}  # the iloc field sizes defined, as struct codes
_LOW_40 = (1 << 40) - 1


def _boxes(data: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(type, body, end) of the ISO-BMFF boxes laid end to end in data[start:end]."""
    pos = start
    while pos < end:
        size, kind, body = uint(data, pos, 4), data[pos + 4 : pos + 8], pos + 8
        if size == 1:
            size, body = uint(data, pos + 8, 8), pos + 16
        elif size == 0:
            size = end - pos
        if size < body - pos or pos + size > end:  # a box holds at least its own header
            raise Malformed(f"box {kind!r} at byte {pos} has a bad size")
        yield kind, body, pos + size
        pos += size


def _children(data: bytes, body: int, end: int) -> _Boxes:
    """type -> (body, end) of the first child box of each type."""
    found: _Boxes = {}
    for kind, child_body, child_end in _boxes(data, body, end):
        found.setdefault(kind, (child_body, child_end))
    return found


def _meta(data: bytes) -> _Boxes:
    """The boxes inside the file's `meta` box (a full box: 4 bytes of version and flags)."""
    for kind, body, end in _boxes(data, 0, len(data)):
        if kind == b"meta":
            return _children(data, body + 4, end)
    raise Malformed("no meta box")


def _box(meta: _Boxes, kind: bytes, data: bytes) -> bytes:
    """The body of a box, as its own bytes, so reads past its end are caught."""
    if kind not in meta:
        raise Malformed(f"no {kind.decode()} box")
    body, end = meta[kind]
    return data[body:end]


def dimensions(data: bytes) -> tuple[int, int]:
    """The `ispe` of the primary item; the largest `ispe` if no association names it."""
    meta = _meta(data)
    _metadata_extents(data, meta)  # the whole item structure, as stripping reads it
    iprp = _box(meta, b"iprp", data)
    properties = _children(iprp, 0, len(iprp))
    ipco = _box(properties, b"ipco", iprp)
    ipma = _box(properties, b"ipma", iprp) if b"ipma" in properties else b""
    sizes: dict[int, tuple[int, int]] = {}
    for index, (kind, body, end) in enumerate(_boxes(ipco, 0, len(ipco)), start=1):
        if kind == b"ispe":
            if end - body < 12:
                raise Malformed("the ispe box is too short")
            sizes[index] = (uint(ipco, body + 4, 4), uint(ipco, body + 8, 4))
    if not sizes:
        raise Malformed("no image size (ispe) property")
    primary = _primary(_box(meta, b"pitm", data)) if b"pitm" in meta else None
    found = None
    for item, indexes in _associations(ipma) if ipma else ():  # every entry is read
        if found is None and item == primary:
            found = next((sizes[index] for index in indexes if index in sizes), None)
    return found or max(sizes.values(), key=lambda size: size[0] * size[1])


def _primary(pitm: bytes) -> int:
    return uint(pitm, 4, 2 if pitm[:1] == b"\x00" else 4)


def _associations(ipma: bytes) -> Iterator[tuple[int, list[int]]]:
    """(item ID, property indexes) from an `ipma` box body."""
    version, flags = uint(ipma, 0, 1), uint(ipma, 1, 3)
    id_size, index_size = (2 if version < 1 else 4), (2 if flags & 1 else 1)
    index_mask = 0x7FFF if flags & 1 else 0x7F  # the top bit says "essential"
    count, pos = uint(ipma, 4, 4), 8
    if count * (id_size + 1) > len(ipma) - pos:
        raise Malformed(f"ipma declares {count} entries, more than its {len(ipma)} bytes hold")
    for _ in range(count):
        item, indexes = uint(ipma, pos, id_size), uint(ipma, pos + id_size, 1)
        pos += id_size + 1
        if pos + indexes * index_size > len(ipma):
            raise Malformed(f"ipma entry for item {item} runs past the end of its box")
        yield (
            item,
            [uint(ipma, pos + i * index_size, index_size) & index_mask for i in range(indexes)],
        )
        pos += indexes * index_size


_FOURCC = re.compile(rb"[\x20-\x7e]{4}")


def _metadata_items(iinf: bytes) -> dict[int, bytes]:
    """item ID -> b"Exif" or b"XMP" for the metadata items listed in an `iinf` box body."""
    entries_at = 6 if iinf[:1] == b"\x00" else 8
    found: dict[int, bytes] = {}
    for kind, body, end in _boxes(iinf, entries_at, len(iinf)):
        if kind != b"infe":
            continue
        infe = iinf[body:end]  # reads past the entry's end are caught
        version = uint(infe, 0, 1)
        if version >= 2:
            id_size = 2 if version == 2 else 4
            item = uint(infe, 4, id_size)
            item_type = infe[6 + id_size : 10 + id_size]
            if not _FOURCC.fullmatch(item_type):
                # a type libheif's Python bindings read as text: pi-heif 1.4.0 (its last
                # release) crashes the process on one that is not UTF-8
                raise Malformed(f"item {item} has a type that is not four ASCII characters")
            strings = infe[10 + id_size :].split(b"\x00", 2)
            content_type = strings[1] if item_type == b"mime" and len(strings) > 1 else b""
        else:
            item, item_type = uint(infe, 4, 2), b""
            strings = infe[8:].split(b"\x00", 2)
            content_type = strings[1] if len(strings) > 1 else b""
        if item_type == b"Exif":
            found[item] = b"Exif"
        elif content_type == b"application/rdf+xml":
            found[item] = b"XMP"
    return found


def _extents(iloc: memoryview) -> Iterator[tuple[int, int, int, Iterator[tuple[int, int]]]]:
    """(item ID, construction method, data reference, (offset, length) of each extent) per
    `iloc` entry; the extents are unpacked as they are read, from the entry's own bytes.

    Counts are checked against the bytes left before they are looped over: the walk is linear
    in the size of the box."""
    version = uint(iloc, 0, 1)
    if version > 2:
        raise Malformed(f"iloc version {version} is not defined")
    offset_size, length_size = uint(iloc, 4, 1) >> 4, uint(iloc, 4, 1) & 15
    base_size, index_size = uint(iloc, 5, 1) >> 4, uint(iloc, 5, 1) & 15
    if version == 0:
        index_size = 0
    if not {offset_size, length_size, base_size, index_size} <= _STRUCT_FIELD.keys():
        raise Malformed("an iloc field size is not 0, 4 or 8 bytes")
    id_size = 4 if version == 2 else 2
    method_size = 2 if version else 0
    count, pos = uint(iloc, 6, id_size), 6 + id_size
    entry_size = id_size + method_size + 2 + base_size + 2  # an entry without extents
    extent_size = index_size + offset_size + length_size
    layout = ">" + "".join(_STRUCT_FIELD[size] for size in (index_size, offset_size, length_size))
    if count * entry_size > len(iloc) - pos:
        raise Malformed(f"iloc declares {count} items, more than its {len(iloc)} bytes hold")
    for _ in range(count):
        item, pos = uint(iloc, pos, id_size), pos + id_size
        method = uint(iloc, pos, 2) & 15 if method_size else 0
        pos += method_size
        reference, base = uint(iloc, pos, 2), uint(iloc, pos + 2, base_size)
        extent_count, pos = uint(iloc, pos + 2 + base_size, 2), pos + 4 + base_size
        if extent_count * max(extent_size, 1) > len(iloc) - pos:
            raise Malformed(f"iloc declares {extent_count} extents for item {item}, more than fit")
        if extent_count and not length_size:  # every extent's length would be 0
            raise Malformed(f"item {item} has a zero-length extent")
        raw, pos = iloc[pos : pos + extent_count * extent_size], pos + extent_count * extent_size
        fields = struct.iter_unpack(layout, raw) if extent_count else iter(())
        if offset_size:
            yield item, method, reference, ((base + f[-2], f[-1]) for f in fields)
        else:
            yield item, method, reference, ((base, f[-1]) for f in fields)


def _metadata_extents(data: bytes, meta: _Boxes) -> list[tuple[bytes, array[int]]]:
    """(kind, its extents as `start << 40 | end` file offsets) of each metadata item, every
    `iloc` entry of the file or its `idat` checked: no extent is empty, runs outside, or
    overlaps another. Memory: 8 bytes an extent (an extent takes 4 to 24 bytes of `iloc`)."""
    if len(data) >= 1 << 40:
        raise Malformed("the file is too large")
    items = _metadata_items(_box(meta, b"iinf", data)) if b"iinf" in meta else {}
    if b"iloc" not in meta:
        if items:
            raise Malformed("no iloc box")
        return []
    spans = array("Q")  # start << 40 | end of every extent, to find overlaps
    found: list[tuple[bytes, int, int]] = []  # (kind, first span, end of its spans)
    body, end = meta[b"iloc"]
    for item, method, reference, extents in _extents(memoryview(data)[body:end]):
        if method not in (0, 1) or reference != 0:
            if item in items:
                raise Malformed("its metadata is stored in a way this service cannot remove")
            continue  # in another item or another file: nothing here to check
        origin, limit = (0, len(data)) if method == 0 else meta.get(b"idat", (-1, -1))
        if origin < 0:
            raise Malformed(f"item {item} is in an idat box the file does not have")
        first = len(spans)
        for offset, length in extents:
            at = origin + offset
            if length == 0:
                raise Malformed(f"item {item} has a zero-length extent")
            if at + length > limit:
                raise Malformed(f"item {item} has an extent outside the file")
            if spans and at < spans[-1] & _LOW_40 and at + length > spans[-1] >> 40:
                raise Malformed("two item extents overlap")  # found early: no sort needed
            spans.append(at << 40 | (at + length))
        if item in items:
            found.append((items[item], first, len(spans)))
    in_order = all(a <= b for a, b in pairwise(spans))  # as encoders write them: no sort
    # (else the sort takes ~44 bytes an extent: still linear, ~6x the iloc box at worst)
    previous_end = 0
    for span in spans if in_order else sorted(spans):
        if span >> 40 < previous_end:
            raise Malformed("two item extents overlap")
        previous_end = span & _LOW_40
    return [(kind, spans[first:last]) for kind, first, last in found]


def _blank(kind: bytes, payload: bytes) -> bytes:
    """What overwrites a metadata item's payload: same length, nothing personal left."""
    if kind == b"Exif":
        tiff_at = 4 + uint(payload, 0, 4) if len(payload) >= 4 else len(payload)
        orientation = kept_orientation(read_exif_orientation(payload[tiff_at:]), None)
        blank = bytes(4) + minimal_exif(orientation)
        filler = b"\x00"
    else:
        blank, filler = _EMPTY_XMP, b" "
    if len(blank) > len(payload):
        blank = b""
    return blank + filler * (len(payload) - len(blank))


def strip(data: bytes) -> bytes:
    """`data` with the payload of every Exif and XMP item blanked in place."""
    metadata = _metadata_extents(data, _meta(data))
    if not metadata:
        return data
    view = memoryview(data)
    replaced: list[tuple[int, int, memoryview]] = []  # (start, end, new bytes)
    for kind, spans in metadata:
        regions = [(span >> 40, span & _LOW_40) for span in spans]
        blank = memoryview(_blank(kind, b"".join(view[at:end] for at, end in regions)))
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
