"""Upload validation: size, MIME type, file extension and magic number, all in agreement.

Pure functions over bytes and strings. The checks run in the order a client can act on:
size, emptiness, the declared MIME type, the file name's extension, then the file's leading
bytes, and finally that all three name the same image type.

Two choices the contract leaves open, made here:
- A part sent without a type, or as the generic `application/octet-stream`, has *no declared*
  type (Flutter's `MultipartFile.fromPath`, used in the upstream examples, sends exactly
  that). The extension and the magic number must then agree on their own.
- HEIC is HEIF with HEVC-coded images, so `.heic`/`.heif` and `image/heic`/`image/heif` are one
  family: an iPhone photo named `.heif` is accepted. AVIF (also an ISO-BMFF file) is not.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from profile_photos.errors import UnsupportedMediaType, ValidationFailed
from profile_photos.settings import KNOWN_EXTENSIONS

GENERIC_CONTENT_TYPES = frozenset({"", "application/octet-stream", "binary/octet-stream"})
# Aliases that real clients send for the canonical types.
CONTENT_TYPE_ALIASES = {
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "image/x-png": "image/png",
    "image/heic-sequence": "image/heic",
    "image/heif-sequence": "image/heif",
}
# The stored file's extension for each accepted extension (`.jpeg` is stored as `.jpg`).
STORED_EXTENSION = {"jpeg": "jpg"}
# Types that count as the same image type when checking agreement.
FAMILY = {"image/heic": "image/heif"}

HEIC_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"})
HEIF_BRANDS = frozenset({b"mif1", b"msf1", b"mif2"})
AVIF_BRANDS = frozenset({b"avif", b"avis"})
MAX_FILE_NAME_LENGTH = 255


@dataclass(frozen=True, slots=True)
class ValidatedImage:
    """What the checks established about an accepted file."""

    content_type: str  # canonical MIME type, as stored and served
    extension: str  # extension of the stored file (jpg, png, gif, webp, heic, heif)
    file_name: str  # the client's file name, sanitised, kept only as metadata


def sniff_content_type(data: bytes) -> str | None:
    """The image MIME type named by the file's leading bytes, or None if unrecognised."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return _sniff_heif(data)


def _sniff_heif(data: bytes) -> str | None:
    """HEIC/HEIF: an ISO-BMFF `ftyp` box first, its brands naming an HEIF image."""
    if len(data) < 16 or data[4:8] != b"ftyp":
        return None
    box_size = int.from_bytes(data[:4], "big")
    if box_size < 16 or box_size > len(data) or box_size % 4:
        return None
    major = data[8:12]
    brands = {major} | {data[i : i + 4] for i in range(16, box_size, 4)}
    if major in AVIF_BRANDS:
        return None
    if brands & HEIC_BRANDS:
        return "image/heic"
    if brands & HEIF_BRANDS and not brands & AVIF_BRANDS:
        return "image/heif"
    return None


def sanitize_file_name(name: str | None) -> str:
    """The last path segment of `name`, NFC-normalised, without control characters."""
    name = unicodedata.normalize("NFC", name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip().lstrip(".")
    if len(name) > MAX_FILE_NAME_LENGTH:
        stem, dot, ext = name.rpartition(".")
        keep = MAX_FILE_NAME_LENGTH - len(dot + ext) if dot and len(ext) <= 10 else 0
        name = stem[:keep] + dot + ext if keep > 0 else name[:MAX_FILE_NAME_LENGTH]
    return name


def normalize_content_type(value: str | None) -> str:
    """`Image/JPEG; charset=x` -> `image/jpeg`, with aliases mapped to their canonical type."""
    base = (value or "").split(";", 1)[0].strip().lower()
    return CONTENT_TYPE_ALIASES.get(base, base)


def _family(mime: str) -> str:
    return FAMILY.get(mime, mime)


def check_declared(
    size: int,
    *,
    file_name: str | None,
    content_type: str | None,
    max_size: int,
    allowed_extensions: tuple[str, ...],
) -> ValidatedImage:
    """The checks that need no bytes: size, MIME type, extension, and their agreement.

    Used alone when a direct upload is announced (`upload-url`), and as the first half of
    `validate_image`. Raises `ValidationFailed` (400) or `UnsupportedMediaType` (415).
    """
    if size > max_size:
        raise ValidationFailed(
            f"File size {size} exceeds maximum {max_size} bytes for profile photos"
        )
    if size <= 0:
        raise ValidationFailed("File is empty")

    allowed_list = ", ".join(allowed_extensions)
    allowed_types = {KNOWN_EXTENSIONS[ext] for ext in allowed_extensions}

    declared = normalize_content_type(content_type)
    if declared not in GENERIC_CONTENT_TYPES and declared not in allowed_types:
        raise UnsupportedMediaType(
            f"Content type {declared} not allowed. Allowed types: {allowed_list}"
        )

    clean_name = sanitize_file_name(file_name)
    stem, dot, raw_ext = clean_name.rpartition(".")
    extension = raw_ext.lower() if dot and stem else ""
    if not extension:
        raise UnsupportedMediaType(
            f"File name must end with an allowed extension. Allowed types: {allowed_list}"
        )
    if extension not in allowed_extensions:
        raise UnsupportedMediaType(
            f"File extension .{extension} not allowed. Allowed types: {allowed_list}"
        )
    by_extension = KNOWN_EXTENSIONS[extension]
    if declared not in GENERIC_CONTENT_TYPES and _family(declared) != _family(by_extension):
        raise UnsupportedMediaType(
            f"File extension .{extension} does not match content type {declared}"
        )

    return ValidatedImage(
        content_type=declared if declared not in GENERIC_CONTENT_TYPES else by_extension,
        extension=STORED_EXTENSION.get(extension, extension),
        file_name=clean_name,
    )


def validate_image(
    data: bytes,
    *,
    file_name: str | None,
    content_type: str | None,
    max_size: int,
    allowed_extensions: tuple[str, ...],
) -> ValidatedImage:
    """Check an uploaded file; raise `ValidationFailed` (400) or `UnsupportedMediaType` (415)."""
    image = check_declared(
        len(data),
        file_name=file_name,
        content_type=content_type,
        max_size=max_size,
        allowed_extensions=allowed_extensions,
    )
    sniffed = sniff_content_type(data[:4096])
    if sniffed is None:
        raise UnsupportedMediaType(
            "File content is not a recognised image: its leading bytes (magic number) match "
            f"none of the allowed types. Allowed types: {', '.join(allowed_extensions)}"
        )
    if _family(sniffed) != _family(image.content_type):
        declared = normalize_content_type(content_type)
        claimed = (
            f"content type {declared}"
            if declared not in GENERIC_CONTENT_TYPES
            else f"file extension .{image.file_name.rpartition('.')[2].lower()}"
        )
        raise UnsupportedMediaType(
            f"File content (magic number) is {sniffed}, which does not match the {claimed}"
        )
    return image
