"""Upload validation: size, MIME type, file extension and magic number agree on one type.

One file: the validation matrix (size, MIME type, extension, magic number) is one set of
parametrized tables over the one `validate` call.

What a client sees for each case: the stored content type and extension when accepted, and
the HTTP status plus the exact message when refused.
"""

from __future__ import annotations

import random
import unicodedata

import pytest

from profile_photos.api.web import status_and_code
from profile_photos.errors import ServiceError
from profile_photos.settings import DEFAULT_ALLOWED_EXTENSIONS
from profile_photos.validation import (
    check_declared,
    sanitize_file_name,
    sniff_content_type,
    validate_image,
)
from testkit import images
from testkit.images import ftyp_box

MAX = 5_242_880
ALLOWED = "jpg, jpeg, png, gif, webp, heic, heif"
NOT_AN_IMAGE = (
    "File content is not a recognised image: its leading bytes (magic number) match none of "
    "the allowed types. Allowed types: {allowed}"
)

IMAGES = {
    "jpeg": images.jpeg_bytes,
    "png": images.png_bytes,
    "gif": images.gif_bytes,
    "webp": images.webp_bytes,
    "heic": images.heic_bytes,
    "heif": images.heif_bytes,
}
CANONICAL = {
    "jpeg": ("image/jpeg", "jpg"),
    "png": ("image/png", "png"),
    "gif": ("image/gif", "gif"),
    "webp": ("image/webp", "webp"),
    "heic": ("image/heic", "heic"),
    "heif": ("image/heif", "heif"),
}
# Random bytes that, with this seed, start with no known magic number (checked below).
RANDOM_BYTES = random.Random(20240229).randbytes(2048)


def validate(
    data: bytes,
    name: str | None,
    mime: str | None,
    *,
    allowed: tuple[str, ...] = DEFAULT_ALLOWED_EXTENSIONS,
    max_size: int = MAX,
):
    return validate_image(
        data, file_name=name, content_type=mime, max_size=max_size, allowed_extensions=allowed
    )


def refusal(data: bytes, name: str | None, mime: str | None, **kwargs) -> tuple[int, str]:
    """The HTTP status and message a client gets for this upload."""
    with pytest.raises(ServiceError) as caught:
        validate(data, name, mime, **kwargs)
    status, code = status_and_code(caught.value)
    assert code == "VALIDATION_FAILED"
    return status, caught.value.message


# --- accepted ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "name", "mime", "content_type", "extension"),
    [
        ("jpeg", "me.jpg", "image/jpeg", "image/jpeg", "jpg"),
        ("jpeg", "me.jpeg", "image/jpeg", "image/jpeg", "jpg"),
        ("jpeg", "ME.JPEG", "IMAGE/JPEG", "image/jpeg", "jpg"),
        ("jpeg", "me.jpg", "image/jpg", "image/jpeg", "jpg"),
        ("jpeg", "me.jpeg", "image/pjpeg", "image/jpeg", "jpg"),
        ("jpeg", "me.jpg", "image/jpeg; charset=binary", "image/jpeg", "jpg"),
        ("png", "me.png", "image/png", "image/png", "png"),
        ("png", "me.png", "image/x-png", "image/png", "png"),
        ("gif", "me.gif", "image/gif", "image/gif", "gif"),
        ("webp", "me.webp", "image/webp", "image/webp", "webp"),
        ("heic", "me.heic", "image/heic", "image/heic", "heic"),
        ("heif", "me.heif", "image/heif", "image/heif", "heif"),
        # HEIC is HEIF with HEVC images: one family, so an iPhone photo named .heif is fine
        ("heic", "me.heif", "image/heif", "image/heif", "heif"),
        ("heif", "me.heic", "image/heic", "image/heic", "heic"),
    ],
)
def test_each_allowed_type_is_accepted_with_its_canonical_type_and_stored_extension(
    kind: str, name: str, mime: str, content_type: str, extension: str
) -> None:
    # Given real image bytes whose name, MIME type and magic number agree
    data = IMAGES[kind]()

    # When they are validated
    image = validate(data, name, mime)

    # Then the stored type and extension are the canonical ones
    assert (image.content_type, image.extension) == (content_type, extension)
    assert image.file_name == name


@pytest.mark.parametrize("mime", [None, "", "application/octet-stream", "binary/octet-stream"])
@pytest.mark.parametrize("kind", list(IMAGES))
def test_a_generic_or_absent_mime_type_is_accepted_when_extension_and_magic_agree(
    kind: str, mime: str | None
) -> None:
    # Given a file sent without a specific type (Flutter's MultipartFile.fromPath default)
    name = f"photo.{CANONICAL[kind][1]}"

    # When it is validated
    image = validate(IMAGES[kind](), name, mime)

    # Then the type comes from the extension, confirmed by the magic number
    assert (image.content_type, image.extension) == CANONICAL[kind]


def test_a_jpeg_extension_sent_as_octet_stream_is_stored_as_jpg() -> None:
    image = validate(images.jpeg_bytes(), "holiday.JPEG", "application/octet-stream")

    assert (image.content_type, image.extension) == ("image/jpeg", "jpg")


def test_the_file_name_is_kept_only_in_sanitised_form() -> None:
    # Given a client file name that tries to walk out of its directory
    image = validate(images.png_bytes(), "../../etc/passwd.png", "image/png")

    # Then only the last segment survives, as metadata
    assert (image.file_name, image.extension) == ("passwd.png", "png")


# --- size ----------------------------------------------------------------------------------


def test_a_file_of_exactly_the_maximum_size_is_accepted() -> None:
    # Given a real JPEG padded to exactly 5 MiB
    data = images.jpeg_bytes() + bytes(MAX - len(images.jpeg_bytes()))
    assert len(data) == MAX

    # Then it is accepted
    assert validate(data, "big.jpg", "image/jpeg").content_type == "image/jpeg"


@pytest.mark.parametrize("size", [MAX + 1, MAX + 4096, 2 * MAX])
def test_a_file_over_the_limit_is_400_with_the_contract_message(size: int) -> None:
    # Given a real JPEG padded past the limit
    data = images.jpeg_bytes() + bytes(size - len(images.jpeg_bytes()))

    # Then the client is told the size it sent and the limit
    assert refusal(data, "big.jpg", "image/jpeg") == (
        400,
        f"File size {size} exceeds maximum 5242880 bytes for profile photos",
    )


def test_size_is_checked_before_type() -> None:
    # Given an oversized file that is also of a refused type
    data = images.bmp_bytes() + bytes(MAX)

    # Then the size is what the client hears about
    assert refusal(data, "big.bmp", "image/bmp") == (
        400,
        f"File size {len(data)} exceeds maximum 5242880 bytes for profile photos",
    )


def test_the_limit_comes_from_the_configured_maximum() -> None:
    data = images.png_bytes()

    assert refusal(data, "a.png", "image/png", max_size=len(data) - 1) == (
        400,
        f"File size {len(data)} exceeds maximum {len(data) - 1} bytes for profile photos",
    )
    assert validate(data, "a.png", "image/png", max_size=len(data)).extension == "png"


@pytest.mark.parametrize(
    ("name", "mime"),
    [("me.jpg", "image/jpeg"), ("me.png", None), (None, None), ("me.bmp", "image/bmp")],
)
def test_an_empty_file_is_400(name: str | None, mime: str | None) -> None:
    assert refusal(b"", name, mime) == (400, "File is empty")


def test_announced_size_is_checked_like_received_bytes() -> None:
    # Given a direct upload announcing one byte more than the limit
    with pytest.raises(ServiceError) as caught:
        check_declared(
            MAX + 1,
            file_name="a.jpg",
            content_type="image/jpeg",
            max_size=MAX,
            allowed_extensions=DEFAULT_ALLOWED_EXTENSIONS,
        )

    # Then it is refused exactly like an upload of that size
    assert status_and_code(caught.value) == (400, "VALIDATION_FAILED")
    assert caught.value.message == (
        f"File size {MAX + 1} exceeds maximum 5242880 bytes for profile photos"
    )


# --- type refusals (415), each naming the check that failed --------------------------------


@pytest.mark.parametrize(
    ("data", "name", "mime", "message"),
    [
        # the declared MIME type is not an allowed one
        pytest.param(
            images.bmp_bytes(),
            "a.bmp",
            "image/bmp",
            f"Content type image/bmp not allowed. Allowed types: {ALLOWED}",
            id="bmp",
        ),
        pytest.param(
            images.png_bytes(),
            "a.png",
            "image/svg+xml",
            f"Content type image/svg+xml not allowed. Allowed types: {ALLOWED}",
            id="svg-mime",
        ),
        pytest.param(
            images.heif_bytes(),
            "a.heif",
            "image/avif",
            f"Content type image/avif not allowed. Allowed types: {ALLOWED}",
            id="avif-mime",
        ),
        pytest.param(
            images.jpeg_bytes(),
            "a.jpg",
            "text/html",
            f"Content type text/html not allowed. Allowed types: {ALLOWED}",
            id="html-mime",
        ),
        # the file name's extension is not an allowed one
        pytest.param(
            images.jpeg_bytes(),
            "a.bmp",
            "image/jpeg",
            f"File extension .bmp not allowed. Allowed types: {ALLOWED}",
            id="bmp-extension",
        ),
        pytest.param(
            images.bmp_bytes(),
            "a.bmp",
            "application/octet-stream",
            f"File extension .bmp not allowed. Allowed types: {ALLOWED}",
            id="bmp-extension-generic-mime",
        ),
        pytest.param(
            images.jpeg_bytes(),
            "photo.jpg.exe",
            None,
            f"File extension .exe not allowed. Allowed types: {ALLOWED}",
            id="double-extension",
        ),
        # the file name has no extension
        *(
            pytest.param(
                images.jpeg_bytes(),
                name,
                "image/jpeg",
                f"File name must end with an allowed extension. Allowed types: {ALLOWED}",
                id=f"no-extension-{name!r}",
            )
            for name in ("photo", "photo.", ".jpg", "", None, "photos/")
        ),
        # the MIME type and the extension disagree
        pytest.param(
            images.png_bytes(),
            "a.jpg",
            "image/png",
            "File extension .jpg does not match content type image/png",
            id="mime-vs-extension",
        ),
        pytest.param(
            images.gif_bytes(),
            "a.gif",
            "image/webp",
            "File extension .gif does not match content type image/webp",
            id="mime-vs-extension-webp",
        ),
        pytest.param(
            images.heic_bytes(),
            "a.heic",
            "image/jpg",
            "File extension .heic does not match content type image/jpeg",
            id="alias-vs-extension",
        ),
        # the magic number disagrees with what was declared
        pytest.param(
            images.png_bytes(),
            "a.jpg",
            "image/jpeg",
            "File content (magic number) is image/png, which does not match the content type "
            "image/jpeg",
            id="png-bytes-named-jpg",
        ),
        pytest.param(
            images.jpeg_bytes(),
            "a.heic",
            "image/heic",
            "File content (magic number) is image/jpeg, which does not match the content type "
            "image/heic",
            id="jpeg-bytes-named-heic",
        ),
        pytest.param(
            images.heic_bytes(),
            "a.jpg",
            "image/jpeg",
            "File content (magic number) is image/heic, which does not match the content type "
            "image/jpeg",
            id="heic-bytes-named-jpg",
        ),
        pytest.param(
            images.gif_bytes(),
            "a.png",
            None,
            "File content (magic number) is image/gif, which does not match the file "
            "extension .png",
            id="gif-bytes-named-png-no-mime",
        ),
        pytest.param(
            images.webp_bytes(),
            "a.JPEG",
            "application/octet-stream",
            "File content (magic number) is image/webp, which does not match the file "
            "extension .jpeg",
            id="webp-bytes-named-jpeg-generic-mime",
        ),
        # the leading bytes are no allowed image at all
        pytest.param(
            RANDOM_BYTES,
            "a.jpg",
            "image/jpeg",
            NOT_AN_IMAGE.format(allowed=ALLOWED),
            id="random-bytes",
        ),
        pytest.param(
            images.bmp_bytes(),
            "a.png",
            "image/png",
            NOT_AN_IMAGE.format(allowed=ALLOWED),
            id="bmp-bytes-named-png",
        ),
        pytest.param(
            b'<svg xmlns="http://www.w3.org/2000/svg"/>',
            "a.png",
            None,
            NOT_AN_IMAGE.format(allowed=ALLOWED),
            id="svg-named-png",
        ),
        pytest.param(
            b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n",
            "a.jpg",
            "image/jpeg",
            NOT_AN_IMAGE.format(allowed=ALLOWED),
            id="pdf",
        ),
        pytest.param(
            b"\xff\xd8" + bytes(64),
            "a.jpg",
            "image/jpeg",
            NOT_AN_IMAGE.format(allowed=ALLOWED),
            id="half-a-jpeg-magic",
        ),
        pytest.param(
            b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(32),
            "a.webp",
            "image/webp",
            NOT_AN_IMAGE.format(allowed=ALLOWED),
            id="riff-wave-named-webp",
        ),
        # ISO-BMFF files that are not HEIF images
        pytest.param(
            ftyp_box(b"avif", b"mif1", b"miaf", b"MA1B") + bytes(64),
            "a.heif",
            "image/heif",
            NOT_AN_IMAGE.format(allowed=ALLOWED),
            id="avif",
        ),
        pytest.param(
            ftyp_box(b"mif1", b"avif", b"miaf") + bytes(64),
            "a.heif",
            "image/heif",
            NOT_AN_IMAGE.format(allowed=ALLOWED),
            id="avif-as-compatible-brand",
        ),
        pytest.param(
            ftyp_box(b"avis", b"msf1", b"miaf") + bytes(64),
            "a.heic",
            None,
            NOT_AN_IMAGE.format(allowed=ALLOWED),
            id="avif-sequence",
        ),
        pytest.param(
            ftyp_box(b"isom", b"isom", b"mp41") + bytes(64),
            "a.heic",
            "image/heic",
            NOT_AN_IMAGE.format(allowed=ALLOWED),
            id="mp4-video",
        ),
        # broken ftyp boxes
        pytest.param(
            images.heic_bytes()[:20],
            "a.heic",
            "image/heic",
            NOT_AN_IMAGE.format(allowed=ALLOWED),
            id="ftyp-truncated",
        ),
        pytest.param(
            b"\x00\x00\x00\x00ftypheic\x00\x00\x00\x00mif1heic" + bytes(64),
            "a.heic",
            "image/heic",
            NOT_AN_IMAGE.format(allowed=ALLOWED),
            id="ftyp-size-zero",
        ),
        pytest.param(
            b"\x00\x00\x00\x19ftypheic\x00\x00\x00\x00mif1heic" + bytes(64),
            "a.heic",
            "image/heic",
            NOT_AN_IMAGE.format(allowed=ALLOWED),
            id="ftyp-size-not-a-brand-multiple",
        ),
        pytest.param(
            b"\xff\xff\xff\xffftypheic\x00\x00\x00\x00mif1heic" + bytes(64),
            "a.heic",
            "image/heic",
            NOT_AN_IMAGE.format(allowed=ALLOWED),
            id="ftyp-size-beyond-the-file",
        ),
        pytest.param(
            b"\x00\x00\x00\x18moovheic\x00\x00\x00\x00mif1heic" + bytes(64),
            "a.heic",
            "image/heic",
            NOT_AN_IMAGE.format(allowed=ALLOWED),
            id="not-an-ftyp-box",
        ),
        pytest.param(
            b"\x00\x00\x00\x08ftyp",
            "a.heif",
            "image/heif",
            NOT_AN_IMAGE.format(allowed=ALLOWED),
            id="ftyp-header-only",
        ),
    ],
)
def test_refused_types_are_415_and_say_which_check_failed(
    data: bytes, name: str | None, mime: str | None, message: str
) -> None:
    assert refusal(data, name, mime) == (415, message)


def test_the_random_bytes_fixture_really_has_no_known_magic_number() -> None:
    assert sniff_content_type(RANDOM_BYTES) is None


def test_a_nul_in_the_name_cannot_hide_the_real_extension() -> None:
    # Given PNG bytes whose name is `.png` only if the name were cut at the NUL
    data = images.png_bytes()

    # Then the extension that counts is the last one
    assert refusal(data, "photo.png\x00.jpg", None) == (
        415,
        "File content (magic number) is image/png, which does not match the file extension .jpg",
    )


# --- a restricted allow-list ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("allowed", "data", "name", "mime", "message"),
    [
        (
            ("png",),
            images.jpeg_bytes(),
            "a.jpg",
            "image/jpeg",
            "Content type image/jpeg not allowed. Allowed types: png",
        ),
        (
            ("png",),
            images.jpeg_bytes(),
            "a.jpg",
            None,
            "File extension .jpg not allowed. Allowed types: png",
        ),
        (
            ("png",),
            images.heic_bytes(),
            "a.heic",
            "image/heic",
            "Content type image/heic not allowed. Allowed types: png",
        ),
        (("png",), RANDOM_BYTES, "a.png", "image/png", NOT_AN_IMAGE.format(allowed="png")),
        (
            ("jpg", "png"),
            images.jpeg_bytes(),
            "a.jpeg",
            "image/jpeg",
            "File extension .jpeg not allowed. Allowed types: jpg, png",
        ),
        (
            ("png", "gif"),
            images.bmp_bytes(),
            "a.bmp",
            "image/bmp",
            "Content type image/bmp not allowed. Allowed types: png, gif",
        ),
    ],
)
def test_a_restricted_allow_list_is_enforced_and_named_in_the_message(
    allowed: tuple[str, ...], data: bytes, name: str, mime: str | None, message: str
) -> None:
    assert refusal(data, name, mime, allowed=allowed) == (415, message)


def test_a_restricted_allow_list_still_accepts_its_types() -> None:
    image = validate(images.png_bytes(), "a.png", "image/png", allowed=("png",))

    assert (image.content_type, image.extension) == ("image/png", "png")


# --- magic numbers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        *((build(), CANONICAL[kind][0]) for kind, build in IMAGES.items()),
        (images.bmp_bytes(), None),
        (b"GIF87a" + bytes(16), "image/gif"),
        (ftyp_box(b"heix", b"mif1", b"heix"), "image/heic"),
        (ftyp_box(b"mif1", b"mif1", b"heic"), "image/heic"),  # HEVC named as compatible
        (ftyp_box(b"msf1", b"msf1", b"hevc"), "image/heic"),  # HEIC image sequence
        (ftyp_box(b"mif1", b"mif1", b"miaf"), "image/heif"),
        (ftyp_box(b"mif1", b"miaf", b"avif"), None),
        (ftyp_box(b"avif", b"mif1", b"miaf"), None),
        (ftyp_box(b"avif", b"mif1", b"heic"), None),  # the major brand decides: AVIF
        (ftyp_box(b"qt  ", b"qt  "), None),
        (b"", None),
    ],
)
def test_magic_numbers(data: bytes, expected: str | None) -> None:
    assert sniff_content_type(data) == expected


# --- file names ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd.jpg", "passwd.jpg"),
        ("/etc/shadow.png", "shadow.png"),
        ("C:\\x\\y.png", "y.png"),
        ("..\\..\\boot.ini.gif", "boot.ini.gif"),
        ("a\x00b.jpg", "ab.jpg"),
        ("line\r\nbreak\t.jpg", "linebreak.jpg"),
        ("\x1b[31mred.png", "[31mred.png"),
        ("photo\u202egnp.jpg", "photognp.jpg"),  # right-to-left override hides the real name
        (".hidden.jpg", "hidden.jpg"),
        ("...jpg", "jpg"),
        ("  spaced out.jpg  ", "spaced out.jpg"),
        ("cafe\u0301.jpg", "caf\u00e9.jpg"),
        ("\u65e5\u672c.heic", "\u65e5\u672c.heic"),
        ("", ""),
        (None, ""),
    ],
)
def test_file_names_are_reduced_to_a_safe_last_segment(name: str | None, expected: str) -> None:
    assert sanitize_file_name(name) == expected


def test_file_names_are_nfc_normalised() -> None:
    name = sanitize_file_name("A\u030angstro\u0308m.png")

    assert name == "\u00c5ngstr\u00f6m.png"
    assert unicodedata.is_normalized("NFC", name)


@pytest.mark.parametrize(
    ("name", "extension"),
    [
        ("x" * 400 + ".jpeg", ".jpeg"),
        ("\u00e9" * 300 + ".png", ".png"),
        ("dir/" * 100 + "y" * 300 + ".webp", ".webp"),
        ("cafe\u0301" * 80 + ".heic", ".heic"),  # 400 chars before NFC, 320 after
    ],
)
def test_very_long_names_are_cut_to_255_characters_keeping_the_extension(
    name: str, extension: str
) -> None:
    clean = sanitize_file_name(name)

    assert len(clean) == 255
    assert clean.endswith(extension)


@pytest.mark.parametrize("name", ["z" * 400, "a." + "b" * 300])
def test_very_long_names_without_a_usable_extension_are_cut_to_255(name: str) -> None:
    assert sanitize_file_name(name) == name[:255]


def test_a_long_name_is_still_validated_by_its_extension() -> None:
    image = validate(images.gif_bytes(), "g" * 1000 + ".gif", "image/gif")

    assert (len(image.file_name), image.extension) == (255, "gif")
