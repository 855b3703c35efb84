"""multipart/form-data decoding with python-multipart (imported only by the upload path).

python-multipart is the streaming parser Starlette and FastAPI use. Before it runs,
`_check_framing` proves the body is one complete, strictly framed form (it would otherwise
accept a body cut short, skip a preamble, and so on); then the parser hands over each part's
headers and data as slices of the body, and each part's data is copied once. A 5 MiB upload
peaks at two copies of the file (the decoded body and the file part).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from profile_photos.api.idempotency import fingerprint
from profile_photos.api.web import raw_body
from profile_photos.errors import ValidationFailed


@dataclass(frozen=True, slots=True)
class FormPart:
    name: str
    file_name: str | None
    content_type: str | None
    data: bytes


# Limits checked before anything is parsed. The form has three fields (`file`, `assetContext`,
# `crop`);
# browsers, curl and requests write part headers of a few hundred bytes with 2-3 parameters.
MAX_PARTS = 16
MAX_PART_HEADER_BYTES = 8 * 1024  # one part's header block, without the blank line
MAX_HEADER_PARAMETERS = 16  # `;`-separated parameters in one header field
MAX_BOUNDARY_LENGTH = 256  # python-multipart's own limit (RFC 2046 asks for at most 70)
MALFORMED = "Malformed multipart/form-data body"
TRUNCATED = f"{MALFORMED}: it ends before the closing boundary (was the upload cut short?)"

_CRLF = b"\r\n"
_HEADER_END = b"\r\n\r\n"
# In a header block: an escaped quote, a quote, a parameter separator, or the end of a header
# field (a line break not followed by folding whitespace).
_HEADER_TOKENS = re.compile(rb'\\"|"|;|\r\n(?![ \t])')


def parse_form(body: bytes, content_type: str | None) -> dict[str, list[FormPart]]:
    """Decode a multipart/form-data body into its parts, grouped by field name."""
    if not content_type or not content_type.lower().startswith("multipart/form-data"):
        raise ValidationFailed(
            f"Content-Type must be multipart/form-data, got {content_type or 'none'}"
        )
    boundary = _boundary(content_type)
    if not body.strip(_CRLF):
        raise ValidationFailed("Request body is empty: send the photo in the 'file' field")
    _check_framing(body, boundary)
    parts = _Parts()
    try:
        # `_check_framing` bounded the headers (size, parameters) and the parts, and proved
        # the close delimiter is there, so the parser reads exactly the parts checked.
        parser = MultipartParser(
            boundary,
            parts.callbacks(),  # type: ignore[arg-type]
            # no tighter than the framing check, so its messages are the ones clients see
            max_header_count=MAX_PART_HEADER_BYTES,
            max_header_size=MAX_PART_HEADER_BYTES,
        )
        parser.write(body)
        parser.finalize()
    except FormParserError as exc:
        raise ValidationFailed(MALFORMED) from exc
    if not parts.ended:
        raise ValidationFailed(TRUNCATED)
    return parts.fields


class _Parts:
    """python-multipart's callbacks, collecting each part's headers and data."""

    def __init__(self) -> None:
        self.fields: dict[str, list[FormPart]] = {}
        self.ended = False
        self._headers: dict[bytes, bytes] = {}
        self._field = bytearray()
        self._value = bytearray()
        self._data: list[memoryview] = []

    def callbacks(self) -> dict[str, object]:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value,
            "on_header_end": self._header_end,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
            "on_end": self._end,
        }

    def _part_begin(self) -> None:
        self._headers, self._data = {}, []

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        self._headers[bytes(self._field).strip().lower()] = bytes(self._value).strip()
        self._field.clear()
        self._value.clear()

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        # `data` is the (immutable) body, or the parser's boundary bytes: a view copies nothing
        self._data.append(memoryview(data)[start:end])

    def _part_end(self) -> None:
        kind, params = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = params.get(b"name")
        if kind != b"form-data" or name is None:
            raise ValidationFailed(f"{MALFORMED}: a part has no field name")
        file_name = params.get(b"filename")
        part_type = self._headers.get(b"content-type")
        part = FormPart(
            name=_text(name),
            file_name=None if file_name is None else _text(file_name),
            content_type=part_type.decode("latin-1") if part_type is not None else None,
            data=b"".join(self._data),
        )
        self._data = []
        self.fields.setdefault(part.name, []).append(part)

    def _end(self) -> None:
        self.ended = True


def _text(value: bytes) -> str:
    """A Content-Disposition parameter: browsers and curl send names as raw UTF-8."""
    return value.decode("utf-8", "replace")


def _boundary(content_type: str) -> bytes:
    """The `boundary` parameter (the last one wins, surrounding quotes removed)."""
    boundary = ""
    for item in content_type.split(";")[1:]:
        attr, equals, value = item.strip().partition("=")
        if equals and attr.lower() == "boundary":
            boundary = value.strip('"')
    if not boundary:
        raise ValidationFailed("Content-Type multipart/form-data is missing its boundary")
    if len(boundary) > MAX_BOUNDARY_LENGTH:
        raise ValidationFailed(
            f"Content-Type multipart/form-data has a boundary over {MAX_BOUNDARY_LENGTH} characters"
        )
    return boundary.encode("utf-8")


def _check_framing(body: bytes, boundary: bytes) -> None:
    """Refuse, before any part is parsed, a body whose framing the parser would accept or
    parse slowly. python-multipart streams: by itself it skips any preamble up to the first
    `-`, stops quietly at the end of a body cut short, and hands header values to
    `parse_options_header`, whose parameter splitting (the same as `email`'s) is quadratic.

    What is accepted, against RFC 2046 section 5.1.1:
    - Preamble: none, or one or two empty lines (RFC: any text, ignored).
    - Each delimiter line: `--boundary` and CRLF. Anything else after the boundary is
      refused, transport padding included (RFC 2046 allows spaces and tabs there; the parser
      does not, and no client sends them).
    - Each part: at most `MAX_PART_HEADER_BYTES` of headers, ended by a blank line; no header
      field with more than `MAX_HEADER_PARAMETERS` parameters (`;` outside quoted strings,
      counted the way `parse_options_header` and `email` split them); at most `MAX_PARTS`
      parts.
    - The close delimiter `--boundary--` is required. After it: the end of the body, or CRLF
      and an epilogue, which is ignored as long as it contains no delimiter (a client that
      sends one is confused about the body). Transport padding after the close delimiter,
      which RFC 2046 allows but no client sends, is refused for the same reason.
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
        line_end = after
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
    """The upload form: the photo in `file`, and the optional `assetContext` and `crop`
    (`left,top,side`) text fields."""

    file: FormPart
    context: str | None
    crop: str | None = None

    @property
    def fields(self) -> tuple[FormPart, str | None, str | None]:
        """What `uploads.upload_photo` takes from the form, in its order."""
        return self.file, self.context, self.crop

    def digest(self) -> str:
        """What makes a retry "the same upload": the file's bytes, name and type, and the
        context; not the multipart boundary, which clients regenerate on retry."""
        part = self.file
        crop = () if self.crop is None else (self.crop,)  # without one: the digest as it was
        return fingerprint(part.data, part.file_name, part.content_type, self.context, *crop)


def upload_form(event: APIGatewayProxyEvent) -> UploadForm:
    """The upload form of a `multipart/form-data` request (400 for anything else)."""
    fields = parse_form(raw_body(event), event.headers.get("content-type"))
    return UploadForm(
        single_file(fields, "file"),
        single_text(fields, "assetContext"),
        single_text(fields, "crop"),
    )
