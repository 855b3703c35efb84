"""Hardening of the image parsers (issue 9): bounded walks and the allowlist of what is kept.

One file: every parser's bounds and the metadata allowlist are checked against the same hostile
corpus and file builders, so each format's refusals read side by side.

Hostile files come from the parser corpus (testkit/parser_corpus.py, also on disk under
tests/corpus/parsers/); secondary images and trailers are real files written by Pillow with
location data in the part that must go. No timing here: speed is `make bench`'s (bench/
parsers.py); linearity is checked by counting work, which is deterministic.
"""

from __future__ import annotations

import io
import tracemalloc
import zlib

import pi_heif
import pytest
from PIL import Image, ImageCms

from profile_photos.errors import UnsupportedMediaType
from profile_photos.images import binary, exif, heif, read_dimensions, strip_metadata
from testkit import parser_corpus

pi_heif.register_heif_opener()  # HEIC decodes with what the imaging layer ships

ORIENTATION, MAKE, GPS_IFD = 0x0112, 0x010F, 0x8825
GPS_SECRET = b"SECRETDATUM"
INVALID = "Invalid image file:"
HOSTILE = {sample.name: sample for sample in parser_corpus.hostile()}
ATTACKS = ["heic-iloc-zero-length-extents", "heic-iloc-overlapping-whole-file-extents"]
# Samples whose defect is in a part only the header read looks at (stripping does not need
# a frame header, an IHDR of the right length or the property associations): upload reads the
# header first, so these are refused all the same.
HEADER_ONLY = {"jpeg-no-frame-header", "png-ihdr-wrong-length", "heic-ipma-absurd-entry-count"}
MINIMAL_EXIF_ALLOWANCE = 64  # the orientation-only Exif a strip may add (36-38 bytes)


def picture(size: tuple[int, int] = (96, 72), shade: int = 0) -> Image.Image:
    width, height = size
    image = Image.new("RGB", size)
    image.putdata(
        [
            (x * 2 % 256, (y * 3 + shade) % 256, (x + y) % 256)
            for y in range(height)
            for x in range(width)
        ]
    )
    return image


def gps_exif(orientation: int | None = None) -> Image.Exif:
    exif = Image.Exif()
    if orientation is not None:
        exif[ORIENTATION] = orientation
    exif[MAKE] = "SecretCam"
    exif[GPS_IFD] = {1: "N", 2: (52.0, 31.0, 17.0), 3: "E", 4: (13.0, 24.0, 5.0), 18: "SECRETDATUM"}
    return exif


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def pixels(data: bytes) -> bytes:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image.tobytes()


def jpeg_markers(data: bytes) -> list[int]:
    """Every marker of the primary image, scans walked over (0xFF00 and RSTn skipped)."""
    markers, pos = [], 2
    while pos < len(data):
        marker = data[pos + 1]
        markers.append(marker)
        if marker == 0xD9:
            break
        pos += 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
        if marker == 0xDA:
            while not (data[pos] == 0xFF and data[pos + 1] not in (0, *range(0xD0, 0xD8))):
                pos += 1
    return markers


def segment(marker: int, payload: bytes) -> bytes:
    return bytes((0xFF, marker)) + (len(payload) + 2).to_bytes(2, "big") + payload


def after_soi(jpeg: bytes, *segments: bytes) -> bytes:
    """`jpeg` with `segments` inserted after its first segment (the JFIF APP0)."""
    at = 4 + int.from_bytes(jpeg[4:6], "big")
    return jpeg[:at] + b"".join(segments) + jpeg[at:]


def assert_no_location(data: bytes) -> None:
    assert GPS_SECRET not in data
    assert b"SecretCam" not in data
    assert not Image.open(io.BytesIO(data)).getexif().get_ifd(GPS_IFD)


# --- bounded walks --------------------------------------------------------------------------


@pytest.mark.parametrize("name", HOSTILE)
def test_a_crafted_file_is_refused_as_invalid(name: str) -> None:
    sample = HOSTILE[name]

    with pytest.raises(UnsupportedMediaType) as read:
        read_dimensions(sample.data, sample.content_type)

    assert read.value.message.startswith(INVALID)
    assert "file structure is invalid" in read.value.message
    if name not in HEADER_ONLY:
        with pytest.raises(UnsupportedMediaType, match=f"^{INVALID}"):
            strip_metadata(sample.data, sample.content_type)


@pytest.mark.parametrize("name", ATTACKS)
def test_the_issue_9_heic_attacks_cost_work_linear_in_their_size(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the two HEIC files of issue 9 (2 KB declaring ~16 million zero-length extents; an
    # Exif item of ~2,000 extents, each the whole 16 KB file)
    sample = HOSTILE[name]
    reads = 0
    uint = binary.uint

    def counted(*args: object) -> int:
        nonlocal reads
        reads += 1
        return uint(*args)  # type: ignore[arg-type]

    for module in (heif, exif):  # every module a HEIF walk reads its fields in, through `uint`
        monkeypatch.setattr(module, "uint", counted)

    # When both are parsed, memory traced
    tracemalloc.start()
    try:
        for operation in (read_dimensions, strip_metadata):
            with pytest.raises(UnsupportedMediaType, match=f"^{INVALID}"):
                operation(sample.data, "image/heic")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    # Then they are refused after fewer field reads than the file has bytes, and in memory a
    # small multiple of the file (gathering the extents would take ~100 MB)
    assert reads < len(sample.data)
    assert peak < 16 * len(sample.data) + 64 * 1024


def test_the_corpus_on_disk_is_what_the_generator_builds() -> None:
    on_disk = {path.name: path.read_bytes() for path in parser_corpus.CORPUS_DIR.iterdir()}
    built = {sample.file_name: sample.data for sample in parser_corpus.hostile()}

    assert {name: data for name, data in on_disk.items() if name in built} == built
    assert set(built) <= set(on_disk), "run: python -m testkit.parser_corpus"


def test_overlapping_heic_metadata_items_are_refused_before_anything_is_blanked() -> None:
    # Two Exif entries for the same bytes: each extent is fine alone, together they overlap
    data = parser_corpus.heic(
        lambda at: parser_corpus.iloc([(1, [(at, 4)]), (2, [(at + 8, 8)]), (2, [(at + 12, 8)])])
    )

    with pytest.raises(UnsupportedMediaType, match="overlap"):
        strip_metadata(data, "image/heic")


def test_a_heic_skeleton_with_well_formed_extents_is_accepted_and_its_exif_blanked() -> None:
    # The corpus's skeleton is a valid structure: only the defects make it invalid
    exif = b"\x00\x00\x00\x00" + b"MM\x00\x2a" + bytes(4) + GPS_SECRET
    data = parser_corpus.heic(
        lambda at: parser_corpus.iloc([(1, [(at, 4)]), (2, [(at + 4, len(exif))])]),
        mdat=b"\x00\x00\x00\x01" + exif + bytes(16),
    )

    stripped = strip_metadata(data, "image/heic")

    assert read_dimensions(data, "image/heic") == (64, 64)
    assert len(stripped) == len(data)
    assert GPS_SECRET in data
    assert GPS_SECRET not in stripped


# --- the allowlist: secondary images, trailers, JUMBF ----------------------------------------


def test_mpo_second_frame_with_gps_is_dropped_and_the_primary_kept() -> None:
    # Given a real MPO (a phone's gain map / a 3D camera's second view): the primary has an
    # orientation, the second frame carries GPS
    primary, second = picture(), picture(shade=90)
    second.encoderinfo = {"exif": gps_exif(orientation=1).tobytes()}
    original = encode(primary, "MPO", save_all=True, append_images=[second], exif=gps_exif(6))
    opened = Image.open(io.BytesIO(original))
    assert opened.format == "MPO"
    assert opened.n_frames == 2
    assert original.count(GPS_SECRET) == 2
    assert b"MPF\x00" in original

    # When
    stripped = strip_metadata(original, "image/jpeg")

    # Then one image is left: no MPF index, no second frame, no GPS; orientation kept
    assert_no_location(stripped)
    assert b"MPF\x00" not in stripped
    assert stripped.count(b"\xff\xd8") == 1
    assert stripped.endswith(b"\xff\xd9")
    after = Image.open(io.BytesIO(stripped))
    assert after.format == "JPEG"
    assert getattr(after, "n_frames", 1) == 1
    assert dict(after.getexif()) == {ORIENTATION: 6}
    assert pixels(stripped) == pixels(original)  # frame 0 of the MPO


def test_motion_photo_video_after_the_jpeg_is_dropped() -> None:
    # Given a Motion-Photo-style file: a JPEG, then an MP4 whose moov holds a location
    jpeg = encode(picture(), "JPEG", quality=90, exif=gps_exif(3))
    location = b"\x00\x12\x15\xc7+52.5200+013.4050/"
    mp4 = parser_corpus.box(b"ftyp", b"mp42\x00\x00\x00\x00isommp42")
    mp4 += parser_corpus.box(b"moov", parser_corpus.box(b"udta", location + GPS_SECRET))
    mp4 += parser_corpus.box(b"mdat", bytes(range(256)) * 8)
    original = jpeg + mp4

    stripped = strip_metadata(original, "image/jpeg")

    assert_no_location(stripped)
    assert b"ftyp" not in stripped
    assert b"+52.5200" not in stripped
    assert stripped.endswith(b"\xff\xd9")
    assert dict(Image.open(io.BytesIO(stripped)).getexif()) == {ORIENTATION: 3}
    assert pixels(stripped) == pixels(jpeg)


@pytest.mark.parametrize(
    ("content_type", "fmt", "options"),
    [
        ("image/jpeg", "JPEG", {"quality": 90}),
        ("image/jpeg", "JPEG", {"quality": 90, "progressive": True}),
        ("image/jpeg", "JPEG", {"quality": 90, "restart_marker_blocks": 1}),
        ("image/png", "PNG", {}),
        ("image/gif", "GIF", {}),
        ("image/webp", "WEBP", {"lossless": True}),
        ("image/webp", "WEBP", {"quality": 80}),
    ],
    ids=["jpeg", "progressive-jpeg", "jpeg-restart-markers", "png", "gif", "webp-vp8l", "webp"],
)
def test_a_trailer_after_the_image_is_dropped_and_zero_padding_kept(
    content_type: str, fmt: str, options: dict[str, object]
) -> None:
    # Given an image with no metadata, then a trailer holding a location
    image = encode(picture(), fmt, **options)
    trailer = b"GPS\x00" + GPS_SECRET + b"\xff\xd9\xff\xd8" + bytes(range(256))

    # When the trailer, or only zero padding, follows the image
    stripped = strip_metadata(image + trailer, content_type)
    padded = image + bytes(1000)

    # Then the trailer is gone and the image is what it was; padding carries nothing: kept
    assert stripped == image
    assert pixels(stripped) == pixels(image + trailer)
    assert strip_metadata(padded, content_type) is padded
    assert strip_metadata(image, content_type) is image


def test_a_trailer_and_metadata_go_together_padding_stays() -> None:
    original = encode(picture(), "JPEG", exif=gps_exif(6))

    stripped = strip_metadata(original + bytes(50), "image/jpeg")

    assert_no_location(stripped)
    assert stripped.endswith(b"\xff\xd9" + bytes(50))


@pytest.mark.filterwarnings("ignore:.*(EXIF|MPO).*:UserWarning")  # the original's junk MPF
def test_jpeg_app11_jumbf_mpf_and_unknown_app_segments_are_dropped_icc_and_adobe_kept() -> None:
    # Given a JPEG with an ICC profile, then APP11 (a JUMBF/C2PA box), an APP2 MPF index,
    # an APP14 Adobe segment, an APP3, and an APP0 JFXX thumbnail extension
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    jpeg = encode(picture(), "JPEG", quality=90, icc_profile=profile)
    jumbf = b"JP\x00\x01\x00\x00\x00\x01" + parser_corpus.box(b"jumb", b"c2pa" + GPS_SECRET)
    adobe = segment(0xEE, b"Adobe\x00\x64\x00\x00\x00\x00\x01")
    original = after_soi(
        jpeg,
        segment(0xEB, jumbf),
        segment(0xE2, b"MPF\x00II*\x00" + GPS_SECRET),
        adobe,
        segment(0xE3, b"META" + GPS_SECRET),
        segment(0xE0, b"JFXX\x00\x10" + bytes(8)),
    )
    assert {0xEB, 0xE3, 0xEE} <= set(jpeg_markers(original))

    stripped = strip_metadata(original, "image/jpeg")

    markers = jpeg_markers(stripped)
    assert GPS_SECRET not in stripped
    assert 0xEB not in markers
    assert 0xE3 not in markers
    assert b"MPF\x00" not in stripped
    assert b"JFXX" not in stripped
    assert adobe in stripped
    assert Image.open(io.BytesIO(stripped)).info["icc_profile"] == profile
    assert markers.count(0xE0) == 1  # the JFIF APP0
    assert pixels(stripped) == pixels(original)


def test_jfif_thumbnail_is_dropped_and_the_jfif_header_kept() -> None:
    jpeg = encode(picture(), "JPEG", quality=90)
    assert jpeg[6:11] == b"JFIF\x00"
    thumbnail = bytes((2, 2)) + bytes(range(12))  # a 2x2 RGB thumbnail
    app0 = segment(0xE0, jpeg[6:18] + thumbnail)
    original = jpeg[:2] + app0 + jpeg[4 + int.from_bytes(jpeg[4:6], "big") :]

    stripped = strip_metadata(original, "image/jpeg")

    assert (
        stripped == jpeg[:2] + segment(0xE0, jpeg[6:18] + b"\x00\x00") + original[len(app0) + 2 :]
    )
    assert pixels(stripped) == pixels(original)


def test_metadata_between_progressive_scans_is_dropped_and_the_scans_kept() -> None:
    # Given a progressive JPEG (several scans, tables between them) with a comment and an
    # APP1 placed between two scans, and an RSTn-free scan containing stuffed 0xFF00 bytes
    jpeg = encode(picture(), "JPEG", quality=95, progressive=True)
    second_scan = jpeg.index(b"\xff\xda", jpeg.index(b"\xff\xda") + 2)
    between = segment(0xFE, b"secret comment") + segment(0xE1, b"Exif\x00\x00" + GPS_SECRET)
    original = jpeg[:second_scan] + between + jpeg[second_scan:]
    assert jpeg_markers(jpeg).count(0xDA) > 2

    stripped = strip_metadata(original, "image/jpeg")

    assert stripped == jpeg
    assert pixels(stripped) == pixels(original)


def test_png_keeps_only_its_allowlisted_chunks_to_iend() -> None:
    png = encode(picture(), "PNG")

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return (
            len(payload).to_bytes(4, "big")
            + kind
            + payload
            + zlib.crc32(kind + payload).to_bytes(4)
        )

    ihdr_end = 8 + 25
    extra = chunk(b"caBX", b"jumb" + GPS_SECRET) + chunk(b"tIME", bytes(7))
    extra += chunk(b"prVt", GPS_SECRET) + chunk(b"pHYs", bytes(9))
    original = png[:ihdr_end] + extra + png[ihdr_end:] + b"trailer" + GPS_SECRET

    stripped = strip_metadata(original, "image/png")

    assert stripped == png[:ihdr_end] + chunk(b"pHYs", bytes(9)) + png[ihdr_end:]
    assert pixels(stripped) == pixels(png)


def test_gif_keeps_looping_and_drops_other_application_extensions() -> None:
    frames = [picture((32, 24)), picture((32, 24), shade=100)]
    gif = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], loop=0)
    assert b"NETSCAPE2.0" in gif
    at = gif.index(b"\x21\xff\x0bNETSCAPE2.0")
    iptc = b"\x21\xff\x0bMGK8BIM0000" + bytes((len(GPS_SECRET),)) + GPS_SECRET + b"\x00"
    original = gif[:at] + iptc + gif[at:]

    stripped = strip_metadata(original, "image/gif")

    assert stripped == gif
    assert Image.open(io.BytesIO(stripped)).info["loop"] == 0


def test_webp_drops_unknown_chunks_and_bytes_past_its_riff_size() -> None:
    webp = encode(picture(), "WEBP", lossless=True, exif=gps_exif(6))
    c2pa = b"C2PA" + len(GPS_SECRET).to_bytes(4, "little") + GPS_SECRET + b"\x00"
    grown = webp + c2pa
    original = (
        grown[:4] + (len(grown) - 8).to_bytes(4, "little") + grown[8:] + b"trailer" + GPS_SECRET
    )

    stripped = strip_metadata(original, "image/webp")

    assert GPS_SECRET not in stripped
    assert int.from_bytes(stripped[4:8], "little") == len(stripped) - 8
    assert dict(Image.open(io.BytesIO(stripped)).getexif()) == {ORIENTATION: 6}
    assert pixels(stripped) == pixels(webp)


# --- a bounded fuzz -------------------------------------------------------------------------


@pytest.mark.parametrize("content_type", list(parser_corpus.bases()))
def test_mutants_are_stripped_or_refused_and_never_grow(content_type: str) -> None:
    # A few hundred seeded mutants in all: a 415 or a result, no other exception; a file the
    # header read accepts is one the strip accepts (refused before it is charged); a strip
    # adds at most the orientation-only Exif.
    base = parser_corpus.bases()[content_type]
    for mutant in parser_corpus.mutants(base, f"unit-{content_type}", 80):
        try:
            read_dimensions(mutant, content_type)
        except UnsupportedMediaType:
            accepted = False
        else:
            accepted = True
        try:
            stripped = strip_metadata(mutant, content_type)
        except UnsupportedMediaType:
            assert not accepted
        else:
            assert len(stripped) <= len(mutant) + MINIMAL_EXIF_ALLOWANCE
