"""Renditions: the sizes a viewer is sent, re-encoded from the original with Pillow.

`render(data, content_type, sides)` gives, for each longest side asked for, a WebP that is:

- **never upscaled**: an original smaller than a side is rendered at its own size;
- **upright**: the EXIF orientation is applied (`pixels.UPRIGHT`). HEIC/HEIF arrive upright
  already: pi-heif applies `irot`/`imir` and resets the orientation to 1;
- **sRGB**: an embedded ICC profile is converted to sRGB (`pixels.srgb`); without a profile
  the pixels are taken as sRGB (CMYK then goes through Pillow's plain CMYK -> RGB);
- **bare**: no EXIF, no XMP, no ICC profile (`pixels.webp` hands the writer no metadata);
- the **first frame** of an animated GIF or WebP;
- **alpha kept**: a source with transparency (an alpha band, a palette or colour-key
  `transparency`) gives an RGBA WebP, unless every pixel of the rendition is opaque, which
  gives a plain RGB one. Palette, 1-bit, grey, grey+alpha, CMYK and 16-bit originals are
  handled: 16-bit grey is scaled to 8 bits (PNG's 16-bit RGB/RGBA are decoded to 8 bits by
  Pillow itself); the colour key of a 16-bit grey PNG is not kept.

Cheap by construction: a JPEG is decoded with `draft()` (libjpeg's DCT scaling) at the
smallest scale (1/2, 1/4 or 1/8) still at least as large as the largest rendition, so a 12 MP
photo for a 1024 px rendition is decoded at 3 MP and a 100 MP one at 1.6 MP. There is one
resize chain, largest to smallest, each size made from the previous one. An original more
than 3x the largest size on a side (a 100 MP PNG) is first box-reduced by an integer factor,
band by band (`pixels.shrink`). Orientation, the colour conversion and the alpha check run on
the largest rendition only, never on the full-size decode. A size equal to the previous one
reuses its bytes (a small original gives three identical files for the price of one encode).
Quality, effort and resampling are `pixels`' (WebP 80; libwebp method 4, 5 for the
128 px size; bicubic).

Bounded: the pixel cap and the refusals of `pixels.decoding` hold for every decode here. The
cap bounds pixels, not the decoder: `check` and `render` first price the decode from the
header (`images.footprint`: peak memory against the caller's `memory_limit`, a progressive
JPEG's scan work) and refuse what is over.

`decode(data, content_type)` is the decoder `render` uses, for any caller that needs the
pixels or only needs to know that they decode (the upload's decode check). Whatever fails
while decoding raises `UnsupportedMediaType("Image could not be decoded: <why>")`.

The renditions function's one call, which adds the squares, the crop box and the
placeholders to these sizes from the same decode, is `images.avatar.render_photo`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image

from profile_photos.images import footprint, pixels

__all__ = ["SIDES", "Rendition", "check", "decode", "render", "upright_size"]

SIDES = (1024, 512, 128)  # LARGE, MEDIUM, SMALL (renditions.SIZES)


@dataclass(frozen=True, slots=True)
class Rendition:
    """One size: a WebP file and its pixel dimensions."""

    data: bytes
    width: int
    height: int


def decode(data: bytes, content_type: str, *, longest_side: int | None = None) -> Image.Image:
    """The first frame of `data`, a file of `content_type`, decoded (loaded) by Pillow.

    With `longest_side`, a JPEG may be decoded at a reduced scale that still keeps the
    whole image at least that large on both of its fitted sides (`draft`); other formats are
    always decoded at full size. The image is as stored: orientation not applied, the ICC
    profile and metadata still in `info`.
    """
    with pixels.decoding():
        image = pixels.open_image(data, content_type)
        if longest_side is not None:
            pixels.draft(image, pixels.fit(image.size, longest_side))
        image.load()
    return image


def check(data: bytes, content_type: str, *, memory_limit: int = footprint.DEFAULT_LIMIT) -> None:
    """Prove that the first frame of `data` decodes, as cheaply as the format allows.

    PNG: `verify()` first (every chunk's CRC, up to IEND), then the whole image loaded.
    GIF and WebP: the whole first frame loaded. JPEG (MPO and Ultra HDR included: the
    primary image): every scan entropy-decoded, but at libjpeg's 1/8 DCT scale (`draft`), so
    a 12 MP photo is reconstructed at 0.2 MP. HEIC/HEIF: the primary image decoded by
    pi-heif. All within the pixel cap, and only once `footprint.check` has priced the
    decode within `memory_limit` bytes and the scan work limit. Raises
    `UnsupportedMediaType("Image could not be decoded: <why>")`, or the price's refusal.
    """
    footprint.check(data, content_type, memory_limit)
    if content_type == "image/png":
        with pixels.decoding():
            pixels.open_image(data, content_type).verify()  # a verified file must be opened anew
    decode(data, content_type, longest_side=1).close()


def upright_size(data: bytes, content_type: str) -> tuple[int, int]:
    """(width, height) of the image as it is shown: its orientation applied. From the header
    (no pixel decoded); for a file `check` accepted. A user's crop box is in these pixels."""
    with pixels.decoding():
        image = pixels.open_image(data, content_type)
        width, height = image.size
        swapped = pixels.orientation(image) in pixels.SWAPS_SIDES
    return (height, width) if swapped else (width, height)


def render(
    data: bytes,
    content_type: str,
    sides: Sequence[int] = SIDES,
    *,
    memory_limit: int = footprint.DEFAULT_LIMIT,
) -> dict[int, Rendition]:
    """A WebP rendition of `data` for each longest side in `sides` (see the module doc),
    once `footprint.check` has priced the decode within `memory_limit` bytes."""
    footprint.check(data, content_type, memory_limit)
    wanted = sorted(set(sides), reverse=True)
    if not wanted or wanted[-1] < 1:
        raise ValueError(f"sides must be positive pixel counts, not {list(sides)!r}")
    with pixels.decoding():
        image = pixels.open_image(data, content_type)
        orientation = pixels.orientation(image)
        width, height = image.size  # as coded, before the orientation is applied
        upright = (height, width) if orientation in pixels.SWAPS_SIDES else (width, height)
        targets = {side: pixels.fit(upright, side) for side in wanted}
        first = targets[wanted[0]]
        coded_first = (first[1], first[0]) if orientation in pixels.SWAPS_SIDES else first
        pixels.draft(image, coded_first)
        image.load()
    icc = image.info.get("icc_profile")
    # From here on `image` is rebound at each step, so the full-size decode is freed as soon
    # as the largest rendition exists.
    factors = pixels.reduction(image.size, coded_first)
    box = None
    if factors != (1, 1):  # far larger than the largest size: box-reduce it first, in bands
        box = (0.0, 0.0, image.width / factors[0], image.height / factors[1])
        image = pixels.shrink(image, factors)
    else:
        image = pixels.resizable(image)
    if image.size != coded_first:
        image = image.resize(coded_first, pixels.RESAMPLE, box=box)
    if orientation in pixels.UPRIGHT:
        image = image.transpose(pixels.UPRIGHT[orientation])
    image = pixels.srgb(image, icc if isinstance(icc, bytes) and icc else None)
    made: dict[int, Rendition] = {}
    previous: Rendition | None = None
    for side in wanted:
        if image.size != targets[side]:
            image = image.resize(targets[side], pixels.RESAMPLE)
        if previous is None or (previous.width, previous.height) != image.size:
            previous = Rendition(pixels.webp(image), image.width, image.height)
        made[side] = previous
    return {side: made[side] for side in dict.fromkeys(sides)}
