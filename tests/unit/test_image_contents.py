"""Image contents: header dimensions, the decompression-bomb limit, and metadata stripping.

One file: dimensions, the decompression-bomb limit and stripping are checked on the same real
images of every format, built here once.

Every file is a real image written by Pillow / pillow-heif (HEIC read back by pi-heif);
"clean" is judged by Pillow re-reading the stripped bytes, and "lossless" by decoding both
files to the same pixels.
"""

from __future__ import annotations

import contextlib
import io
import random
import zlib

import pi_heif
import pytest
from PIL import Image, ImageCms, PngImagePlugin

from profile_photos.errors import UnsupportedMediaType
from profile_photos.images import (
    MAX_PIXELS,
    MAX_SIDE,
    check_dimensions,
    read_dimensions,
    strip_metadata,
)
from testkit import images

pi_heif.register_heif_opener()  # HEIC decodes with what the imaging layer ships

ORIENTATION, MAKE, GPS_IFD = 0x0112, 0x010F, 0x8825
SECRETS = (b"SecretCam", b"SECRETDATUM", b"Berlin", b"secret comment")
XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
    b'xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/" photoshop:City="Berlin"/>'
    b"</rdf:RDF></x:xmpmeta>"
)
ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
# GPSLatitude 52/1, 31/1, 17/1 as big- and little-endian TIFF rationals.
LATITUDE = [
    b"".join(n.to_bytes(4, order) + (1).to_bytes(4, order) for n in (52, 31, 17))
    for order in ("big", "little")
]
BOMB_MESSAGE = "Image is 20000x20000 px; the maximum is 16384 px a side and 100 megapixels"


def picture(size: tuple[int, int] = (96, 72)) -> Image.Image:
    # Larger than 64 px a side: HEVC encoders pad smaller images (see the HEIF size test).
    width, height = size
    image = Image.new("RGB", size)
    image.putdata(
        [(x * 2 % 256, y * 3 % 256, (x + y) % 256) for y in range(height) for x in range(width)]
    )
    return image


def gps_exif(orientation: int = 6) -> Image.Exif:
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    exif[MAKE] = "SecretCam"
    exif[GPS_IFD] = {1: "N", 2: (52.0, 31.0, 17.0), 3: "E", 4: (13.0, 24.0, 5.0), 18: "SECRETDATUM"}
    return exif


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    return images.encode(image, fmt, **options)


def jpeg_with_metadata(orientation: int = 6) -> bytes:
    exif = gps_exif(orientation)
    return encode(
        picture(),
        "JPEG",
        quality=90,
        exif=exif,
        xmp=XMP,
        icc_profile=ICC,
        comment=b"secret comment",
    )


def png_with_metadata() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "secret comment")
    info.add_text("Location", "Berlin", zip=True)
    info.add_itxt("XML:com.adobe.xmp", XMP.decode())
    return encode(picture(), "PNG", exif=gps_exif(), icc_profile=ICC, pnginfo=info)


def webp_with_metadata() -> bytes:
    return encode(picture(), "WEBP", lossless=True, exif=gps_exif(), xmp=XMP, icc_profile=ICC)


def heic_with_metadata() -> bytes:
    return encode(
        picture(), "HEIF", quality=90, exif=gps_exif().tobytes(), xmp=XMP, icc_profile=ICC
    )


def gif_with_metadata() -> bytes:
    gif = encode(picture(), "GIF", comment=b"secret comment")
    table = 3 << ((gif[10] & 7) + 1) if gif[10] & 0x80 else 0
    magic_trailer = b"\x01" + bytes(range(255, 0, -1)) + b"\x00\x00"
    xmp = b"\x21\xff\x0bXMP DataXMP" + XMP + magic_trailer
    return gif[: 13 + table] + xmp + gif[13 + table :]


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def jpeg_markers(data: bytes) -> tuple[list[int], bytes]:
    """The markers before SOS, and the bytes from SOS on."""
    markers, pos = [], 2
    while data[pos + 1] != 0xDA:
        markers.append(data[pos + 1])
        pos += 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
    return markers, data[pos:]


def png_chunk_types(data: bytes) -> list[bytes]:
    """Chunk types in order, asserting every CRC."""
    types, pos = [], 8
    while pos < len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind, payload = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        assert data[pos + 8 + length : pos + 12 + length] == zlib.crc32(kind + payload).to_bytes(4)
        types.append(kind)
        pos += 12 + length
    return types


def assert_clean(original: bytes, stripped: bytes) -> tuple[Image.Image, Image.Image]:
    before, after = decode(original), decode(stripped)
    assert after.tobytes() == before.tobytes()
    assert after.size == before.size
    assert after.info.get("icc_profile") == ICC
    exif = after.getexif()
    assert not exif.get_ifd(GPS_IFD)
    assert MAKE not in exif
    assert "comment" not in after.info
    for pattern in (*SECRETS, *LATITUDE):
        assert pattern not in stripped
    return before, after


# --- stripping ------------------------------------------------------------------------------


def test_jpeg_keeps_jfif_icc_orientation_and_the_image_data_byte_for_byte() -> None:
    # Given a JPEG with GPS Exif, XMP, a comment and an ICC profile
    original = jpeg_with_metadata()
    assert all(pattern in original for pattern in (*SECRETS, LATITUDE[0]))

    # When
    stripped = strip_metadata(original, "image/jpeg")

    # Then only a minimal Exif with the orientation is left; tables and scan are untouched
    _, after = assert_clean(original, stripped)
    assert dict(after.getexif()) == {ORIENTATION: 6}
    assert "xmp" not in after.info
    markers_before, scan_before = jpeg_markers(original)
    markers_after, scan_after = jpeg_markers(stripped)
    assert markers_before[:5] == [0xE0, 0xE1, 0xE1, 0xE2, 0xFE]
    assert markers_after == [0xE0, 0xE1, 0xE2, *markers_before[5:]]
    assert scan_after == scan_before


def test_jpeg_with_default_orientation_gets_no_exif_at_all() -> None:
    original = jpeg_with_metadata(orientation=1)

    stripped = strip_metadata(original, "image/jpeg")

    assert_clean(original, stripped)
    assert 0xE1 not in jpeg_markers(stripped)[0]
    assert "exif" not in decode(stripped).info


def test_jpeg_orientation_only_in_xmp_is_kept_as_exif() -> None:
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/" tiff:Orientation="8" photoshop:City="Berlin"/>'
    original = encode(picture(), "JPEG", xmp=xmp)

    stripped = strip_metadata(original, "image/jpeg")

    assert b"Berlin" not in stripped
    assert dict(decode(stripped).getexif()) == {ORIENTATION: 8}


def test_png_drops_text_and_exif_chunks_and_keeps_icc_and_orientation() -> None:
    original = png_with_metadata()
    assert {b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"iCCP"} <= set(png_chunk_types(original))

    stripped = strip_metadata(original, "image/png")

    _, after = assert_clean(original, stripped)
    assert png_chunk_types(stripped) == [b"IHDR", b"iCCP", b"eXIf", b"IDAT", b"IEND"]
    assert dict(after.getexif()) == {ORIENTATION: 6}
    assert not {"Comment", "Location", "XML:com.adobe.xmp"} & set(after.info)


def test_webp_drops_exif_and_xmp_chunks_and_fixes_the_header() -> None:
    original = webp_with_metadata()

    stripped = strip_metadata(original, "image/webp")

    _, after = assert_clean(original, stripped)
    assert dict(after.getexif()) == {ORIENTATION: 6}
    assert "xmp" not in after.info
    assert int.from_bytes(stripped[4:8], "little") == len(stripped) - 8
    assert stripped[12:16] == b"VP8X"
    assert stripped[20] & 0x04 == 0  # XMP flag cleared
    assert stripped[20] & 0x08  # EXIF flag kept: the orientation-only EXIF chunk


def test_heic_metadata_items_are_blanked_in_place() -> None:
    original = heic_with_metadata()

    stripped = strip_metadata(original, "image/heic")

    # Same length and layout: only the Exif and XMP payloads changed
    before, after = assert_clean(original, stripped)
    assert len(stripped) == len(original)
    assert after.size == before.size == (72, 96)  # irot still applied by the decoder
    assert after.info["original_orientation"] == 6
    assert after.info["xmp"].strip() == b'<x:xmpmeta xmlns:x="adobe:ns:meta/"/>'
    heif = pi_heif.open_heif(io.BytesIO(stripped))
    assert heif.info["icc_profile"] == ICC


def test_gif_drops_comment_and_xmp_extensions() -> None:
    original = gif_with_metadata()

    stripped = strip_metadata(original, "image/gif")

    assert decode(stripped).tobytes() == decode(original).tobytes()
    assert "comment" not in decode(stripped).info
    for pattern in (*SECRETS, b"XMP DataXMP"):
        assert pattern not in stripped
    xmp_extension = 3 + len(b"XMP DataXMP") + len(XMP) + 258
    comment_extension = 2 + 1 + len(b"secret comment") + 1
    assert len(stripped) == len(original) - xmp_extension - comment_extension


WITH_METADATA = {
    "image/jpeg": jpeg_with_metadata,
    "image/png": png_with_metadata,
    "image/gif": gif_with_metadata,
    "image/webp": webp_with_metadata,
    "image/heic": heic_with_metadata,
}


@pytest.mark.parametrize("content_type", WITH_METADATA)
def test_stripping_twice_changes_nothing_more(content_type: str) -> None:
    once = strip_metadata(WITH_METADATA[content_type](), content_type)

    assert strip_metadata(once, content_type) == once


PLAIN = {
    "image/jpeg": images.jpeg_bytes,
    "image/png": images.png_bytes,
    "image/gif": images.gif_bytes,
    "image/webp": images.webp_bytes,
    "image/heic": images.heic_bytes,
    "image/heif": images.heif_bytes,
}


@pytest.mark.parametrize("content_type", PLAIN)
def test_a_file_without_metadata_comes_back_as_the_same_bytes(content_type: str) -> None:
    data = PLAIN[content_type]()

    assert strip_metadata(data, content_type) is data


# --- dimensions -----------------------------------------------------------------------------

SIZED = {
    "jpeg": ("image/jpeg", lambda: encode(picture((130, 70)), "JPEG")),
    "progressive jpeg": ("image/jpeg", lambda: encode(picture(), "JPEG", progressive=True)),
    "jpeg with metadata": ("image/jpeg", jpeg_with_metadata),
    "png": ("image/png", lambda: encode(picture((130, 70)), "PNG")),
    "gif": ("image/gif", lambda: encode(picture((130, 70)), "GIF")),
    "webp lossy (VP8)": ("image/webp", lambda: encode(picture((130, 70)), "WEBP")),
    "webp lossless (VP8L)": ("image/webp", lambda: encode(picture(), "WEBP", lossless=True)),
    "webp extended (VP8X)": ("image/webp", webp_with_metadata),
    "heic": ("image/heic", lambda: encode(picture((130, 70)), "HEIF")),
    "heif": ("image/heif", images.heif_bytes),
    **{f"plain {kind}": (kind, build) for kind, build in PLAIN.items() if "hei" not in kind},
}


@pytest.mark.parametrize("case", SIZED)
def test_dimensions_match_pillows(case: str) -> None:
    content_type, build = SIZED[case]
    data = build()

    width, height = read_dimensions(data, content_type)

    if case == "heif":  # a 16x12 picture, coded padded to 64x64 and cropped by `clap`
        assert (width, height) == (64, 64)
        assert decode(data).size == (16, 12)
    else:
        assert (width, height) == decode(data).size


def test_heif_size_is_the_coded_size_before_rotation() -> None:
    data = heic_with_metadata()  # irot turns the 96x72 picture upright

    assert read_dimensions(data, "image/heic") == (96, 72)
    assert decode(data).size == (72, 96)


def test_gif_frame_reaching_past_the_screen_counts() -> None:
    data = bytearray(images.gif_bytes())  # 16x12 screen and frame
    data[6:10] = (8).to_bytes(2, "little") + (6).to_bytes(2, "little")

    assert read_dimensions(bytes(data), "image/gif") == (16, 12)


def png_header(width: int, height: int) -> bytes:
    """A PNG that is all header: IHDR, then IEND (a structure must end for its size to count)."""
    ihdr = width.to_bytes(4) + height.to_bytes(4) + bytes((8, 2, 0, 0, 0))
    chunk = b"IHDR" + ihdr
    iend = bytes(4) + b"IEND" + zlib.crc32(b"IEND").to_bytes(4)
    return b"\x89PNG\r\n\x1a\n" + (13).to_bytes(4) + chunk + zlib.crc32(chunk).to_bytes(4) + iend


def patched(data: bytes, marker: bytes, skip: int, value: bytes, times: int = 1) -> bytes:
    """`data` with `value` written `skip` bytes after each `marker`, at most `times` times."""
    out, pos = bytearray(data), 0
    for _ in range(times):
        pos = out.index(marker, pos) + len(marker)
        out[pos + skip : pos + skip + len(value)] = value
    return bytes(out)


BIG = (20000).to_bytes(2, "little")
BOMBS = {
    "png": ("image/png", lambda: png_header(20000, 20000)),
    "jpeg": (
        "image/jpeg",
        lambda: patched(images.jpeg_bytes(), b"\xff\xc0", 3, (20000).to_bytes(2) * 2),
    ),
    "gif": ("image/gif", lambda: images.gif_bytes()[:6] + BIG * 2 + images.gif_bytes()[10:]),
    "webp": (
        "image/webp",
        lambda: patched(webp_with_metadata(), b"VP8X", 8, (19999).to_bytes(3, "little") * 2),
    ),
    "heic": (
        "image/heic",
        lambda: patched(images.heic_bytes(), b"ispe", 4, (20000).to_bytes(4) * 2),
    ),
}


@pytest.mark.parametrize("case", BOMBS)
def test_a_header_claiming_20000_px_a_side_is_refused(case: str) -> None:
    content_type, build = BOMBS[case]

    size = read_dimensions(build(), content_type)

    assert size == (20000, 20000)
    with pytest.raises(UnsupportedMediaType) as caught:
        check_dimensions(*size)
    assert caught.value.message == BOMB_MESSAGE


@pytest.mark.parametrize(
    ("width", "height", "allowed"),
    [
        (16384, 6000, True),
        (6000, 16384, True),
        (10000, 10000, True),  # exactly 100 megapixels
        (16385, 1, False),
        (1, 16385, False),
        (10001, 10001, False),  # over 100 megapixels
        (16384, 16384, False),
    ],
)
def test_dimension_limits(width: int, height: int, allowed: bool) -> None:
    assert (MAX_SIDE, MAX_PIXELS) == (16384, 100_000_000)
    if allowed:
        check_dimensions(width, height)
    else:
        with pytest.raises(UnsupportedMediaType, match=f"^Image is {width}x{height} px;"):
            check_dimensions(width, height)


def test_limit_message() -> None:
    with pytest.raises(UnsupportedMediaType) as caught:
        check_dimensions(20000, 100)

    assert caught.value.message == (
        "Image is 20000x100 px; the maximum is 16384 px a side and 100 megapixels"
    )


# --- malformed input ------------------------------------------------------------------------

TYPES = ["image/jpeg", "image/png", "image/gif", "image/webp", "image/heic", "image/heif"]


@pytest.mark.parametrize("content_type", TYPES)
@pytest.mark.parametrize(
    "data",
    [b"", b"\x00" * 64, bytes(range(256)), b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF89a\x10"],
    ids=["empty", "zeros", "garbage", "jpeg-soi", "png-signature", "gif-signature"],
)
def test_garbage_is_refused(content_type: str, data: bytes) -> None:
    with pytest.raises(UnsupportedMediaType):
        read_dimensions(data, content_type)
    with pytest.raises(UnsupportedMediaType):
        strip_metadata(data, content_type)


@pytest.mark.parametrize("content_type", WITH_METADATA)
def test_a_file_cut_inside_its_header_is_refused(content_type: str) -> None:
    data = WITH_METADATA[content_type]()

    for cut in (4, 12, 20, 30):
        with pytest.raises(UnsupportedMediaType):
            read_dimensions(data[:cut], content_type)
        with pytest.raises(UnsupportedMediaType):
            strip_metadata(data[:cut], content_type)


def test_a_file_cut_before_its_image_data_is_refused() -> None:
    jpeg = jpeg_with_metadata()
    png = png_with_metadata()

    with pytest.raises(UnsupportedMediaType, match="JPEG"):
        strip_metadata(jpeg[: jpeg.index(b"\xff\xda")], "image/jpeg")
    with pytest.raises(UnsupportedMediaType, match="PNG"):
        strip_metadata(png[:-1], "image/png")  # no complete IEND


@pytest.mark.parametrize("content_type", WITH_METADATA)
def test_damaged_files_raise_only_unsupported_media_type(content_type: str) -> None:
    # Every truncation and a few hundred random byte changes: a result or a 415, nothing else.
    data = WITH_METADATA[content_type]()
    rng = random.Random(content_type)
    damaged = [data[:cut] for cut in range(len(data))]
    for _ in range(300):
        flipped = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            flipped[rng.randrange(min(len(data), 1500))] = rng.randrange(256)
        damaged.append(bytes(flipped))

    for sample in damaged:
        for operation in (read_dimensions, strip_metadata):
            with contextlib.suppress(UnsupportedMediaType):
                operation(sample, content_type)


def test_an_unknown_type_is_refused() -> None:
    with pytest.raises(UnsupportedMediaType, match="image/bmp"):
        read_dimensions(images.bmp_bytes(), "image/bmp")
    with pytest.raises(UnsupportedMediaType, match="image/bmp"):
        strip_metadata(images.bmp_bytes(), "image/bmp")
