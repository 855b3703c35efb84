"""Upload validation: size, MIME type, extension and magic number, all in agreement."""

from __future__ import annotations

import pytest

from profile_photos.errors import UnsupportedMediaType, ValidationFailed
from profile_photos.settings import DEFAULT_ALLOWED_EXTENSIONS
from profile_photos.validation import sanitize_file_name, sniff_content_type, validate_image
from tests import images

MAX = 5 * 1024 * 1024
ALLOWED = "jpg, jpeg, png, gif, webp, heic, heif"


def check(data: bytes, name: str | None, mime: str | None, allowed=DEFAULT_ALLOWED_EXTENSIONS):
    return validate_image(
        data, file_name=name, content_type=mime, max_size=MAX, allowed_extensions=allowed
    )


FILES = {
    "jpeg": images.jpeg_bytes(),
    "png": images.png_bytes(),
    "gif": images.gif_bytes(),
    "webp": images.webp_bytes(),
    "heic": images.heic_bytes(),
    "heif": images.heif_bytes(),
}


@pytest.mark.parametrize(
    ("kind", "name", "mime", "stored_type", "stored_ext"),
    [
        ("jpeg", "a.jpg", "image/jpeg", "image/jpeg", "jpg"),
        ("jpeg", "a.jpeg", "image/jpeg", "image/jpeg", "jpg"),
        ("jpeg", "A.JPG", "IMAGE/JPEG", "image/jpeg", "jpg"),
        ("jpeg", "a.jpg", "image/jpg", "image/jpeg", "jpg"),
        ("jpeg", "a.jpg", "image/jpeg; charset=binary", "image/jpeg", "jpg"),
        ("png", "a.png", "image/png", "image/png", "png"),
        ("gif", "a.gif", "image/gif", "image/gif", "gif"),
        ("webp", "a.webp", "image/webp", "image/webp", "webp"),
        ("heic", "a.heic", "image/heic", "image/heic", "heic"),
        ("heif", "a.heif", "image/heif", "image/heif", "heif"),
        ("heic", "a.heif", "image/heif", "image/heif", "heif"),  # HEIC is HEIF: one family
        ("png", "a.png", "application/octet-stream", "image/png", "png"),  # Flutter's default
        ("png", "a.png", None, "image/png", "png"),
    ],
)
def test_accepted_files(
    kind: str, name: str, mime: str | None, stored_type: str, stored_ext: str
) -> None:
    image = check(FILES[kind], name, mime)

    assert (image.content_type, image.extension) == (stored_type, stored_ext)


def test_size_limit_is_inclusive_and_the_message_is_the_contracts() -> None:
    at_limit = FILES["jpeg"] + bytes(MAX - len(FILES["jpeg"]))
    assert check(at_limit, "a.jpg", "image/jpeg").extension == "jpg"

    with pytest.raises(ValidationFailed) as caught:
        check(at_limit + b"\0", "a.jpg", "image/jpeg")
    assert caught.value.message == (
        f"File size {MAX + 1} exceeds maximum 5242880 bytes for profile photos"
    )


def test_size_is_checked_before_type() -> None:
    with pytest.raises(ValidationFailed, match="exceeds maximum"):
        check(bytes(MAX + 1), "a.bmp", "image/bmp")


def test_empty_file_is_400() -> None:
    with pytest.raises(ValidationFailed, match=r"^File is empty$"):
        check(b"", "a.jpg", "image/jpeg")


@pytest.mark.parametrize(
    ("data", "name", "mime", "message"),
    [
        (
            images.bmp_bytes(),
            "a.bmp",
            "image/bmp",
            f"Content type image/bmp not allowed. Allowed types: {ALLOWED}",
        ),
        (
            FILES["jpeg"],
            "a.bmp",
            "image/jpeg",
            f"File extension .bmp not allowed. Allowed types: {ALLOWED}",
        ),
        (
            FILES["jpeg"],
            "photo",
            "image/jpeg",
            f"File name must end with an allowed extension. Allowed types: {ALLOWED}",
        ),
        (
            FILES["png"],
            "a.jpg",
            "image/png",
            "File extension .jpg does not match content type image/png",
        ),
        (
            FILES["png"],
            "a.jpg",
            "image/jpeg",
            "File content (magic number) is image/png, which does not match the content type "
            "image/jpeg",
        ),
        (
            FILES["gif"],
            "a.png",
            None,
            "File content (magic number) is image/gif, which does not match the file "
            "extension .png",
        ),
        (
            b"MZ\x90\x00 definitely not an image",
            "a.jpg",
            "image/jpeg",
            "File content is not a recognised image: its leading bytes (magic number) match "
            f"none of the allowed types. Allowed types: {ALLOWED}",
        ),
    ],
)
def test_disagreements_are_415_and_say_which_check_failed(
    data: bytes, name: str, mime: str | None, message: str
) -> None:
    with pytest.raises(UnsupportedMediaType) as caught:
        check(data, name, mime)
    assert caught.value.message == message


def test_restricted_allow_list_changes_the_message() -> None:
    with pytest.raises(UnsupportedMediaType) as caught:
        check(FILES["jpeg"], "a.jpg", "image/jpeg", allowed=("png",))
    assert caught.value.message == "Content type image/jpeg not allowed. Allowed types: png"


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\xff\xd8\xff\xe0", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n", "image/png"),
        (b"GIF87a", "image/gif"),
        (b"GIF89a", "image/gif"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", None),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "image/heic"),
        (b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1heic", "image/heic"),
        (b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1miaf", "image/heif"),
        (b"\x00\x00\x00\x18ftypavif\x00\x00\x00\x00mif1miaf", None),  # AVIF is not HEIF
        (b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00avifmif1", None),
        (b"\x00\x00\x00\x18ftypisom\x00\x00\x00\x00isommp41", None),  # an MP4 video
        (b"\x00\x00\x00\xffftypheic\x00\x00\x00\x00", None),  # box larger than the data
        (b"\x00\x00\x00\x08ftypheic", None),  # box too small
        (b"BM", None),
        (b"", None),
    ],
)
def test_magic_numbers(head: bytes, expected: str | None) -> None:
    assert sniff_content_type(head) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd.jpg", "passwd.jpg"),
        ("C:\\Users\\me\\photo.png", "photo.png"),
        ("pho\x00to\n.jpg", "photo.jpg"),
        ("..hidden.jpg", "hidden.jpg"),
        ("  spaced .jpg ", "spaced .jpg"),
        ("cafe\u0301.jpg", "caf\u00e9.jpg"),  # NFC
        (None, ""),
    ],
)
def test_file_names_are_sanitised(name: str | None, expected: str) -> None:
    assert sanitize_file_name(name) == expected


def test_long_file_names_keep_their_extension() -> None:
    name = sanitize_file_name("x" * 400 + ".jpeg")

    assert len(name) == 255
    assert name.endswith(".jpeg")
