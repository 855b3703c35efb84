"""Avatars: the sizes, the square renditions, the crop box and the placeholders of one photo.

`render_photo(data, content_type, sides, crop=..., squares_only=...)` is the renditions
function's one call: the sizes `images.render` gives, plus the photo's crop box (the user's,
or `faces.find`'s FACE or CENTER box), a square WebP of `min(side, crop side)` px for each side
cut from it, the upright size, and the placeholders (`thumbhash`, base64 of the photo's
ThumbHash, and `dominant_color`, `#rrggbb`), from one decode (two only for a small face on
a large JPEG: below), with the same Pillow steps as the sizes (`images.pixels`: plugin, cap,
orientation, sRGB, WebP):

- **resolution for the squares**: a JPEG is drafted at the smallest DCT scale that also
  resolves the crop box at the largest square's side, as long as the decode (a progressive
  JPEG's coefficients included) stays within `memory_limit`; else at the sizes' own scale.
  A user's crop is known first, so its JPEG decodes once, at that scale. A computed crop is
  known only after detection, which works on the sizes: the JPEG decodes at the sizes' own
  scale (as `render` does), and only when the box found is too small to resolve there (a
  small face on a large photo) is it decoded a second time, finer, for the squares; a
  centre box or a face filling a good part of the photo (the common case) costs nothing
  over `render`'s decode. A FACE box is never framed smaller than the finest scale within
  the limit resolves at the largest square's side, so a computed square is never resampled
  up; only a user's box under that, on a JPEG too large to decode finer within the limit,
  is. The sizes are made from the working copy box-reduced first by the extra DCT factor,
  so they are what `render` gives. Decoding finer than `footprint` priced is within
  `memory_limit` by this check (`footprint.check` prices the least decode, the refusal's
  criterion);
- **squares** are cut from the working copy before the sizes' reduction, band by band (as
  `pixels.shrink`, a 2x reducing gap), so a 100 MP PNG's square costs a reduced copy of its
  box, never a second full-size one; orientation and the ICC conversion are applied to each
  square as to the sizes (on the square, never the full decode); the largest square first,
  each smaller one from the previous;
- **detection** runs on a grey copy of the largest size (upright, sRGB), reduced to
  `faces.DETECT_SIDE`; the placeholders on the smallest size reduced to fit
  `PLACEHOLDER_SIDE`. With `squares_only` (a crop change) no size is encoded: detection
  (without a crop) works on a copy of `faces.DETECT_SIDE` px, and the placeholders on that
  copy resized down the sizes' chain.

numpy and dlib (FacesLayer) load inside `faces.detect` only, on the first photo without a
user's crop.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image, JpegImagePlugin

from profile_photos.crop import Crop
from profile_photos.images import footprint, jpeg, pixels, thumbhash
from profile_photos.images.binary import Malformed
from profile_photos.images.render import SIDES, Rendition

__all__ = ["Rendered", "dominant_color", "render_photo"]

SQUARE_GAP = 1.4  # a square's box is box-reduced (integer factor) to >= this x its side
PLACEHOLDER_SIDE = 64  # px: the placeholders' copy (ThumbHash takes <= 100x100: _placeholders)
DOMINANT_COLOURS = 8  # median-cut boxes the dominant colour is chosen among


@dataclass(frozen=True, slots=True)
class Rendered:
    """What `render_photo` makes of one photo."""

    sizes: dict[int, Rendition]  # longest side -> WebP ({} with squares_only)
    squares: dict[int, Rendition]  # side asked -> square WebP of min(side, crop.side) px
    crop: Crop  # in pixels of the upright original: the user's, FACE or CENTER
    width: int  # the upright original
    height: int
    thumbhash: str  # base64 (standard, padded) of the ThumbHash
    dominant_color: str  # "#rrggbb"


def render_photo(
    data: bytes,
    content_type: str,
    sides: Sequence[int] = SIDES,
    *,
    crop: Crop | None = None,
    memory_limit: int = footprint.DEFAULT_LIMIT,
    squares_only: bool = False,
) -> Rendered:
    """The sizes, the squares cut from `crop` (None: the computed one), the crop box and the
    placeholders of `data` (see the module doc), from one decode. Raises what `render`
    raises, and `ValueError` for a `crop` that does not lie inside the upright image (the
    caller validates a user's crop first: `crop.problem`). A face detector's failure is
    never raised: the crop is then the centre square."""
    from profile_photos.images import faces  # numpy and dlib load inside faces.detect only

    footprint.check(data, content_type, memory_limit)
    wanted = sorted(set(sides), reverse=True)
    if not wanted or wanted[-1] < 1:
        raise ValueError(f"sides must be positive pixel counts, not {list(sides)!r}")
    with pixels.decoding():
        image = pixels.open_image(data, content_type)
        orientation = pixels.orientation(image)
        swaps = orientation in pixels.SWAPS_SIDES
        coded = image.size
        upright = (coded[1], coded[0]) if swaps else coded
    if crop is not None and not crop.inside(*upright):
        raise ValueError(f"crop {crop} does not lie inside the {upright[0]}x{upright[1]} image")
    with pixels.decoding():
        detect = faces.DETECT_SIDE  # detection and placeholders work on a copy at least this
        sizes_target = pixels.fit(coded, detect if squares_only else max(wanted[0], detect))
        extra = 1
        if isinstance(image, JpegImagePlugin.JpegImageFile):
            extra = _draft_for_squares(image, data, sizes_target, wanted[0], crop, memory_limit)
        image.load()
    icc = image.info.get("icc_profile")
    profile = icc if isinstance(icc, bytes) and icc else None
    scale = image.width / coded[0]  # the working copy's pixels per original pixel
    # the largest size (squares_only: a copy for detection and the placeholders), upright sRGB
    sized = _largest(image, sizes_target, orientation, profile, extra)
    if crop is None:
        finest = scale
        if isinstance(image, JpegImagePlugin.JpegImageFile):
            finest = 1 / _finest_dct_scale(data, coded, memory_limit)
        min_side = 1 if finest >= 1 else math.ceil(wanted[0] / finest)
        crop, _ = faces.find(sized.convert("L"), *upright, min_side=min_side)
        if crop.side * scale < min(wanted[0], crop.side) and finest > scale:
            del image  # a small face: the squares come from a finer decode of the photo
            with pixels.decoding():
                image = pixels.open_image(data, content_type)
                assert isinstance(image, JpegImagePlugin.JpegImageFile)
                _draft_for_squares(image, data, sizes_target, wanted[0], crop, memory_limit)
                image.load()
            scale = image.width / coded[0]
    squares = _squares(image, crop, upright, orientation, profile, wanted, scale)
    del image  # the full decode is no longer needed: the chain below works on `sized`
    if squares_only:  # the placeholders from the sizes' chain, resized but not encoded
        smallest = sized
        for side in wanted:
            if smallest.size != (target := pixels.fit(upright, side)):
                smallest = smallest.resize(target, pixels.RESAMPLE)
        hashed, colour = _placeholders(smallest)
        squared = {side: squares[side] for side in dict.fromkeys(sides)}
        return Rendered({}, squared, crop, *upright, hashed, colour)
    made = _chain(sized, {side: pixels.fit(upright, side) for side in wanted})
    smallest = made[wanted[-1]][1]
    hashed, colour = _placeholders(smallest)
    return Rendered(
        {side: made[side][0] for side in dict.fromkeys(sides)},
        {side: squares[side] for side in dict.fromkeys(sides)},
        crop,
        *upright,
        hashed,
        colour,
    )


# ------------------------------------------------------------------ sizes and squares


def _draft_for_squares(
    image: JpegImagePlugin.JpegImageFile,
    data: bytes,
    sizes_target: tuple[int, int],
    square: int,
    crop: Crop | None,
    limit: int,
) -> int:
    """Draft `image` at the smallest DCT scale that resolves `crop` at `square` px and whose
    decode fits `limit`, never coarser than the sizes' own scale (no crop yet: at the sizes'
    scale, for detection); the extra reduction factor over that scale."""
    width, height = image.size
    longest = max(width, height)
    sizes = _dct_scale(width, height, sizes_target)
    if crop is None:  # detection first, at the sizes' scale (see the module doc)
        image.draft(None, (max(1, width // sizes), max(1, height // sizes)))
        return 1
    need = longest * min(1.0, square / crop.side)
    wanted = next(den for den in (8, 4, 2, 1) if den == 1 or longest / den >= need)
    den = max(min(wanted, sizes), _finest_dct_scale(data, (width, height), limit))
    den = min(den, sizes)
    image.draft(None, (max(1, width // den), max(1, height // den)))
    return sizes // den


def _finest_dct_scale(data: bytes, size: tuple[int, int], limit: int) -> int:
    """The smallest DCT scale denominator (1, 2, 4, 8) at which the JPEG `data` of `size`
    decodes within `limit` (a progressive JPEG's coefficients included); 8 if none does."""
    width, height = size
    try:
        frame = jpeg.frame(data)
    except Malformed:  # footprint.check has read it already: only a race on the bytes
        return 8
    held = footprint.price(data, "image/jpeg").memory if frame.progressive else 0
    per_pixel = 4 if len(frame.sampling) >= 3 else 1  # Pillow keeps RGB and CMYK in 32 bits
    return next(
        (
            den
            for den in (1, 2, 4)
            if held + -(-width // den) * -(-height // den) * per_pixel <= limit
        ),
        8,
    )


def _dct_scale(width: int, height: int, size: tuple[int, int]) -> int:
    """The DCT scale denominator Pillow's `draft(None, size)` picks for a JPEG."""
    scale = min(width // max(1, size[0]), height // max(1, size[1]))
    return next(den for den in (8, 4, 2, 1) if scale >= den)


def _largest(
    image: Image.Image,
    target: tuple[int, int],
    orientation: int,
    icc: bytes | None,
    extra: int,
) -> Image.Image:
    """The decoded `image` at `target` (as coded), upright and in sRGB: box-reduced first by
    `extra` (the DCT factor it was decoded finer than the sizes need) and, far larger than
    the target, by the `pixels.reduction` factors."""
    factors = pixels.reduction(image.size, target)
    factors = (max(factors[0], extra), max(factors[1], extra))
    box = None
    if factors != (1, 1):
        box = (0.0, 0.0, image.width / factors[0], image.height / factors[1])
        work = pixels.shrink(image, factors)
    else:
        work = pixels.resizable(image)
    if work.size != target:
        work = work.resize(target, pixels.RESAMPLE, box=box)
    elif work is image:  # pixels.srgb may convert in place: the decode stays as it is (squares)
        work = work.copy()
    if orientation in pixels.UPRIGHT:
        work = work.transpose(pixels.UPRIGHT[orientation])
    return pixels.srgb(work, icc)


def _chain(
    image: Image.Image, targets: dict[int, tuple[int, int]]
) -> dict[int, tuple[Rendition, Image.Image]]:
    """A WebP per side, largest first, each size resized from the previous one; a size equal
    to the previous reuses its bytes. Each with the image it was encoded from."""
    made: dict[int, tuple[Rendition, Image.Image]] = {}
    previous: Rendition | None = None
    for side in sorted(targets, reverse=True):
        if image.size != targets[side]:
            image = image.resize(targets[side], pixels.RESAMPLE)
        if previous is None or (previous.width, previous.height) != image.size:
            previous = Rendition(pixels.webp(image), image.width, image.height)
        made[side] = (previous, image)
    return made


def _squares(
    source: Image.Image,
    crop: Crop,
    upright: tuple[int, int],
    orientation: int,
    icc: bytes | None,
    wanted: list[int],
    scale: float,
) -> dict[int, Rendition]:
    """A square WebP of `min(side, crop.side)` px per side, cut from `crop` (pixels of the
    upright original) on `source` (the decode, as coded, `scale` of the original's size)."""
    coded = (upright[1], upright[0]) if orientation in pixels.SWAPS_SIDES else upright
    sx, sy = source.width / coded[0], source.height / coded[1]
    left, top, right, bottom = _coded_box(crop, coded, orientation)
    box = (left * sx, top * sy, right * sx, bottom * sy)
    first = min(wanted[0], crop.side)
    factor = max(1, int((box[2] - box[0]) / first / SQUARE_GAP))
    outer = (
        math.floor(box[0]),
        math.floor(box[1]),
        min(source.width, math.ceil(box[2])),
        min(source.height, math.ceil(box[3])),
    )
    cut = pixels.shrink(source, (factor, factor), outer)
    inner = (
        (box[0] - outer[0]) / factor,
        (box[1] - outer[1]) / factor,
        min(cut.width, (box[2] - outer[0]) / factor),
        min(cut.height, (box[3] - outer[1]) / factor),
    )
    image = cut.resize((first, first), pixels.RESAMPLE, box=inner)
    del cut
    if orientation in pixels.UPRIGHT:
        image = image.transpose(pixels.UPRIGHT[orientation])
    image = pixels.srgb(image, icc)
    made = _chain(image, {side: (min(side, crop.side),) * 2 for side in wanted})
    return {side: rendition for side, (rendition, _) in made.items()}


def _coded_box(crop: Crop, coded: tuple[int, int], orientation: int) -> tuple[int, int, int, int]:
    """`crop` (upright pixels) as (left, top, right, bottom) on the image as coded, whose
    EXIF `orientation` `UPRIGHT` undoes."""
    w, h = coded
    l, t = crop.left, crop.top  # noqa: E741 - the box's four edges, as in the mapping below
    r, b = l + crop.side, t + crop.side
    return {
        2: (w - r, t, w - l, b),
        3: (w - r, h - b, w - l, h - t),
        4: (l, h - b, r, h - t),
        5: (t, l, b, r),
        6: (t, h - r, b, h - l),
        7: (w - b, h - r, w - t, h - l),
        8: (w - b, l, w - t, r),
    }.get(orientation, (l, t, r, b))


def _placeholders(image: Image.Image) -> tuple[str, str]:
    """The ThumbHash (base64) and dominant colour of `image` (upright sRGB, RGB or RGBA),
    from a copy that fits `PLACEHOLDER_SIDE` px square. ThumbHash keeps at most 7 cosines
    along a side, so 64 px hold 4x the samples its finest one needs: on the bench's 16
    photos, 13 hashes were the very bytes a 100 px copy gives and 3 differed by one step in
    a few coefficients, for 3-5 ms of the pure-Python encoder instead of 8-15."""
    thumb = image.resize(pixels.fit(image.size, PLACEHOLDER_SIDE), pixels.RESAMPLE).convert("RGBA")
    hashed = thumbhash.encode(thumb.width, thumb.height, thumb.tobytes())
    return base64.b64encode(hashed).decode("ascii"), dominant_color(thumb)


def dominant_color(image: Image.Image) -> str:
    """`#rrggbb` of the most common colour of `image` (RGB or RGBA, small): Pillow's median
    cut into `DOMINANT_COLOURS` boxes, the most populous box's mean colour. A mode, not the
    mean: a face on a blue backdrop gives the blue a client can fill the square with, where
    the mean would be a grey found nowhere in the photo. Pixels under half opacity are
    left out (unless every pixel is)."""
    rgb = image.convert("RGB")
    alpha = image.getchannel("A").tobytes() if image.mode == "RGBA" else b""
    if alpha and min(alpha) < 128:
        colours = rgb.tobytes()
        kept = b"".join(colours[3 * i : 3 * i + 3] for i, a in enumerate(alpha) if a >= 128)
        if kept:
            rgb = Image.frombytes("RGB", (len(kept) // 3, 1), kept)
    quantized = rgb.quantize(DOMINANT_COLOURS, Image.Quantize.MEDIANCUT)
    counts = quantized.getcolors(DOMINANT_COLOURS) or [(1, 0)]
    index = max(counts)[1]
    assert isinstance(index, int)  # a "P" image's colours are palette indexes
    palette = quantized.getpalette() or [0, 0, 0]
    red, green, blue = palette[3 * index : 3 * index + 3]
    return f"#{red:02x}{green:02x}{blue:02x}"
