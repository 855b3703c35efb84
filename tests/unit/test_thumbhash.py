"""images.thumbhash: the bytes of the reference encoder (evanw/thumbhash `rgbaToThumbHash`).

The images are made here from formulas (no library in between, so they are the same bytes
on every machine); `REFERENCE` holds the base64 the reference JavaScript printed for each
under node 20 (js/thumbhash.js of evanw/thumbhash at a652ce6): opaque and translucent,
landscape, portrait and square, smooth and busy, down to 1x1 and up to the 100x100 limit.
A flat image is not among them: all its AC terms are float noise, which the reference then
normalises to full scale, so its bytes are those of its platform's `cos` and summation.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Callable

import pytest

from profile_photos.images import thumbhash

Image = tuple[int, int, bytes]


def _image(width: int, height: int, pixel: Callable[[int, int], tuple[int, ...]]) -> Image:
    return width, height, bytes(v for y in range(height) for x in range(width) for v in pixel(x, y))


def _clip(value: float) -> int:
    return max(0, min(255, int(value)))


IMAGES: dict[str, Callable[[], Image]] = {
    "gradient 100x75": lambda: _image(
        100, 75, lambda x, y: (_clip(x * 2.55), _clip(y * 3.4), _clip(255 - x * 2), 255)
    ),
    "waves 60x100": lambda: _image(
        60,
        100,
        lambda x, y: (
            _clip(128 + 120 * math.sin(x / 5)),
            _clip(128 + 120 * math.cos(y / 7)),
            _clip(128 + 100 * math.sin((x + y) / 11)),
            255,
        ),
    ),
    "busy 100x100": lambda: _image(
        100, 100, lambda x, y: ((x * 37 + y * 11) % 256, (x * y) % 256, (x ^ y) * 2 % 256, 255)
    ),
    "disc with alpha 80x80": lambda: _image(
        80,
        80,
        lambda x, y: (
            _clip(x * 3),
            90,
            _clip(y * 3),
            255 if (x - 40) ** 2 + (y - 40) ** 2 < 900 else 0,
        ),
    ),
    "fading alpha 100x40": lambda: _image(
        100, 40, lambda x, y: (30, _clip(y * 6), 220, _clip(x * 2.6))
    ),
    "transparent 10x10": lambda: _image(10, 10, lambda x, y: (0, 0, 0, 0)),
    "single pixel": lambda: _image(1, 1, lambda x, y: (12, 34, 56, 255)),
    "thin 100x3": lambda: _image(100, 3, lambda x, y: (_clip(x * 2.5), 0, _clip(y * 100), 255)),
}

REFERENCE = {
    "gradient 100x75": "IgcKhZqGh4eAh4eHiHiHd4CFCPiI",
    "waves 60x100": "IPgJHAqcb4eYqrb15mg6lf+5OA==",
    "busy 100x100": "HggGLwJzdncDioWnZGpod6WHt7d/378N",
    "disc with alpha 80x80": "mzeCHQY3gH+AfMj3d4R/B3h4B1iHeICKVw==",
    "fading alpha 100x40": "XlOFGow4h4ewiId4sHj3hHB3h4iHeIc=",
    "transparent 10x10": "AAiCBQAAAAAAAAAAAAAAAAAAAAAAAAAAAA==",
    "single pixel": "yNYRRwoI9wiIh4hwj3CI+AiIcH/494cP",
    "thin 100x3": "0vYKcZqBh4dwiHh4hH8IiIc=",
}


# Images with a coefficient that is zero in exact arithmetic (a gradient along one axis has
# none along the other): the reference quantises it from float noise at 15 x 0.5 = 7.5, on a
# rounding boundary, so its nibble is 7 or 8 by the last bit of a sum.
ON_A_BOUNDARY = {"gradient 100x75", "fading alpha 100x40", "disc with alpha 80x80", "thin 100x3"}


@pytest.mark.parametrize("name", sorted(set(IMAGES) - ON_A_BOUNDARY))
def test_the_hash_is_the_reference_encoders(name: str) -> None:
    width, height, rgba = IMAGES[name]()
    assert base64.b64encode(thumbhash.encode(width, height, rgba)).decode() == REFERENCE[name]


@pytest.mark.parametrize("name", sorted(ON_A_BOUNDARY))
def test_a_coefficient_on_a_rounding_boundary_is_within_one_step(name: str) -> None:
    width, height, rgba = IMAGES[name]()
    ours, theirs = thumbhash.encode(width, height, rgba), base64.b64decode(REFERENCE[name])
    assert len(ours) == len(theirs)
    assert ours[:5] == theirs[:5]  # the header: average colour, scales, shape
    nibbles = [(a & 15, b & 15) for a, b in zip(ours, theirs, strict=True)]
    nibbles += [(a >> 4, b >> 4) for a, b in zip(ours, theirs, strict=True)]
    assert max(abs(a - b) for a, b in nibbles) <= 1


@pytest.mark.parametrize(("width", "height"), [(101, 10), (10, 101), (0, 5)])
def test_an_image_that_does_not_fit_100x100_is_refused(width: int, height: int) -> None:
    with pytest.raises(ValueError, match="doesn't fit"):
        thumbhash.encode(width, height, bytes(width * height * 4))


def test_pixels_that_are_not_the_size_given_are_refused() -> None:
    with pytest.raises(ValueError, match="RGBA pixels"):
        thumbhash.encode(4, 4, bytes(4 * 4 * 3))
