"""ThumbHash encoder (https://evanw.github.io/thumbhash/): a photo's placeholder in ~25 bytes.

Written from the reference implementation's `rgbaToThumbHash` (evanw/thumbhash,
`js/thumbhash.js`, MIT): the average colour, the image composited on it in an L (luminance),
P (yellow-blue), Q (red-green) and A (alpha) space, a few low-frequency DCT coefficients of
each (L: up to 7 across the longer side, 5 with alpha; P and Q: 3; A: 5) quantised to 4 bits,
behind a 5-byte header (6 with alpha). Rounding is JavaScript's `Math.round` (halves up, not
Python's halves to even).

The bytes are the reference's on the same pixels (tests/unit/test_thumbhash.py compares them
with its output under node), but for a coefficient that is zero in exact arithmetic (a
gradient along one axis only): the reference quantises it from float noise at 15 x 0.5, on a
rounding boundary, and its nibble is 7 or 8 by the last bit of a sum, in JavaScript as here
(its Rust port, in 32-bit floats, differs there too). Each coefficient is computed
separably (each row's sum against the cosine across, then those against the cosine down,
with `math.sumprod`), ~width x height x 7 multiplications instead of x 28: ~15 ms for a
100x100 image here, where the reference's order took ~180 ms in Python.

Pure Python and bounded: the input must fit 100x100 px, as the reference requires (the
caller scales the photo down first). Standard library only: no numpy in the functions that
may call it.
"""

from __future__ import annotations

import math

__all__ = ["MAX_SIDE", "encode"]

MAX_SIDE = 100


def encode(width: int, height: int, rgba: bytes) -> bytes:
    """The ThumbHash of a `width` x `height` image given as RGBA bytes, row by row (RGB not
    premultiplied by A); both sides at most `MAX_SIDE`."""
    if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
        raise ValueError(f"{width}x{height} doesn't fit in {MAX_SIDE}x{MAX_SIDE}")
    count = width * height
    if len(rgba) != count * 4:
        raise ValueError(f"{len(rgba)} bytes are not {width}x{height} RGBA pixels")

    # The average colour, weighted by alpha.
    reds, greens, blues = rgba[0::4], rgba[1::4], rgba[2::4]
    alphas = [a / 255 for a in rgba[3::4]]
    weights = [a / 255 for a in alphas]
    avg_a = sum(alphas)
    avg_r = math.sumprod(weights, reds)
    avg_g = math.sumprod(weights, greens)
    avg_b = math.sumprod(weights, blues)
    if avg_a:
        avg_r /= avg_a
        avg_g /= avg_a
        avg_b /= avg_a

    has_alpha = avg_a < count
    l_limit = 5 if has_alpha else 7  # fewer luminance bits when alpha takes some
    longest = max(width, height)
    lx = max(1, _round(l_limit * width / longest))
    ly = max(1, _round(l_limit * height / longest))

    # RGBA -> LPQA, composited atop the average colour.
    r = [avg_r * (1 - a) + w * v for a, w, v in zip(alphas, weights, reds, strict=True)]
    g = [avg_g * (1 - a) + w * v for a, w, v in zip(alphas, weights, greens, strict=True)]
    b = [avg_b * (1 - a) + w * v for a, w, v in zip(alphas, weights, blues, strict=True)]
    lum = [(x + y + z) / 3 for x, y, z in zip(r, g, b, strict=True)]
    yellow_blue = [(x + y) / 2 - z for x, y, z in zip(r, g, b, strict=True)]
    red_green = [x - y for x, y in zip(r, g, strict=True)]

    l_dc, l_ac, l_scale = _channel(lum, width, height, max(3, lx), max(3, ly))
    p_dc, p_ac, p_scale = _channel(yellow_blue, width, height, 3, 3)
    q_dc, q_ac, q_scale = _channel(red_green, width, height, 3, 3)

    header24 = (
        _round(63 * l_dc)
        | (_round(31.5 + 31.5 * p_dc) << 6)
        | (_round(31.5 + 31.5 * q_dc) << 12)
        | (_round(31 * l_scale) << 18)
        | (int(has_alpha) << 23)
    )
    landscape = width > height
    header16 = (
        (ly if landscape else lx)
        | (_round(63 * p_scale) << 3)
        | (_round(63 * q_scale) << 9)
        | (int(landscape) << 15)
    )
    out = bytearray(
        (header24 & 255, (header24 >> 8) & 255, header24 >> 16, header16 & 255, header16 >> 8)
    )
    factors = [*l_ac, *p_ac, *q_ac]
    if has_alpha:
        a_dc, a_ac, a_scale = _channel(alphas, width, height, 5, 5)
        out.append(_round(15 * a_dc) | (_round(15 * a_scale) << 4))
        factors += a_ac
    start = len(out)
    out.extend(bytes((len(factors) + 1) // 2))
    for index, factor in enumerate(factors):
        out[start + (index >> 1)] |= _round(15 * factor) << ((index & 1) << 2)
    return bytes(out)


def _channel(
    values: list[float], width: int, height: int, nx: int, ny: int
) -> tuple[float, list[float], float]:
    """The DC term, the AC terms scaled to 0..1 and their scale, of one channel: the
    coefficients (cx, cy) with cx * ny < nx * (ny - cy), in the reference's order."""
    dc = 0.0
    ac: list[float] = []
    scale = 0.0
    rows = [values[y * width : (y + 1) * width] for y in range(height)]
    # sums[cx][y]: row y weighted by the cosine of frequency cx across it
    sums = []
    for cx in range(nx):
        fx = [math.cos(math.pi / width * cx * (x + 0.5)) for x in range(width)]
        sums.append([math.sumprod(row, fx) for row in rows])
    for cy in range(ny):
        fy = [math.cos(math.pi / height * cy * (y + 0.5)) for y in range(height)]
        cx = 0
        while cx * ny < nx * (ny - cy):
            f = math.sumprod(sums[cx], fy) / (width * height)
            if cx or cy:
                ac.append(f)
                scale = max(scale, abs(f))
            else:
                dc = f
            cx += 1
    if scale:
        ac = [0.5 + 0.5 / scale * f for f in ac]
    return dc, ac, scale


def _round(value: float) -> int:
    """JavaScript's `Math.round`: the nearest integer, halves towards +infinity."""
    low = math.floor(value)
    return low + 1 if value - low >= 0.5 else low
