"""images.render: what a viewer of each rendition sees, for every kind of original.

One file: each property of a rendition (size, orientation, colour, alpha, frames, HEIC,
refusals) is checked through the one `render` call on originals built here once.

Images are made here with Pillow (and pillow-heif), most of them small; one 4000x3000 JPEG
as a phone writes it (orientation 6, GPS, XMP, an Adobe RGB profile) is built once.
"""

from __future__ import annotations

import io
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageCms, ImageDraw

from profile_photos.errors import UnsupportedMediaType
from profile_photos.images import MAX_PIXELS
from profile_photos.images.render import Rendition, decode, render
from testkit import images
from testkit.images import webp_chunks

ROOT = Path(__file__).resolve().parents[2]
LARGE, MEDIUM, SMALL = 1024, 512, 128
WEBP_CHUNKS = {b"VP8 ", b"VP8L", b"VP8X", b"ALPH", b"ANIM", b"ANMF"}  # pixels, nothing else
METADATA_MARKERS = (b"Exif\0\0", b"<x:xmpmeta", b"xpacket", b"ICC_PROFILE", b"TestCam", b"acsp")


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    return images.encode(image, fmt, **options)


def opened(rendition: Rendition) -> Image.Image:
    image = Image.open(io.BytesIO(rendition.data))
    image.load()
    return image


def assert_bare(rendition: Rendition) -> None:
    """A WebP of the stated size that carries no metadata of any kind."""
    image = opened(rendition)
    assert image.format == "WEBP"
    assert image.size == (rendition.width, rendition.height)
    assert not {"exif", "icc_profile", "xmp"} & set(image.info)
    assert len(image.getexif()) == 0
    assert set(webp_chunks(rendition.data)) <= WEBP_CHUNKS  # no EXIF, XMP or ICCP chunk
    for marker in METADATA_MARKERS:
        assert marker not in rendition.data


def pixel(image: Image.Image, xy: tuple[int, int]) -> tuple[int, ...]:
    value = image.getpixel(xy)
    assert isinstance(value, tuple)
    return value


def centre(rendition: Rendition) -> tuple[int, ...]:
    image = opened(rendition)
    return pixel(image, (image.width // 2, image.height // 2))


def is_red(rgb: tuple[int, ...]) -> bool:
    return rgb[0] > 150 and rgb[1] < 80 and rgb[2] < 80


def close(actual: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 4) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


def png_16bit(width: int, height: int, color_type: int, sample: tuple[int, ...]) -> bytes:
    """A 16-bit PNG written by hand (Pillow writes 16-bit grey only)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    row = b"\0" + struct.pack(f">{len(sample)}H", *sample) * width
    header = struct.pack(">IIBBBBB", width, height, 16, color_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


# ---------------------------------------------------------------- a phone's 12 MP JPEG


@pytest.fixture(scope="module")
def phone_jpeg() -> bytes:
    """4000x3000 as the sensor reads it, orientation 6 (display rotated 90 degrees
    clockwise): upright it is 3000x4000 with a red block in its top-left corner."""
    upright = images.photographic(3000, 4000)
    ImageDraw.Draw(upright).rectangle((0, 0, 749, 999), fill=(230, 20, 20))
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # what orientation 6 undoes
    assert stored.size == (4000, 3000)
    return encode(
        stored,
        "JPEG",
        quality=90,
        exif=images.camera_exif(orientation=6),
        xmp=images.XMP,
        icc_profile=images.adobe_rgb_profile(),
    )


def test_phone_jpeg_renders_upright_exact_sizes_and_bare(phone_jpeg: bytes) -> None:
    made = render(phone_jpeg, "image/jpeg")

    assert list(made) == [LARGE, MEDIUM, SMALL]
    assert [(r.width, r.height) for r in made.values()] == [(768, 1024), (384, 512), (96, 128)]
    for rendition in made.values():
        assert_bare(rendition)
        assert opened(rendition).mode == "RGB"
    large = opened(made[LARGE])
    assert is_red(pixel(large, (90, 120)))  # inside the red block, upright
    assert not is_red(pixel(large, (768 - 90, 1024 - 120)))
    assert not is_red(pixel(large, (768 - 90, 120)))  # not mirrored either


def test_phone_jpeg_bytes_are_a_fraction_of_the_original(phone_jpeg: bytes) -> None:
    made = render(phone_jpeg, "image/jpeg")

    assert len(made[SMALL].data) < 0.01 * len(phone_jpeg)
    assert len(made[MEDIUM].data) < 0.05 * len(phone_jpeg)


def test_sides_are_asked_for_in_any_order_and_each_once() -> None:
    data = encode(images.photographic(400, 300), "JPEG")

    made = render(data, "image/jpeg", (128, 256, 128))

    assert list(made) == [128, 256]
    assert (made[256].width, made[256].height) == (256, 192)
    assert (made[128].width, made[128].height) == (128, 96)
    with pytest.raises(ValueError, match="positive"):
        render(data, "image/jpeg", (0,))


# --------------------------------------------------------------------------- colour


FLAT = (180, 120, 60)


def test_a_wide_gamut_profile_is_converted_to_srgb() -> None:
    profile = images.adobe_rgb_profile()
    data = encode(Image.new("RGB", (64, 48), FLAT), "PNG", icc_profile=profile)
    expected = ImageCms.profileToProfile(
        Image.new("RGB", (1, 1), FLAT),
        ImageCms.ImageCmsProfile(io.BytesIO(profile)),
        ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")),
        outputMode="RGB",
    )
    assert expected is not None
    srgb = expected.getpixel((0, 0))
    assert isinstance(srgb, tuple)
    assert max(abs(a - b) for a, b in zip(srgb, FLAT, strict=True)) > 10  # it does change

    made = render(data, "image/png")

    for rendition in made.values():
        assert_bare(rendition)
        assert close(centre(rendition), srgb)


def test_an_srgb_profile_keeps_the_colour() -> None:
    data = encode(Image.new("RGB", (64, 48), FLAT), "PNG", icc_profile=images.srgb_profile())

    assert close(centre(render(data, "image/png")[SMALL]), FLAT)


def test_a_broken_profile_is_ignored() -> None:
    data = encode(Image.new("RGB", (64, 48), FLAT), "PNG", icc_profile=b"not a profile" * 10)

    made = render(data, "image/png")

    assert close(centre(made[SMALL]), FLAT)
    assert_bare(made[SMALL])


def test_cmyk_jpeg_becomes_rgb() -> None:
    data = encode(Image.new("CMYK", (64, 48), (0, 255, 255, 0)), "JPEG", quality=95)

    rendition = render(data, "image/jpeg")[LARGE]

    assert opened(rendition).mode == "RGB"
    assert close(centre(rendition), (255, 0, 0), tolerance=8)


def test_16_bit_grey_is_scaled_not_clipped() -> None:
    data = encode(Image.new("I;16", (64, 48), 40000), "PNG")
    assert Image.open(io.BytesIO(data)).mode.startswith("I")

    assert close(centre(render(data, "image/png")[MEDIUM]), (156, 156, 156))


def test_16_bit_rgb_and_rgba() -> None:
    rgb = png_16bit(64, 48, 2, (60000, 30000, 1000))
    rgba = png_16bit(64, 48, 6, (60000, 30000, 1000, 30000))

    assert close(centre(render(rgb, "image/png")[SMALL]), (233, 117, 4))
    translucent = centre(render(rgba, "image/png")[SMALL])
    assert len(translucent) == 4
    assert close(translucent, (233, 117, 4, 117))


# ---------------------------------------------------------------------------- alpha


def test_alpha_is_kept() -> None:
    image = Image.new("RGBA", (200, 100), (0, 0, 255, 255))
    ImageDraw.Draw(image).rectangle((100, 0, 199, 99), fill=(0, 0, 0, 0))

    rendition = render(encode(image, "PNG"), "image/png")[MEDIUM]

    out = opened(rendition)
    assert out.mode == "RGBA"
    assert (rendition.width, rendition.height) == (200, 100)  # never upscaled
    assert close(pixel(out, (20, 50)), (0, 0, 255, 255))
    assert pixel(out, (180, 50))[3] == 0
    assert_bare(rendition)


def test_an_opaque_alpha_band_is_dropped() -> None:
    data = encode(Image.new("RGBA", (64, 48), (10, 200, 10, 255)), "PNG")

    assert opened(render(data, "image/png")[SMALL]).mode == "RGB"


def test_grey_with_alpha() -> None:
    image = Image.new("LA", (64, 48), (128, 255))
    ImageDraw.Draw(image).rectangle((32, 0, 63, 47), fill=(128, 0))

    out = opened(render(encode(image, "PNG"), "image/png")[SMALL])

    assert out.mode == "RGBA"
    assert close(pixel(out, (8, 24)), (128, 128, 128, 255))
    assert pixel(out, (56, 24))[3] == 0


def test_palette_png_with_and_without_transparency() -> None:
    opaque = Image.new("RGB", (64, 48), (200, 30, 90)).convert("P", palette=Image.Palette.ADAPTIVE)
    clear = Image.new("P", (64, 48), 1)
    clear.putpalette([0, 0, 0, 10, 200, 10])
    ImageDraw.Draw(clear).rectangle((0, 0, 31, 47), fill=0)

    assert close(centre(render(encode(opaque, "PNG"), "image/png")[SMALL]), (200, 30, 90))
    out = opened(render(encode(clear, "PNG", transparency=0), "image/png")[SMALL])
    assert out.mode == "RGBA"
    assert pixel(out, (8, 24))[3] == 0
    assert close(pixel(out, (56, 24)), (10, 200, 10, 255))


# ------------------------------------------------------------------- frames and sizes


def test_animated_gif_gives_its_first_frame() -> None:
    data = images.animated_gif(first=(255, 0, 0), second=(0, 0, 255))
    assert getattr(Image.open(io.BytesIO(data)), "n_frames", 1) == 2

    made = render(data, "image/gif")

    for rendition in made.values():
        assert_bare(rendition)
        assert close(centre(rendition), (255, 0, 0), tolerance=8)


def test_animated_webp_gives_its_first_frame() -> None:
    frames = [Image.new("RGB", (64, 48), (0, 200, 0)), Image.new("RGB", (64, 48), (200, 0, 200))]
    buffer = io.BytesIO()
    frames[0].save(buffer, "WEBP", save_all=True, append_images=frames[1:], lossless=True)

    rendition = render(buffer.getvalue(), "image/webp")[SMALL]

    assert close(centre(rendition), (0, 200, 0), tolerance=8)
    assert b"ANIM" not in rendition.data


def test_a_small_original_is_never_upscaled() -> None:
    data = encode(images.photographic(50, 30), "JPEG", exif=images.camera_exif(1))

    made = render(data, "image/jpeg")

    assert {(r.width, r.height) for r in made.values()} == {(50, 30)}
    assert made[LARGE] is made[MEDIUM] is made[SMALL]  # one encode for the three
    assert_bare(made[SMALL])


def test_portrait_and_one_pixel_wide_originals_keep_their_aspect() -> None:
    tall = render(encode(Image.new("RGB", (300, 2000), "white"), "PNG"), "image/png")
    thin = render(encode(Image.new("RGB", (3000, 1), "white"), "PNG"), "image/png")

    assert (tall[MEDIUM].width, tall[MEDIUM].height) == (77, 512)
    assert (thin[SMALL].width, thin[SMALL].height) == (128, 1)


def test_a_huge_original_is_reduced_in_bands_like_one_resize(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from profile_photos.images import pixels

    image = Image.new("RGBA", (6200, 90), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    for x in range(0, 6200, 50):
        draw.rectangle((x, 0, x + 24, 89), fill=(x % 256, 255 - x % 256, 90, 255))
    target = (1024, 15)
    assert pixels.reduction(image.size, target) == (2, 2)
    monkeypatch.setattr(pixels, "BAND_PIXELS", 6200 * 8)  # 12 bands of 8 rows

    shrunk = pixels.shrink(image, (2, 2))
    banded = shrunk.resize(target, pixels.RESAMPLE, box=(0, 0, 3100, 45))
    whole = image.resize(target, pixels.RESAMPLE, reducing_gap=pixels.REDUCING_GAP)

    assert shrunk.mode == "RGBA"
    assert shrunk.size == (3100, 45)
    assert max(high for _, high in ImageChops.difference(banded, whole).getextrema()) <= 2
    palette = image.convert("RGB").convert("P", palette=Image.Palette.ADAPTIVE)
    assert pixels.shrink(palette, (2, 2)).mode == "RGB"
    made = render(encode(image, "PNG"), "image/png")
    assert (made[LARGE].width, made[LARGE].height) == (1024, 15)
    assert opened(made[LARGE]).mode == "RGBA"


# ----------------------------------------------------------------------------- HEIC


def test_heic_is_decoded_through_pillow_heif() -> None:
    made = render(images.heic_bytes(), "image/heic")

    assert (made[SMALL].width, made[SMALL].height) == (images.WIDTH, images.HEIGHT)
    assert_bare(made[SMALL])


def test_heic_with_exif_gps_and_profile_is_upright_and_bare() -> None:
    upright = Image.new("RGB", (120, 160), (20, 20, 230))
    ImageDraw.Draw(upright).rectangle((0, 0, 59, 79), fill=(230, 20, 20))
    data = encode(
        upright.transpose(Image.Transpose.ROTATE_90),
        "HEIF",
        quality=90,
        exif=images.camera_exif(orientation=6),  # pillow-heif writes it as an irot
        icc_profile=images.srgb_profile(),
    )

    for content_type in ("image/heic", "image/heif"):
        rendition = render(data, content_type)[SMALL]
        assert (rendition.width, rendition.height) == (96, 128)
        assert_bare(rendition)
        out = opened(rendition)
        assert is_red(pixel(out, (10, 10)))
        assert pixel(out, (86, 118))[2] > 150 > pixel(out, (86, 118))[0]


# --------------------------------------------------------------------------- refusals


def test_truncated_jpeg_is_refused() -> None:
    data = encode(images.photographic(256, 192), "JPEG")

    # its structure is read first (to price the decode), so that refuses it
    with pytest.raises(UnsupportedMediaType, match=r"^Invalid image file: .+end-of-image"):
        render(data[: len(data) // 2], "image/jpeg")


def test_random_bytes_are_refused() -> None:
    noise = bytes((i * 7919 + 13) % 251 for i in range(4096))

    for content_type in ("image/jpeg", "image/png", "image/heic"):
        with pytest.raises(UnsupportedMediaType, match=r"^Invalid image file: .+"):
            render(noise, content_type)


def test_a_file_is_only_opened_by_its_own_type() -> None:
    with pytest.raises(UnsupportedMediaType, match="JPEG file structure is invalid"):
        render(images.png_bytes(), "image/jpeg")
    with pytest.raises(UnsupportedMediaType, match="image/bmp"):
        render(images.png_bytes(), "image/bmp")
    with pytest.raises(UnsupportedMediaType, match="could not be decoded"):
        decode(images.png_bytes(), "image/jpeg")


def forged_png(width: int, height: int) -> bytes:
    """A 1x1 grey PNG whose header claims `width` x `height`: only the header is real."""
    real = png_16bit(1, 1, 0, (0,))
    ihdr = struct.pack(">IIBBBBB", width, height, 16, 0, 0, 0, 0)
    return (
        real[:8]
        + struct.pack(">I", 13)
        + b"IHDR"
        + ihdr
        + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
        + real[33:]
    )


def test_over_the_pixel_cap_is_refused_before_decoding() -> None:
    assert Image.MAX_IMAGE_PIXELS == MAX_PIXELS
    just_over = forged_png(10001, 10000)  # one row more than 100 MP
    far_over = forged_png(16000, 16000)  # past Pillow's own 2x limit (DecompressionBombError)

    for data in (just_over, far_over):
        with pytest.raises(UnsupportedMediaType, match=r"^Image is .*megapixels"):
            render(data, "image/png")
        with pytest.raises(UnsupportedMediaType, match="megapixels"):
            decode(data, "image/png")
    with pytest.raises(UnsupportedMediaType, match="16384 px a side"):
        render(forged_png(20000, 10), "image/png")


# ---------------------------------------------------------------------------- decode


def test_decode_gives_the_loaded_first_frame_as_stored() -> None:
    data = encode(images.photographic(800, 600), "JPEG", exif=images.camera_exif(6))

    full = decode(data, "image/jpeg")
    reduced = decode(data, "image/jpeg", longest_side=200)

    assert full.size == (800, 600)
    assert full.getexif()[0x0112] == 6
    assert reduced.size == (200, 150)  # DCT scaling 1/4: still >= 200 on the long side
    assert decode(images.animated_gif(), "image/gif").size == (64, 48)


def test_importing_images_does_not_load_pillow() -> None:
    code = (
        "import sys, profile_photos.images; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('PIL', 'pillow_heif')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT / "shared")},
        capture_output=True,
        text=True,
        check=True,
    )

    assert result.stdout.strip() == "[]"
