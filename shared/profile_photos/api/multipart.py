"""multipart/form-data decoding with requests-toolbelt (imported only by the upload path)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from requests_toolbelt.multipart.decoder import (
    ImproperBodyPartContentException,
    MultipartDecoder,
    NonMultipartContentTypeException,
)

from profile_photos.api.idempotency import fingerprint
from profile_photos.api.web import raw_body
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
# peaks at 3 copies (body, split part, part content) instead of 4. The framing checks below
# only search the body (`bytes.find`, `bytes.count`, a regex with bounds): no copy of it.
BODY_PREFIX = b"\r\n"

# Limits checked before anything is parsed. The form has two fields (`file`, `assetContext`);
# browsers, curl and requests write part headers of a few hundred bytes with 2-3 parameters.
MAX_PARTS = 16
MAX_PART_HEADER_BYTES = 8 * 1024  # one part's header block, without the blank line
MAX_HEADER_PARAMETERS = 16  # `;`-separated parameters in one header field
MALFORMED = "Malformed multipart/form-data body"
TRUNCATED = f"{MALFORMED}: it ends before the closing boundary (was the upload cut short?)"

_CRLF = b"\r\n"
_HEADER_END = b"\r\n\r\n"
_PADDING = re.compile(rb"[ \t]*")  # RFC 2046 transport-padding (LWSP) after a boundary
# In a header block: an escaped quote, a quote, a parameter separator, or the end of a header
# field (a line break not followed by folding whitespace).
_HEADER_TOKENS = re.compile(rb'\\"|"|;|\r\n(?![ \t])')


def parse_form(body: bytes, content_type: str | None) -> dict[str, list[FormPart]]:
    """Decode a multipart/form-data body (starting with `BODY_PREFIX`) into its parts,
    grouped by field name."""
    if not content_type or not content_type.lower().startswith("multipart/form-data"):
        raise ValidationFailed(
            f"Content-Type must be multipart/form-data, got {content_type or 'none'}"
        )
    boundary = _boundary(content_type)
    if not body.removeprefix(BODY_PREFIX):
        raise ValidationFailed("Request body is empty: send the photo in the 'file' field")
    _check_framing(body, boundary)
    try:
        # The boundary checked above, so toolbelt splits on exactly what was checked.
        decoder = MultipartDecoder(body, f"multipart/form-data; boundary={boundary.decode()}")
    except (ImproperBodyPartContentException, NonMultipartContentTypeException, ValueError) as exc:
        raise ValidationFailed(MALFORMED) from exc

    fields: dict[str, list[FormPart]] = {}
    for part in decoder.parts:
        disposition = Message()
        raw = part.headers.get(b"Content-Disposition", b"").decode("utf-8", "replace")
        disposition["Content-Disposition"] = raw
        name = disposition.get_param("name", header="Content-Disposition")
        if disposition.get_content_disposition() != "form-data" or not isinstance(name, str):
            raise ValidationFailed(f"{MALFORMED}: a part has no field name")
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


def _boundary(content_type: str) -> bytes:
    """The `boundary` parameter, read like requests-toolbelt reads it (the last one wins,
    surrounding quotes removed)."""
    boundary = ""
    for item in content_type.split(";")[1:]:
        attr, equals, value = item.strip().partition("=")
        if equals and attr.lower() == "boundary":
            boundary = value.strip('"')
    if not boundary:
        raise ValidationFailed("Content-Type multipart/form-data is missing its boundary")
    return boundary.encode("utf-8")


def _check_framing(body: bytes, boundary: bytes) -> None:
    """Refuse, before any part is parsed, a body whose framing requests-toolbelt would get
    wrong or parse slowly. toolbelt splits on every CRLF + `--boundary` and keeps whatever
    lies between, so by itself it accepts a body cut short (no close delimiter: the cut part
    is returned as if complete), reads a preamble or an epilogue as parts, and hands header
    blocks of any size to `email`, whose parameter parsing is quadratic.

    What is accepted, against RFC 2046 section 5.1.1:
    - Preamble: none, or one empty line (RFC: any text, ignored; toolbelt would parse it).
    - Each delimiter line: `--boundary`, optional transport padding (spaces, tabs), CRLF.
      Anything else after the boundary is refused (RFC: the boundary must not begin a line
      of part data).
    - Each part: at most `MAX_PART_HEADER_BYTES` of headers, ended by a blank line; no header
      field with more than `MAX_HEADER_PARAMETERS` parameters (`;` outside quoted strings,
      counted the way `email` splits them); at most `MAX_PARTS` parts.
    - The close delimiter `--boundary--` is required. After it: the end of the body, or CRLF
      and an epilogue, which is ignored as long as it contains no delimiter (toolbelt would
      parse one as a part). Transport padding after the close delimiter, which RFC 2046
      allows but no client sends, is refused for the same reason.
    """
    dash_boundary = b"--" + boundary
    delimiter = _CRLF + dash_boundary
    for preamble in (b"", _CRLF, _CRLF + _CRLF):
        if body.startswith(preamble + dash_boundary):
            after = len(preamble) + len(dash_boundary)  # just past a boundary
            break
    else:
        raise ValidationFailed(MALFORMED)
    parts = 0
    while not body.startswith(b"--", after):  # `--boundary--` is the close delimiter
        parts += 1
        if parts > MAX_PARTS:
            raise ValidationFailed(f"{MALFORMED}: more than {MAX_PARTS} parts")
        line_end = _PADDING.match(body, after).end()  # type: ignore[union-attr]
        if not body.startswith(_CRLF, line_end):
            if len(body) - line_end < len(_CRLF):
                raise ValidationFailed(TRUNCATED)
            raise ValidationFailed(f"{MALFORMED}: unexpected characters after a boundary")
        headers_start = line_end + len(_CRLF)
        next_delimiter = body.find(delimiter, line_end)
        if next_delimiter == -1:
            raise ValidationFailed(TRUNCATED)
        window = min(next_delimiter, headers_start + MAX_PART_HEADER_BYTES + len(_HEADER_END))
        headers_end = body.find(_HEADER_END, line_end, window)  # line_end: no headers at all
        if headers_end == -1:
            if next_delimiter - headers_start > MAX_PART_HEADER_BYTES:
                raise ValidationFailed(
                    f"{MALFORMED}: a part's headers are over {MAX_PART_HEADER_BYTES} bytes"
                )
            raise ValidationFailed(f"{MALFORMED}: a part has no blank line after its headers")
        if body.count(b";", headers_start, headers_end) > MAX_HEADER_PARAMETERS and (
            too_many_parameters(body, headers_start, headers_end)
        ):
            raise ValidationFailed(
                f"{MALFORMED}: a part header has more than {MAX_HEADER_PARAMETERS} parameters"
            )
        after = next_delimiter + len(delimiter)
    epilogue = after + len(b"--")
    if epilogue != len(body) and (
        not body.startswith(_CRLF, epilogue) or body.find(delimiter, epilogue) != -1
    ):
        raise ValidationFailed(f"{MALFORMED}: unexpected data after the closing boundary")


def too_many_parameters(body: bytes, start: int, end: int) -> bool:
    """Whether a header field in `body[start:end]` has more than `MAX_HEADER_PARAMETERS`
    parameters: a `;` inside a quoted string (`filename="a;b.jpg"`) separates nothing, and
    `\\"` does not open or close one, as in `email.message`."""
    count, quoted = 0, False
    for token in _HEADER_TOKENS.finditer(body, start, end):
        kind = token[0]
        if kind == b";" and not quoted:
            count += 1
            if count > MAX_HEADER_PARAMETERS:
                return True
        elif kind == b'"':
            quoted = not quoted
        elif kind == _CRLF:
            count, quoted = 0, False
    return False


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


@dataclass(frozen=True, slots=True)
class UploadForm:
    """The upload form: the photo in `file`, and the optional `assetContext` text field."""

    file: FormPart
    context: str | None

    def digest(self) -> str:
        """What makes a retry "the same upload": the file's bytes, name and type, and the
        context; not the multipart boundary, which clients regenerate on retry."""
        part = self.file
        return fingerprint(part.data, part.file_name, part.content_type, self.context)


def upload_form(event: APIGatewayProxyEvent) -> UploadForm:
    """The upload form of a `multipart/form-data` request (400 for anything else)."""
    fields = parse_form(raw_body(event, BODY_PREFIX), event.headers.get("content-type"))
    return UploadForm(single_file(fields, "file"), single_text(fields, "assetContext"))
