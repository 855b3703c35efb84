"""multipart/form-data decoding with requests-toolbelt (imported only by the upload path)."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import Message

from requests_toolbelt.multipart.decoder import (
    ImproperBodyPartContentException,
    MultipartDecoder,
    NonMultipartContentTypeException,
)

from profile_photos.errors import ValidationFailed


@dataclass(frozen=True, slots=True)
class FormPart:
    name: str
    file_name: str | None
    content_type: str | None
    data: bytes


# requests-toolbelt splits the body on CRLF + boundary and then copies a part that starts
# with the bare boundary (always the first one) once more. Bodies given to `parse_form` start
# with this CRLF (`raw_body(event, BODY_PREFIX)`), which saves that copy: a 5 MiB upload then
# peaks at 3 copies (body, split part, part content) instead of 4.
BODY_PREFIX = b"\r\n"


def parse_form(body: bytes, content_type: str | None) -> dict[str, list[FormPart]]:
    """Decode a multipart/form-data body (starting with `BODY_PREFIX`) into its parts,
    grouped by field name."""
    if not content_type or not content_type.lower().startswith("multipart/form-data"):
        raise ValidationFailed(
            f"Content-Type must be multipart/form-data, got {content_type or 'none'}"
        )
    if "boundary=" not in content_type.lower():
        raise ValidationFailed("Content-Type multipart/form-data is missing its boundary")
    if not body.removeprefix(BODY_PREFIX):
        raise ValidationFailed("Request body is empty: send the photo in the 'file' field")
    try:
        decoder = MultipartDecoder(body, content_type)
    except (ImproperBodyPartContentException, NonMultipartContentTypeException, ValueError) as exc:
        raise ValidationFailed("Malformed multipart/form-data body") from exc

    fields: dict[str, list[FormPart]] = {}
    for part in decoder.parts:
        disposition = Message()
        raw = part.headers.get(b"Content-Disposition", b"").decode("utf-8", "replace")
        disposition["Content-Disposition"] = raw
        name = disposition.get_param("name", header="Content-Disposition")
        if disposition.get_content_disposition() != "form-data" or not isinstance(name, str):
            raise ValidationFailed("Malformed multipart/form-data body: a part has no field name")
        part_type = part.headers.get(b"Content-Type")
        fields.setdefault(name, []).append(
            FormPart(
                name=name,
                file_name=disposition.get_filename(),
                content_type=part_type.decode("latin-1") if part_type else None,
                data=part.content,
            )
        )
    return fields


def single_file(fields: dict[str, list[FormPart]], name: str) -> FormPart:
    """The one file part called `name`."""
    parts = fields.get(name, [])
    if not parts:
        raise ValidationFailed(f"Missing required form field '{name}' (the image file)")
    if len(parts) > 1:
        raise ValidationFailed(f"Send exactly one '{name}' field, got {len(parts)}")
    if parts[0].file_name is None:
        raise ValidationFailed(f"Form field '{name}' must be a file upload with a filename")
    return parts[0]


def single_text(fields: dict[str, list[FormPart]], name: str) -> str | None:
    """The text value of the optional field `name`, or None when absent."""
    parts = fields.get(name, [])
    if not parts:
        return None
    if len(parts) > 1:
        raise ValidationFailed(f"Send '{name}' at most once, got {len(parts)}")
    try:
        return parts[0].data.decode("utf-8").strip()
    except UnicodeDecodeError as exc:
        raise ValidationFailed(f"Form field '{name}' must be UTF-8 text") from exc
