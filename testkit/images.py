"""Real, small images built in memory with Pillow and pillow-heif, for every test layer
(unit, integration, e2e) and for the sample events (`testkit.events`).

HEIC files are written through pillow-heif's own API (`heic`), never by registering it as
Pillow's HEIF plugin: the imaging layer ships the decode-only pi-heif, and a test process
that had pillow-heif registered could decode a HEIC with it instead of with what ships.

Every builder is deterministic (same bytes on every run and machine with the same library
versions) and cached, so a test may call it as often as it likes. The picture is a 16x12
RGB gradient: small enough to keep fixtures cheap, real enough that each file decodes.
"""

from __future__ import annotations

import functools
import io
from pathlib import Path

from PIL import Image

from testkit.disk_cache import kept_on_disk

WIDTH, HEIGHT = 16, 12


def _picture() -> Image.Image:
    image = Image.new("RGB", (WIDTH, HEIGHT))
    image.putdata([(x * 16, y * 20, 128) for y in range(HEIGHT) for x in range(WIDTH)])
    return image


def _encode(fmt: str, **options: object) -> bytes:
    return encode(_picture(), fmt, **options)


@functools.cache
def jpeg_bytes() -> bytes:
    return _encode("JPEG", quality=90)


@functools.cache
def png_bytes() -> bytes:
    return _encode("PNG")


@functools.cache
def gif_bytes() -> bytes:
    return _encode("GIF")


@functools.cache
def webp_bytes() -> bytes:
    return _encode("WEBP", lossless=True)


@functools.cache
def bmp_bytes() -> bytes:
    """A type the service never accepts (magic number `BM`)."""
    return _encode("BMP")


@functools.cache
def heic_bytes() -> bytes:
    """An HEVC-coded HEIF image as iPhones write it (`ftyp` major brand `heic`)."""
    return _encode("HEIF", quality=90)


@functools.cache
def heif_bytes() -> bytes:
    """A HEIF image whose `ftyp` brands name no HEVC profile (major brand `mif1`).

    pillow-heif cannot write one directly: the libheif it bundles encodes HEVC (x265) and
    nothing else (AVIF, which is AV1 in the same container, is not HEIF anyway). So this is
    `heic_bytes()` with its `ftyp` box re-branded: major brand `mif1`, and every HEVC brand
    in the compatible list replaced by `miaf`. Every other byte is untouched, so the file
    still decodes (pi-heif opens it) and has the generic-HEIF signature some cameras
    and converters produce.
    """
    data = bytearray(heic_bytes())
    size = int.from_bytes(data[:4], "big")
    if data[4:8] != b"ftyp":
        raise AssertionError("pillow-heif no longer starts its files with an ftyp box")
    data[8:12] = b"mif1"
    for offset in range(16, size, 4):
        if data[offset : offset + 4] in (b"heic", b"heix", b"hevc", b"hevx"):
            data[offset : offset + 4] = b"miaf"
    return bytes(data)


def ftyp_box(major: bytes, *compatible: bytes) -> bytes:
    """A bare ISO-BMFF `ftyp` box (minor version 0), to forge HEIF/AVIF/MP4 signatures."""
    body = b"ftyp" + major + bytes(4) + b"".join(compatible)
    return (len(body) + 4).to_bytes(4, "big") + body


# ------------------------------------------------------------------ photos, as cameras write
# For the renditions (images.render) and their bench: camera-sized pixels that compress like
# a photograph, the metadata a phone writes (EXIF with orientation and GPS, XMP, an ICC
# profile), and the awkward originals (animated GIF, CMYK, 16-bit, palette, alpha).

GPS = {1: "N", 2: (52.0, 31.0, 12.0), 3: "E", 4: (13.0, 24.0, 36.0)}  # GPSInfo IFD
XMP = (
    b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>'
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
    b'xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/" photoshop:City="Berlin"/>'
    b'</rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
)
# Adobe RGB (1998): the colorants adapted to D50 as its ICC profiles give them, gamma 563/256.
ADOBE_RGB = ((0.6097, 0.3111, 0.0195), (0.2053, 0.6257, 0.0609), (0.1492, 0.0632, 0.7446))
ADOBE_RGB_GAMMA = 563 / 256


def rgb_profile(
    description: str, colorants: tuple[tuple[float, float, float], ...], gamma: float
) -> bytes:
    """A minimal ICC v2 display profile (matrix/TRC, D50): what cameras and phones embed for
    Adobe RGB or Display P3. ImageCms.createProfile only makes sRGB, Lab and XYZ."""

    def s15(value: float) -> bytes:
        return round(value * 65536).to_bytes(4, "big", signed=True)

    def xyz(values: tuple[float, float, float]) -> bytes:
        return b"XYZ " + bytes(4) + b"".join(s15(v) for v in values)

    ascii_desc = description.encode("ascii") + b"\0"
    desc = (
        b"desc"
        + bytes(4)
        + len(ascii_desc).to_bytes(4, "big")
        + ascii_desc
        + bytes(4 + 4 + 2 + 1 + 67)
    )
    curve = (
        b"curv"
        + bytes(4)
        + (1).to_bytes(4, "big")
        + round(gamma * 256).to_bytes(2, "big")
        + bytes(2)
    )
    d50 = (0.9642, 1.0, 0.8249)
    tags = [
        (b"desc", desc),
        (b"cprt", b"text" + bytes(4) + b"No copyright, test profile\0"),
        (b"wtpt", xyz(d50)),
        (b"rXYZ", xyz(colorants[0])),
        (b"gXYZ", xyz(colorants[1])),
        (b"bXYZ", xyz(colorants[2])),
        (b"rTRC", curve),
        (b"gTRC", curve),
        (b"bTRC", curve),
    ]
    offset = 128 + 4 + 12 * len(tags)
    table, body = b"", b""
    for signature, data in tags:
        padded = data + bytes(-len(data) % 4)
        table += signature + (offset + len(body)).to_bytes(4, "big") + len(data).to_bytes(4, "big")
        body += padded
    size = offset + len(body)
    header = (
        size.to_bytes(4, "big")
        + b"lcms"
        + bytes((2, 0x10, 0, 0))
        + b"mntrRGB XYZ "
        + bytes((0x07, 0xEA, 0, 1, 0, 1))
        + bytes(6)  # 2026-01-01 00:00:00
        + b"acsp"
        + bytes(4 + 4 + 4 + 4 + 8 + 4)  # platform, flags, manufacturer, model, attributes, intent
        + b"".join(s15(v) for v in d50)
        + bytes(4 + 16 + 28)  # creator, profile id, reserved
    )
    return header + len(tags).to_bytes(4, "big") + table + body


@functools.cache
def adobe_rgb_profile() -> bytes:
    return rgb_profile("Adobe RGB (1998) compatible, test", ADOBE_RGB, ADOBE_RGB_GAMMA)


@functools.cache
def srgb_profile() -> bytes:
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def camera_exif(orientation: int = 1) -> bytes:
    """An EXIF block as a phone writes it: make, model, orientation, date and a GPS fix."""
    exif = Image.Exif()
    exif[0x010F] = "TestCam"  # Make
    exif[0x0110] = "TestCam 12"  # Model
    exif[0x0112] = orientation
    exif[0x0132] = "2026:11:29 12:00:00"  # DateTime
    exif[0x8825] = GPS
    return exif.tobytes()


def photographic(width: int, height: int, seed: int = 0) -> Image.Image:
    """Pixels that compress like a photograph: a colour gradient under noise at five
    scales (blobs about 256, 64, 16 and 4 px wide, then per-pixel sensor noise), each
    octave's amplitude halving with its scale, roughly the 1/f spectrum of natural images;
    the four coarse octaves vary each channel (colour), the per-pixel one all three alike
    (luminance). At 4000x3000 a quality-90 JPEG of it is a few MB, as a 12 MP phone photo;
    every rendition size keeps detail, so their bytes are not those of a flat test card.
    Deterministic per seed. The coarse octaves are summed on a grid 4x smaller and
    upscaled once (bicubic), so 12 MP take well under a second."""
    import random

    from PIL import ImageChops

    rng = random.Random(seed)  # noqa: S311 - pixels, not keys
    grid = ((width + 3) // 4, (height + 3) // 4)

    def noise(mode: str, size: tuple[int, int], amplitude: float) -> Image.Image:
        """Uniform noise (standard deviation ~74) scaled to `amplitude`, centred on 128."""
        bands = len(mode)
        pixels = Image.frombytes(mode, size, rng.randbytes(size[0] * size[1] * bands))
        return pixels.point(lambda v: 128 + (v - 128) * amplitude / 74)

    texture = noise("RGB", grid, 6.0)  # ~4 px blobs once upscaled
    for scale, amplitude in ((64, 40.0), (16, 20.0), (4, 10.0)):  # ~256, 64, 16 px
        small = ((grid[0] + scale - 1) // scale + 1, (grid[1] + scale - 1) // scale + 1)
        octave = noise("RGB", small, amplitude).resize(grid, Image.Resampling.BICUBIC)
        texture = ImageChops.add(texture, octave, scale=1.0, offset=-128)
    texture = texture.resize((width, height), Image.Resampling.BICUBIC)
    ramp = Image.linear_gradient("L")
    image = Image.merge(
        "RGB",
        (
            ramp.rotate(90).resize((width, height)),
            ramp.resize((width, height)),
            Image.radial_gradient("L").resize((width, height)),
        ),
    ).point(lambda v: 48 + v * 0.62)
    image = ImageChops.add(image, texture, scale=1.0, offset=-128)
    grain = noise("L", (width, height), 4.0).convert("RGB")
    return ImageChops.add(image, grain, scale=1.0, offset=-128)


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    """`image` written as `fmt` (a Pillow format name; "HEIF" goes through `heic`)."""
    if fmt == "HEIF":
        return heic(image, **options)
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def heic(image: Image.Image, **options: object) -> bytes:
    """`image` as an HEVC-coded HEIC, written by pillow-heif's own writer (`from_pillow`):
    the options are those of Pillow's `save` with pillow-heif (`quality`, `exif`, `xmp`,
    `icc_profile`, `enc_params`, `tile_size`...), and pillow-heif is not registered as
    Pillow's HEIF opener, so what decodes the file in a test is pi-heif, as in the service."""
    import pillow_heif  # dev-only: its wheels bundle the x265 encoder (GPL), never shipped

    buffer = io.BytesIO()
    pillow_heif.from_pillow(image).save(buffer, **options)
    return buffer.getvalue()


@kept_on_disk(Path(__file__))
def camera_jpeg(
    width: int = 4000,
    height: int = 3000,
    orientation: int = 6,
    quality: int = 90,
    icc: str = "adobe-rgb",
) -> bytes:
    """A phone's JPEG: `photographic` pixels, EXIF (orientation, GPS), XMP and an ICC profile
    (`icc`: "adobe-rgb", "srgb" or "" for none). Stored as a sensor reads it: `width` x
    `height` before the orientation is applied."""
    profile = {"adobe-rgb": adobe_rgb_profile, "srgb": srgb_profile}.get(icc)
    options: dict[str, object] = {"quality": quality, "exif": camera_exif(orientation), "xmp": XMP}
    if profile is not None:
        options["icc_profile"] = profile()
    return encode(photographic(width, height), "JPEG", **options)


@kept_on_disk(Path(__file__))
def camera_heic(width: int = 4000, height: int = 3000, quality: int = 60) -> bytes:
    """An iPhone-like HEIC: `photographic` pixels, EXIF with GPS, an ICC profile. x265's
    `ultrafast` preset: 12 MP encode in ~3 s here instead of ~50 s at the default preset
    (quality 60 then gives ~2.8 MB for 12 MP, in the range phones write)."""
    return encode(
        photographic(width, height, seed=1),
        "HEIF",
        quality=quality,
        exif=camera_exif(1),
        icc_profile=adobe_rgb_profile(),
        enc_params={"preset": "ultrafast"},
    )


@functools.cache
def animated_gif(
    first: tuple[int, int, int] = (255, 0, 0),
    second: tuple[int, int, int] = (0, 0, 255),
    size: tuple[int, int] = (64, 48),
) -> bytes:
    """Two frames of one flat colour each: a viewer of a still must see `first`."""
    frames = [Image.new("RGB", size, first), Image.new("RGB", size, second)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buffer.getvalue()


def webp_chunks(data: bytes) -> list[bytes]:
    """The FourCCs of a WebP file's RIFF chunks, in order (`VP8 `, `VP8X`, `EXIF`, ...)."""
    assert data[:4] == b"RIFF", "not a RIFF file"
    assert data[8:12] == b"WEBP", "not a WebP file"
    chunks, offset = [], 12
    while offset + 8 <= len(data):
        size = int.from_bytes(data[offset + 4 : offset + 8], "little")
        chunks.append(data[offset : offset + 4])
        offset += 8 + size + (size & 1)
    return chunks
