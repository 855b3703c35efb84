"""Renditions: the sizes a viewer is sent, re-encoded from the original with Pillow.

`render(data, content_type, sides)` gives, for each longest side asked for, a WebP that is:

- **never upscaled**: an original smaller than a side is rendered at its own size;
- **upright**: the EXIF orientation (or XMP `tiff:Orientation`, as Pillow's `getexif` reads
  it) is applied with the same eight transpositions as `ImageOps.exif_transpose`. HEIC/HEIF
  arrive upright already: pi-heif applies `irot`/`imir` and resets the orientation to 1;
- **sRGB**: an embedded ICC profile (RGB, grey or CMYK) is converted to sRGB by LittleCMS
  (`ImageCms`, perceptual intent). A profile LittleCMS cannot read, or one whose colour
  space does not fit the pixels, is ignored, as browsers do. Without a profile the pixels
  are taken as sRGB (CMYK then goes through Pillow's plain CMYK -> RGB);
- **bare**: no EXIF, no XMP, no ICC profile. Pillow's WebP writer only writes the metadata
  it is handed, and nothing is handed to it (each rendition's `info` is emptied too);
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
as Pillow's `reducing_gap=3` does, but band by band (`_shrink`): the palette conversion and
alpha premultiplication then touch one 4 MP band at a time instead of a second full-size
copy (measured: a 100 MP RGBA PNG peaks at ~550 MiB instead of ~890). Orientation, the
colour conversion and the alpha check run on the largest rendition only, never on the
full-size decode; ICC transforms are cached per profile (one phone model, one profile). A
size equal to the previous one reuses its bytes (a small original gives three identical
files for the price of one encode).

Encoding and resampling: lossy WebP at `QUALITY` 80 (cwebp's default is 75; 80 keeps photo
detail at avatar sizes) and `METHOD` 4, libwebp's default effort (method 6 took 2.3x as long
for the 1024 px size here). Resampling is `BICUBIC`, Pillow's antialiased convolution (its
support widens with the reduction, as `thumbnail` uses it): Lanczos measured ~20 ms more per
12 MP photo (+13% of the bare-Pillow floor the bench compares with) for a slightly sharper
kernel.

Bounded: `Image.MAX_IMAGE_PIXELS` is set to the service's cap (`images.MAX_PIXELS`, 100 MP)
when this module is imported, Pillow's decompression-bomb warning is turned into a refusal
(its other warnings, about a corrupt Exif block or a malformed MPO header it reads past, are
silenced while decoding), and `images.check_dimensions` refuses an image over the cap
(pixels or side) before a pixel is decoded. The cap bounds pixels, not the decoder: `check`
and `render` first price the decode from the header (`images.footprint`: peak memory against
the caller's `memory_limit`, a progressive JPEG's scan work) and refuse what is over. Each
type is opened only by its own Pillow plugin (`formats=`), so a file is never handed to a
plugin of another format.

`decode(data, content_type)` is the decoder `render` uses, for any caller that needs the
pixels or only needs to know that they decode (the upload's decode check). Whatever fails
while decoding (not an image, truncated, corrupt, over the cap) raises
`UnsupportedMediaType("Image could not be decoded: <why>")`; a `MemoryError` is not a
property of the file and propagates as it is.

`render_photo(data, content_type, sides, crop=..., squares_only=...)` is the renditions
function's one call: the same sizes, plus the photo's crop box (the user's, or `faces.find`'s
FACE or CENTER box), a square WebP of `min(side, crop side)` px for each side cut from it, the
upright size, and the placeholders (`thumbhash`, base64 of the photo's ThumbHash, and
`dominant_color`, `#rrggbb`), from the same single decode:

- **resolution for the squares**: a JPEG is drafted at the smallest DCT scale that also
  resolves the crop box at the largest square's side (a user's crop: exactly; a computed
  crop, unknown before the decode: the photo's longest side up to `WORK_SIDE`, so a 12 MP
  photo decodes at full size and a 100 MP one at 1/2), as long as the decode (a progressive
  JPEG's coefficients included) stays within `memory_limit`; else at the sizes' own scale.
  A FACE box is never framed smaller than the working copy resolves at the largest square's
  side, so a computed square is never resampled up; only a user's box under that, on a JPEG
  too large to decode finer within the limit, is. The sizes are made from the working copy
  box-reduced first by the extra DCT factor, so they are what `render` gives. Decoding finer
  than `footprint` priced is within `memory_limit` by this check (`footprint.check` prices
  the least decode, the refusal's criterion);
- **squares** are cut from the working copy before the sizes' reduction, band by band (as
  `_shrink`, a 2x reducing gap), so a 100 MP PNG's square costs a reduced copy of its box,
  never a second full-size one; orientation and the ICC conversion are applied to each
  square as to the sizes (on the square, never the full decode); the largest square first,
  each smaller one from the previous;
- **detection** runs on a grey copy of the largest size (upright, sRGB), reduced to
  `faces.DETECT_SIDE`; the placeholders on the smallest size reduced to fit 100x100 (the
  ThumbHash reference's input). With `squares_only` (a crop change) no size is made: the
  placeholders (and detection, without a crop) work on a copy of `faces.DETECT_SIDE` px.

Pillow (and the decode-only pi-heif, registered once, on the first HEIC/HEIF) is imported by
this module only: `profile_photos.images` itself stays standard-library, so the functions
that serve photos never load it.
"""

from __future__ import annotations

import base64
import io
import math
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache, lru_cache

from PIL import ExifTags, Image, ImageCms, JpegImagePlugin, UnidentifiedImageError

from profile_photos.crop import Crop
from profile_photos.errors import UnsupportedMediaType
from profile_photos.images import MAX_PIXELS, check_dimensions, footprint, jpeg, thumbhash
from profile_photos.images.binary import Malformed

__all__ = [
    "METHOD",
    "QUALITY",
    "SIDES",
    "Rendered",
    "Rendition",
    "check",
    "decode",
    "dominant_color",
    "render",
    "render_photo",
    "upright_size",
]

Image.MAX_IMAGE_PIXELS = MAX_PIXELS

SIDES = (1024, 512, 128)  # LARGE, MEDIUM, SMALL (renditions.SIZES)
QUALITY = 80
METHOD = 4
RESAMPLE = Image.Resampling.BICUBIC
REDUCING_GAP = 3.0
BAND_PIXELS = 1 << 22  # 4 MP: the slice of a huge original converted at a time (_shrink)
WORK_SIDE = 4096  # px: a JPEG's working copy for a crop not yet computed (render_photo)
SQUARE_GAP = 1.4  # a square's box is box-reduced (integer factor) to >= this x its side
PLACEHOLDER_SIDE = 100  # px: the ThumbHash reference encodes images that fit 100x100
DOMINANT_COLOURS = 8  # median-cut boxes the dominant colour is chosen among

# Each type is opened by its own plugin and no other (Pillow's format names).
_PLUGINS: dict[str, tuple[str, ...]] = {
    "image/jpeg": ("JPEG",),
    "image/png": ("PNG",),
    "image/gif": ("GIF",),
    "image/webp": ("WEBP",),
    "image/heic": ("HEIF",),
    "image/heif": ("HEIF",),
}
# EXIF orientation -> the transposition that makes the image upright (ImageOps.exif_transpose)
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_SWAPS_SIDES = frozenset((5, 6, 7, 8))
_ICC_MODES = {"RGB": "RGB", "GRAY": "L", "CMYK": "CMYK"}  # ICC colour space -> Pillow mode


@dataclass(frozen=True, slots=True)
class Rendition:
    """One size: a WebP file and its pixel dimensions."""

    data: bytes
    width: int
    height: int


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


def decode(data: bytes, content_type: str, *, longest_side: int | None = None) -> Image.Image:
    """The first frame of `data`, a file of `content_type`, decoded (loaded) by Pillow.

    With `longest_side`, a JPEG may be decoded at a reduced scale that still keeps the
    whole image at least that large on both of its fitted sides (`draft`); other formats are
    always decoded at full size. The image is as stored: orientation not applied, the ICC
    profile and metadata still in `info`.
    """
    with _decoding():
        image = _open(data, content_type)
        if longest_side is not None:
            _draft(image, _fit(image.size, longest_side))
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
        with _decoding():
            _open(data, content_type).verify()  # a verified file must be opened anew
    decode(data, content_type, longest_side=1).close()


def upright_size(data: bytes, content_type: str) -> tuple[int, int]:
    """(width, height) of the image as it is shown: its orientation applied. From the header
    (no pixel decoded); for a file `check` accepted. A user's crop box is in these pixels."""
    with _decoding():
        image = _open(data, content_type)
        width, height = image.size
        swapped = _orientation(image) in _SWAPS_SIDES
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
    with _decoding():
        image = _open(data, content_type)
        orientation = _orientation(image)
        width, height = image.size  # as coded, before the orientation is applied
        upright = (height, width) if orientation in _SWAPS_SIDES else (width, height)
        targets = {side: _fit(upright, side) for side in wanted}
        first = targets[wanted[0]]
        coded_first = (first[1], first[0]) if orientation in _SWAPS_SIDES else first
        _draft(image, coded_first)
        image.load()
    icc = image.info.get("icc_profile")
    # From here on `image` is rebound at each step, so the full-size decode is freed as soon
    # as the largest rendition exists.
    factors = _reduction(image.size, coded_first)
    box = None
    if factors != (1, 1):  # far larger than the largest size: box-reduce it first, in bands
        box = (0.0, 0.0, image.width / factors[0], image.height / factors[1])
        image = _shrink(image, factors)
    else:
        image = _resizable(image)
    if image.size != coded_first:
        image = image.resize(coded_first, RESAMPLE, box=box)
    if orientation in _UPRIGHT:
        image = image.transpose(_UPRIGHT[orientation])
    image = _srgb(image, icc if isinstance(icc, bytes) and icc else None)
    made: dict[int, Rendition] = {}
    previous: Rendition | None = None
    for side in wanted:
        if image.size != targets[side]:
            image = image.resize(targets[side], RESAMPLE)
        if previous is None or (previous.width, previous.height) != image.size:
            previous = Rendition(_webp(image), image.width, image.height)
        made[side] = previous
    return {side: made[side] for side in dict.fromkeys(sides)}


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
    with _decoding():
        image = _open(data, content_type)
        orientation = _orientation(image)
        swaps = orientation in _SWAPS_SIDES
        coded = image.size
        upright = (coded[1], coded[0]) if swaps else coded
    if crop is not None and not crop.inside(*upright):
        raise ValueError(f"crop {crop} does not lie inside the {upright[0]}x{upright[1]} image")
    with _decoding():
        detect = faces.DETECT_SIDE  # detection and placeholders work on a copy at least this
        sizes_target = _fit(coded, detect if squares_only else max(wanted[0], detect))
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
        min_side = 1 if scale >= 1 else math.ceil(wanted[0] / scale)
        crop, _ = faces.find(sized.convert("L"), *upright, min_side=min_side)
    squares = _squares(image, crop, upright, orientation, profile, wanted, scale)
    del image  # the full decode is no longer needed: the chain below works on `sized`
    if squares_only:
        hashed, colour = _placeholders(sized)
        squared = {side: squares[side] for side in dict.fromkeys(sides)}
        return Rendered({}, squared, crop, *upright, hashed, colour)
    made = _chain(sized, {side: _fit(upright, side) for side in wanted})
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
    """Draft `image` at the smallest DCT scale that resolves the crop box at `square` px (a
    computed crop: the longest side up to `WORK_SIDE`) and whose decode fits `limit`, never
    coarser than the sizes' own scale; the extra reduction factor over that scale."""
    width, height = image.size
    longest = max(width, height)
    sizes = _dct_scale(width, height, sizes_target)
    need = longest * min(1.0, square / crop.side) if crop is not None else min(longest, WORK_SIDE)
    finest = next(den for den in (8, 4, 2, 1) if den == 1 or longest / den >= need)
    try:
        frame = jpeg.frame(data)
    except Malformed:  # footprint.check has read it already: only a race on the bytes
        return 1
    held = footprint.price(data, "image/jpeg").memory if frame.progressive else 0
    per_pixel = 4 if len(frame.sampling) >= 3 else 1  # Pillow keeps RGB and CMYK in 32 bits
    den = min(finest, sizes)
    while den < sizes:
        decoded = -(-width // den) * -(-height // den) * per_pixel
        if held + decoded <= limit:
            break
        den *= 2
    image.draft(None, (max(1, width // den), max(1, height // den)))
    return sizes // den


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
    the target, by the `_reduction` factors."""
    factors = _reduction(image.size, target)
    factors = (max(factors[0], extra), max(factors[1], extra))
    box = None
    if factors != (1, 1):
        box = (0.0, 0.0, image.width / factors[0], image.height / factors[1])
        work = _shrink(image, factors)
    else:
        work = _resizable(image)
    if work.size != target:
        work = work.resize(target, RESAMPLE, box=box)
    elif work is image:  # _srgb may convert in place: the decode stays as it is (squares)
        work = work.copy()
    if orientation in _UPRIGHT:
        work = work.transpose(_UPRIGHT[orientation])
    return _srgb(work, icc)


def _chain(
    image: Image.Image, targets: dict[int, tuple[int, int]]
) -> dict[int, tuple[Rendition, Image.Image]]:
    """A WebP per side, largest first, each size resized from the previous one; a size equal
    to the previous reuses its bytes. Each with the image it was encoded from."""
    made: dict[int, tuple[Rendition, Image.Image]] = {}
    previous: Rendition | None = None
    for side in sorted(targets, reverse=True):
        if image.size != targets[side]:
            image = image.resize(targets[side], RESAMPLE)
        if previous is None or (previous.width, previous.height) != image.size:
            previous = Rendition(_webp(image), image.width, image.height)
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
    coded = (upright[1], upright[0]) if orientation in _SWAPS_SIDES else upright
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
    cut = _shrink(source, (factor, factor), outer)
    inner = (
        (box[0] - outer[0]) / factor,
        (box[1] - outer[1]) / factor,
        min(cut.width, (box[2] - outer[0]) / factor),
        min(cut.height, (box[3] - outer[1]) / factor),
    )
    image = cut.resize((first, first), RESAMPLE, box=inner)
    del cut
    if orientation in _UPRIGHT:
        image = image.transpose(_UPRIGHT[orientation])
    image = _srgb(image, icc)
    made = _chain(image, {side: (min(side, crop.side),) * 2 for side in wanted})
    return {side: rendition for side, (rendition, _) in made.items()}


def _coded_box(crop: Crop, coded: tuple[int, int], orientation: int) -> tuple[int, int, int, int]:
    """`crop` (upright pixels) as (left, top, right, bottom) on the image as coded, whose
    EXIF `orientation` `_UPRIGHT` undoes."""
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
    from a copy that fits `PLACEHOLDER_SIDE` px square."""
    thumb = image.resize(_fit(image.size, PLACEHOLDER_SIDE), RESAMPLE).convert("RGBA")
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


# ---------------------------------------------------------------------------- decoding


@contextmanager
def _decoding() -> Iterator[None]:
    """Any failure inside: `UnsupportedMediaType("Image could not be decoded: ...")`."""
    try:
        with warnings.catch_warnings():
            # a flaw Pillow decodes past (corrupt Exif, bad APNG header) is no log line on stderr
            warnings.filterwarnings("ignore", module=r"(PIL|pi_heif|pillow_heif)(\.|$)")
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    except (UnsupportedMediaType, MemoryError):
        raise
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise UnsupportedMediaType(
            f"Image could not be decoded: it has more than {MAX_PIXELS // 1_000_000} megapixels"
        ) from exc
    except UnidentifiedImageError as exc:  # its message names a BytesIO object
        raise UnsupportedMediaType(
            "Image could not be decoded: the decoder does not recognise the file's contents"
        ) from exc
    except Exception as exc:  # Pillow and its plugins raise OSError, SyntaxError, ValueError...
        raise UnsupportedMediaType(f"Image could not be decoded: {_why(exc)}") from exc


def _why(exc: Exception) -> str:
    """The decoder's reason, one short line (never a traceback or an object's repr)."""
    why = " ".join(str(exc).split()) or type(exc).__name__
    return why if len(why) <= 200 else why[:199] + "\u2026"


def _open(data: bytes, content_type: str) -> Image.Image:
    """The file opened by its own plugin (header read, no pixel decoded), within the cap."""
    plugins = _PLUGINS.get(content_type)
    if plugins is None:
        raise UnsupportedMediaType(
            f"Image could not be decoded: {content_type} is not an image type the service reads"
        )
    if plugins == ("HEIF",):
        _register_heif()
    image = Image.open(io.BytesIO(data), formats=plugins)
    try:
        check_dimensions(*image.size)
    except UnsupportedMediaType as exc:
        raise UnsupportedMediaType(f"Image could not be decoded: {exc.message}") from exc
    return image


@cache
def _register_heif() -> None:
    import pi_heif  # only for HEIC/HEIF originals; decode-only (no HEVC encoder shipped)

    # The primary image only: thumbnails, depth maps and auxiliary images are never used.
    pi_heif.register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)


def _draft(image: Image.Image, size: tuple[int, int]) -> None:
    """Let a JPEG (MPO included) decode at the smallest DCT scale still >= `size`."""
    if isinstance(image, JpegImagePlugin.JpegImageFile):
        image.draft(None, size)


def _orientation(image: Image.Image) -> int:
    value = image.getexif().get(ExifTags.Base.Orientation, 1)
    return value if isinstance(value, int) else 1


def _fit(size: tuple[int, int], side: int) -> tuple[int, int]:
    """`size` scaled so that its longest side is `side`, aspect kept; never enlarged."""
    width, height = size
    longest = max(width, height)
    if longest <= side:
        return size
    if width >= height:
        return side, max(1, round(height * side / longest))
    return max(1, round(width * side / longest)), side


# ------------------------------------------------------------------------------ pixels


def _resizable(image: Image.Image) -> Image.Image:
    """The image in a mode Pillow resizes well and ICC profiles apply to: RGB, RGBA, L, LA or
    CMYK (RGBA/LA are resized premultiplied by Pillow itself)."""
    mode = image.mode
    if mode in ("RGB", "L") and "transparency" in image.info:  # a tRNS colour key
        return image.convert("RGBA" if mode == "RGB" else "LA")
    if mode in ("RGB", "RGBA", "L", "LA", "CMYK"):
        return image
    if mode.startswith("I;16") or mode in ("I", "F"):  # 16-bit grey: 0..65535 -> 0..255
        return image.point(lambda value: value / 257).convert("L")
    if mode == "1":
        return image.convert("L")
    # P, PA, La, RGBa, RGBX, YCbCr, LAB, HSV
    return image.convert("RGBA" if image.has_transparency_data else "RGB")


def _reduction(size: tuple[int, int], target: tuple[int, int]) -> tuple[int, int]:
    """The integer box-reduction factors Pillow's `resize(reducing_gap=REDUCING_GAP)` uses."""
    return (
        max(1, int(size[0] / target[0] / REDUCING_GAP)),
        max(1, int(size[1] / target[1] / REDUCING_GAP)),
    )


def _shrink(
    image: Image.Image,
    factors: tuple[int, int],
    box: tuple[int, int, int, int] | None = None,
) -> Image.Image:
    """`_resizable(image)` (or its `box`: integer left, top, right, bottom) box-reduced by
    `factors`, made band by band: only one band of `BAND_PIXELS` is ever converted (palette
    to RGBA, alpha premultiplied) at a time, so a 100 MP RGBA original peaks at its decode
    plus a few bands, not at two full-size copies (`Image.reduce` of RGBA premultiplies the
    whole image into a second one first). A mode that needs no conversion (RGB, L, CMYK)
    is reduced in one call: `reduce` reads the box in place."""
    left, top, right, bottom = box or (0, 0, *image.size)
    mode = _resizable(image.crop((0, 0, 1, 1))).mode  # what every band becomes
    if mode == image.mode and mode in ("RGB", "L", "CMYK"):
        if factors == (1, 1):
            return image.crop((left, top, right, bottom))
        return image.reduce(factors, (left, top, right, bottom))
    premultiplied = {"RGBA": "RGBa", "LA": "La"}.get(mode)
    width, height = right - left, bottom - top
    out = Image.new(
        premultiplied or mode,
        (-(-width // factors[0]), -(-height // factors[1])),
    )
    rows = factors[1] * max(1, BAND_PIXELS // (width * factors[1]))  # whole reduction rows
    for y in range(0, height, rows):
        band = _resizable(image.crop((left, top + y, right, min(bottom, top + y + rows))))
        if premultiplied:
            band = band.convert(premultiplied)
        out.paste(band.reduce(factors), (0, y // factors[1]))
    return out.convert(mode) if premultiplied else out


def _srgb(image: Image.Image, icc: bytes | None) -> Image.Image:
    """RGB or RGBA in sRGB: the colour converted from `icc` when there is one; an alpha band
    kept unless every pixel is opaque."""
    alpha = image.getchannel("A") if image.mode in ("RGBA", "LA") else None
    colour = image.convert(image.mode[:-1]) if alpha is not None else image
    if icc is not None:
        colour = _from_profile(colour, icc)
    if colour.mode != "RGB":
        colour = colour.convert("RGB")
    if alpha is not None and alpha.getextrema() != (255, 255):
        colour.putalpha(alpha)
    return colour


def _from_profile(image: Image.Image, icc: bytes) -> Image.Image:
    """`image` (RGB, L or CMYK) converted from the ICC profile `icc` to sRGB; unchanged when
    the profile cannot be read or does not describe these pixels."""
    try:
        built = _transform(icc)
        if built is None:
            return image
        mode, transform = built
        if (mode == "CMYK") != (image.mode == "CMYK"):
            return image
        pixels = image if image.mode == mode else image.convert(mode)
        if mode == "RGB":  # same mode in and out: no new image
            ImageCms.applyTransform(pixels, transform, inPlace=True)
            return pixels
        converted = ImageCms.applyTransform(pixels, transform)
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return image
    return converted if converted is not None else image


@lru_cache(maxsize=8)
def _transform(icc: bytes) -> tuple[str, ImageCms.ImageCmsTransform] | None:
    """The pixels' mode for `icc` and its transform to sRGB; None for a colour space other
    than RGB, grey or CMYK. Cached: phones of one make embed the very same profile."""
    source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
    mode = _ICC_MODES.get(source.profile.xcolor_space.strip())
    if mode is None:
        return None
    transform = ImageCms.buildTransform(
        source, _srgb_profile(), mode, "RGB", renderingIntent=ImageCms.Intent.PERCEPTUAL
    )
    return mode, transform


@cache
def _srgb_profile() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def _webp(image: Image.Image) -> bytes:
    image.info.clear()  # nothing to carry over: the writer is handed no metadata either
    buffer = io.BytesIO()
    image.save(buffer, "WEBP", quality=QUALITY, method=METHOD)
    return buffer.getvalue()
