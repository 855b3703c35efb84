"""The Pillow steps every rendition shares: the sizes (`images.render`) and the squares
(`images.avatar`) open, decode, turn, convert and encode pixels the same way.

- **Opened by its own plugin**: each type by its own Pillow plugin (`formats=`), never a
  plugin of another format, and refused over the service's cap (`images.check_dimensions`)
  before a pixel is decoded. `Image.MAX_IMAGE_PIXELS` is set to that cap (`images.MAX_PIXELS`,
  100 MP) when this module is imported. pi-heif (decode-only) is registered once, on the first
  HEIC/HEIF.
- **Decoding errors**: inside `decoding()`, Pillow's decompression-bomb warning is a refusal
  (its other warnings, about a corrupt Exif block or a malformed MPO header it reads past, are
  silenced), and whatever fails (not an image, truncated, corrupt, over the cap) raises
  `UnsupportedMediaType("Image could not be decoded: <why>")`; a `MemoryError` is not a
  property of the file and propagates as it is.
- **Upright**: `orientation` reads the EXIF orientation (or XMP `tiff:Orientation`, as
  Pillow's `getexif` reads it) and `UPRIGHT` holds the same eight transpositions as
  `ImageOps.exif_transpose`.
- **Modes and reduction**: `resizable` gives a mode Pillow resizes well (16-bit grey scaled
  to 8 bits, palettes and colour keys to RGBA); `shrink` box-reduces by an integer factor, as
  Pillow's `reducing_gap=3` does, but band by band: the palette conversion and alpha
  premultiplication touch one 4 MP band at a time instead of a second full-size copy
  (measured: a 100 MP RGBA PNG peaks at ~550 MiB instead of ~890).
- **sRGB**: `srgb` converts from an embedded ICC profile (RGB, grey or CMYK) with LittleCMS
  (`ImageCms`, perceptual intent), transforms cached per profile (one phone model, one
  profile). A profile LittleCMS cannot read, or one whose colour space does not fit the
  pixels, is ignored, as browsers do. An alpha band is kept unless every pixel is opaque.

Encoding and resampling: lossy WebP at `QUALITY` 80 (cwebp's default is 75; 80 keeps photo
detail at avatar sizes), with no metadata: Pillow's WebP writer only writes what it is handed,
and nothing is handed to it (the image's `info` is emptied too).

libwebp's effort (`method`, 0-6; `effort`) trades CPU, spent once when a file is made, for
bytes, paid on every view: behind the CDN a kilobyte sent a million times costs ~$0.085, a
second of the renditions function (1024 MB) ~$0.000017. Measured here at quality 80 on the
12 MP camera JPEG's renditions as `render_photo` makes them (CPU time, bytes; PSNR against the
pixels encoded is within 0.1 dB across methods 1-6):

| encoded | method 1 | method 4 (libwebp's default) | method 5 | method 6 |
|---|---|---|---|---|
| 1024 px square | 34 ms, 128.9 KB | 102 ms, 114.9 KB | 126 ms, 114.0 KB | 225 ms, 111.1 KB |
| 1024x768 size | 25 ms, 105.1 KB | 100 ms, 96.2 KB | 87 ms, 95.4 KB | 171 ms, 93.1 KB |
| 512 px square | 9 ms, 42.8 KB | 30 ms, 38.2 KB | 34 ms, 38.2 KB | 53 ms, 37.5 KB |
| 128 px square | 0.9 ms, 4.78 KB | 2.0 ms, 4.42 KB | 2.2 ms, 4.33 KB | 4.9 ms, 4.24 KB |

So method 4 for every size but the SMALL ones (up to 128 px), which take method 5: 2% fewer
bytes on the most frequent view for 0.2-0.5 ms. Method 1 on the 1024 px files would save
~140 ms a photo (what the avatars bench's render budget asks for: its note has the figure)
for 9-12% more bytes on each LARGE view; the bytes of two LARGE views behind the CDN cost
more than that CPU, so it is not used.

Resampling is `BICUBIC`, Pillow's antialiased convolution (its support widens with the
reduction, as `thumbnail` uses it): Lanczos measured ~20 ms more per 12 MP photo (+13% of
the bare-Pillow floor the bench compares with) for a slightly sharper kernel.

Pillow is imported by these three modules only: `profile_photos.images` itself stays standard
library, so the functions that serve photos never load it.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache, lru_cache

from PIL import ExifTags, Image, ImageCms, JpegImagePlugin, UnidentifiedImageError

from profile_photos.errors import UnsupportedMediaType
from profile_photos.images import MAX_PIXELS, check_dimensions

__all__ = [
    "BAND_PIXELS",
    "EFFORT",
    "QUALITY",
    "REDUCING_GAP",
    "RESAMPLE",
    "SWAPS_SIDES",
    "UPRIGHT",
    "decoding",
    "draft",
    "effort",
    "fit",
    "open_image",
    "orientation",
    "reduction",
    "register_heif",
    "resizable",
    "shrink",
    "srgb",
    "webp",
]

Image.MAX_IMAGE_PIXELS = MAX_PIXELS

QUALITY = 80
# libwebp's method by the longest side encoded: (up to this side, method); larger: the last
EFFORT: tuple[tuple[int | None, int], ...] = ((128, 5), (None, 4))
RESAMPLE = Image.Resampling.BICUBIC
REDUCING_GAP = 3.0
BAND_PIXELS = 1 << 22  # 4 MP: the slice of a huge original converted at a time (shrink)

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
UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
SWAPS_SIDES = frozenset((5, 6, 7, 8))  # orientations whose upright width is the coded height
_ICC_MODES = {"RGB": "RGB", "GRAY": "L", "CMYK": "CMYK"}  # ICC colour space -> Pillow mode


# ---------------------------------------------------------------- opening and decoding


@contextmanager
def decoding() -> Iterator[None]:
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


def open_image(data: bytes, content_type: str) -> Image.Image:
    """The file opened by its own plugin (header read, no pixel decoded), within the cap."""
    plugins = _PLUGINS.get(content_type)
    if plugins is None:
        raise UnsupportedMediaType(
            f"Image could not be decoded: {content_type} is not an image type the service reads"
        )
    if plugins == ("HEIF",):
        register_heif()
    image = Image.open(io.BytesIO(data), formats=plugins)
    try:
        check_dimensions(*image.size)
    except UnsupportedMediaType as exc:
        raise UnsupportedMediaType(f"Image could not be decoded: {exc.message}") from exc
    return image


@cache
def register_heif() -> None:
    """Let Pillow open HEIC/HEIF: pi-heif's opener, registered once (`cache`)."""
    import pi_heif  # only for HEIC/HEIF originals; decode-only (no HEVC encoder shipped)

    # The primary image only: thumbnails, depth maps and auxiliary images are never used.
    pi_heif.register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)


def draft(image: Image.Image, size: tuple[int, int]) -> None:
    """Let a JPEG (MPO included) decode at the smallest DCT scale still >= `size`."""
    if isinstance(image, JpegImagePlugin.JpegImageFile):
        image.draft(None, size)


def orientation(image: Image.Image) -> int:
    """The EXIF orientation (1 to 8) of `image` as opened; 1 when absent or malformed."""
    value = image.getexif().get(ExifTags.Base.Orientation, 1)
    return value if isinstance(value, int) else 1


def fit(size: tuple[int, int], side: int) -> tuple[int, int]:
    """`size` scaled so that its longest side is `side`, aspect kept; never enlarged."""
    width, height = size
    longest = max(width, height)
    if longest <= side:
        return size
    if width >= height:
        return side, max(1, round(height * side / longest))
    return max(1, round(width * side / longest)), side


# -------------------------------------------------- modes, reduction, colour, encoding


def resizable(image: Image.Image) -> Image.Image:
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


def reduction(size: tuple[int, int], target: tuple[int, int]) -> tuple[int, int]:
    """The integer box-reduction factors Pillow's `resize(reducing_gap=REDUCING_GAP)` uses."""
    return (
        max(1, int(size[0] / target[0] / REDUCING_GAP)),
        max(1, int(size[1] / target[1] / REDUCING_GAP)),
    )


def shrink(
    image: Image.Image,
    factors: tuple[int, int],
    box: tuple[int, int, int, int] | None = None,
) -> Image.Image:
    """`resizable(image)` (or its `box`: integer left, top, right, bottom) box-reduced by
    `factors`, made band by band: only one band of `BAND_PIXELS` is ever converted (palette
    to RGBA, alpha premultiplied) at a time, so a 100 MP RGBA original peaks at its decode
    plus a few bands, not at two full-size copies (`Image.reduce` of RGBA premultiplies the
    whole image into a second one first). A mode that needs no conversion (RGB, L, CMYK)
    is reduced in one call: `reduce` reads the box in place."""
    left, top, right, bottom = box or (0, 0, *image.size)
    mode = resizable(image.crop((0, 0, 1, 1))).mode  # what every band becomes
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
        band = resizable(image.crop((left, top + y, right, min(bottom, top + y + rows))))
        if premultiplied:
            band = band.convert(premultiplied)
        out.paste(band.reduce(factors), (0, y // factors[1]))
    return out.convert(mode) if premultiplied else out


def srgb(image: Image.Image, icc: bytes | None) -> Image.Image:
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


def effort(size: tuple[int, int]) -> int:
    """libwebp's method for an image of `size`: `EFFORT`'s first row whose side it fits."""
    longest = max(size)
    return next(method for side, method in EFFORT if side is None or longest <= side)


def webp(image: Image.Image) -> bytes:
    """`image` as a lossy WebP at `QUALITY` and its size's `effort`, with no metadata."""
    image.info.clear()  # nothing to carry over: the writer is handed no metadata either
    buffer = io.BytesIO()
    image.save(buffer, "WEBP", quality=QUALITY, method=effort(image.size))
    return buffer.getvalue()
