"""Bounded reading and output assembly, shared by the format walkers.

`uint` is the one way a walker reads a length, count, offset or size field: it checks the
field lies inside the bytes it is given and raises `Malformed` ("the file ends early") when
it does not, so no walk can index past its data. A walker passes the narrowest bytes it can
(a box's own body rather than the whole file) to have reads past that part caught too.

`Malformed` is what a walker raises for an invalid container structure; the package turns it
into `UnsupportedMediaType` (415) with a message starting `Invalid image file:`.

`joined` assembles a stripped file from the pieces kept (views into the original where
possible: the output is the only copy made) and the zero padding that may follow the image.
"""

from __future__ import annotations

from typing import Literal

ByteOrder = Literal["big", "little"]
Chunks = list[bytes | memoryview]


class Malformed(Exception):
    """An invalid container structure; reported to the client as `UnsupportedMediaType`."""


def uint(data: bytes | memoryview, offset: int, size: int, order: ByteOrder = "big") -> int:
    """The unsigned integer of `size` bytes at `offset`; `Malformed` past the end."""
    if offset < 0 or offset + size > len(data):
        raise Malformed("the file ends early")
    return int.from_bytes(data[offset : offset + size], order)


def zero_tail(data: bytes, end: int) -> bool:
    """Whether everything after `end` is zero padding (or nothing)."""
    return data.count(0, end) == len(data) - end


def joined(data: bytes, pieces: Chunks, end: int, changed: bool) -> bytes:
    """`pieces` joined, with the zero padding after `end`; `data` when nothing changed.

    Zero bytes after the end of the image carry nothing and are kept; any other byte there
    makes the whole tail go (and counts as a change)."""
    if zero_tail(data, end):
        if not changed:
            return data
        pieces.append(memoryview(data)[end:])
    return b"".join(pieces)
