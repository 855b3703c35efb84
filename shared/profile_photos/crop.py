"""A photo's crop box: the square its square renditions are cut from.

In pixels of the upright image (EXIF orientation applied), so the numbers a client sees on
the photo it draws are the numbers it sends back. A user's crop arrives as the multipart
`crop` field (`from_field`) or `upload-url`'s JSON object (`from_object`); each is checked
for shape here, with the contract's messages, and against the image once it is known
(`problem`). Standard library only: the upload and GraphQL functions validate a user's crop
without loading an imaging library.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from profile_photos.errors import ValidationFailed

CropSource = Literal["FACE", "CENTER", "USER"]
SOURCES: tuple[CropSource, ...] = ("FACE", "CENTER", "USER")
MIN_SIDE = 32  # the smallest square a user may choose (SPEC: side >= 32)
MAX_COORDINATE = 999_999  # beyond any image the service accepts (images.MAX_SIDE)
# "left,top,side" as the multipart `crop` field carries it: three non-negative decimal
# integers; bounded, so a hostile field is refused before any arithmetic
FIELD = re.compile(r"\s*(\d{1,6})\s*,\s*(\d{1,6})\s*,\s*(\d{1,6})\s*")


@dataclass(frozen=True, slots=True)
class Crop:
    left: int
    top: int
    side: int
    source: CropSource

    def inside(self, width: int, height: int) -> bool:
        """Whether the box lies wholly inside an upright image of `width` x `height`."""
        return (
            self.left >= 0
            and self.top >= 0
            and self.side >= 1
            and self.left + self.side <= width
            and self.top + self.side <= height
        )

    def scaled(self, factor: float) -> tuple[int, int, int, int]:
        """The box as (left, top, right, bottom) on a copy scaled by `factor`, kept inside
        it by rounding inwards."""
        left, top = round(self.left * factor), round(self.top * factor)
        side = max(1, int(self.side * factor))
        return left, top, left + side, top + side


def center(width: int, height: int) -> Crop:
    """The centre square of an upright `width` x `height` image (its shorter side)."""
    side = min(width, height)
    return Crop((width - side) // 2, (height - side) // 2, side, "CENTER")


def parse_field(text: str) -> Crop | None:
    """A user's crop from the form field `left,top,side`; None when it is not three
    non-negative integers (whether it fits the image is checked once the image is known)."""
    match = FIELD.fullmatch(text)
    if match is None:
        return None
    left, top, side = (int(group) for group in match.groups())
    return Crop(left, top, side, "USER")


def from_field(text: str | None) -> Crop | None:
    """The multipart `crop` field (`left,top,side`), shape only; None without one."""
    if text is None:
        return None
    found = parse_field(text)
    if found is None:
        raise ValidationFailed(
            "crop must be 'left,top,side': three non-negative whole numbers of pixels"
        )
    return _min_side(found)


def from_object(value: Any) -> Crop | None:
    """`upload-url`'s JSON `crop` ({left, top, side}), shape only; None without one."""
    if value is None:
        return None
    fields = [value.get(key) for key in ("left", "top", "side")] if isinstance(value, dict) else []
    numbers = [
        n
        for n in fields
        if isinstance(n, int) and not isinstance(n, bool) and 0 <= n <= MAX_COORDINATE
    ]
    if len(numbers) != 3:
        raise ValidationFailed(
            "crop must be an object {left, top, side} of non-negative whole numbers of pixels"
        )
    return _min_side(Crop(numbers[0], numbers[1], numbers[2], "USER"))


def _min_side(crop: Crop) -> Crop:
    """`crop`, unless its side is under `MIN_SIDE`: a user's box too small to cut a square from."""
    if crop.side < MIN_SIDE:
        raise ValidationFailed(f"crop side must be at least {MIN_SIDE} pixels")
    return crop


def problem(crop: Crop, width: int, height: int) -> str | None:
    """Why a user's crop cannot be used on an upright `width` x `height` image; None: it can."""
    if crop.side < MIN_SIDE:
        return f"Crop side must be at least {MIN_SIDE} pixels"
    if not crop.inside(width, height):
        return f"Crop must lie inside the image ({width}x{height} pixels)"
    return None
