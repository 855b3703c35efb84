"""GIF: the header and global colour table, then each extension and image, to the trailer.

The walk reads the colour table flags and sizes, each block's introducer, and the chains of
data sub-blocks of extensions and images, one length byte at a time: every step advances at
least one byte. Some encoders omit the trailer: the walk then ends with the file.

`dimensions` is the logical screen, widened to any frame that reaches past it (as decoders
do: they allocate the larger canvas).

`strip` keeps the header and colour tables, image descriptors and their data, graphic control
and plain text extensions, the NETSCAPE2.0/ANIMEXTS1.0 (looping) and ICCRGBG1012 (colour
profile) application extensions, and the trailer; nothing after it. Dropped: comment
extensions and every other application extension ("XMP DataXMP", IPTC, ...). GIF carries no
orientation: nothing is written back.

Refused (`Malformed`): no GIF87a/GIF89a signature; a file shorter than its header and global
colour table; a block introducer other than extension, image or trailer; an image descriptor
or a chain of sub-blocks that runs past the end of the file.
"""

from __future__ import annotations

from collections.abc import Iterator

from profile_photos.images.binary import Chunks, Malformed, joined, uint

_APPLICATIONS = frozenset({b"NETSCAPE2.0", b"ANIMEXTS1.0", b"ICCRGBG1012"})
_KEPT_LABELS = frozenset({0xF9, 0x01})  # graphic control, plain text
_TRAILER, _EXTENSION, _IMAGE = 0x3B, 0x21, 0x2C


def _colour_table_size(packed: int) -> int:
    return 3 << ((packed & 7) + 1) if packed & 0x80 else 0


def _sub_blocks_end(data: bytes, pos: int) -> int:
    """The end of the chain of data sub-blocks at `pos`: each step advances at least 1 byte."""
    while size := uint(data, pos, 1):
        pos += 1 + size
    return pos + 1


def _blocks(data: bytes) -> Iterator[tuple[int, int, int]]:
    """(introducer, start, end) of the header, then each extension and image, then trailer."""
    if not data.startswith((b"GIF87a", b"GIF89a")):
        raise Malformed("no GIF signature")
    packed = uint(data, 10, 1)
    pos = 13 + _colour_table_size(packed)
    if pos > len(data):
        raise Malformed("the file ends early")
    yield 0, 0, pos
    while pos < len(data):  # some encoders omit the trailer
        introducer = data[pos]
        if introducer == _TRAILER:
            yield introducer, pos, pos + 1
            return
        if introducer == _EXTENSION:
            end = _sub_blocks_end(data, pos + 2)
        elif introducer == _IMAGE:
            table = _colour_table_size(uint(data, pos + 9, 1))
            end = _sub_blocks_end(data, pos + 10 + table + 1)  # after the LZW code size
        else:
            raise Malformed(f"unknown block 0x{introducer:02X} at byte {pos}")
        yield introducer, pos, end
        pos = end


def dimensions(data: bytes) -> tuple[int, int]:
    """The logical screen, widened to any frame that reaches past it (as decoders do)."""
    width, height = uint(data, 6, 2, "little"), uint(data, 8, 2, "little")
    for introducer, start, _ in _blocks(data):
        if introducer == _IMAGE:
            left, top = uint(data, start + 1, 2, "little"), uint(data, start + 3, 2, "little")
            frame_width = uint(data, start + 5, 2, "little")
            frame_height = uint(data, start + 7, 2, "little")
            width, height = max(width, left + frame_width), max(height, top + frame_height)
    return width, height


def _kept(data: bytes, introducer: int, start: int) -> bool:
    if introducer != _EXTENSION:
        return True
    label = data[start + 1]
    if label == 0xFF:
        return data[start + 2] == 11 and data[start + 3 : start + 14] in _APPLICATIONS
    return label in _KEPT_LABELS


def strip(data: bytes) -> bytes:
    """`data` with only the allowlisted blocks, up to the trailer."""
    view = memoryview(data)
    kept: Chunks = []
    changed = False
    end = 0
    for introducer, start, end in _blocks(data):
        if _kept(data, introducer, start):
            kept.append(view[start:end])
        else:
            changed = True
    return joined(data, kept, end, changed)
