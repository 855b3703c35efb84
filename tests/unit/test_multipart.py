"""multipart/form-data framing: what `parse_form` accepts, and what it refuses (400
VALIDATION_FAILED) before any part is handed to python-multipart.

Refused: a body without its closing delimiter (an upload cut short), part headers over
8 KiB, a header field with more than 16 parameters, more than 16 parts, a preamble, data
after the close delimiter that toolbelt would read as a part.
"""

from __future__ import annotations

import random
from email.message import Message

import pytest
import requests
from requests_toolbelt import MultipartEncoder

from profile_photos.api.multipart import (
    MALFORMED,
    MAX_HEADER_PARAMETERS,
    MAX_PART_HEADER_BYTES,
    MAX_PARTS,
    TRUNCATED,
    parse_form,
    single_file,
    single_text,
    too_many_parameters,
)
from profile_photos.api.web import status_and_code
from profile_photos.errors import ServiceError
from testkit import images

BOUNDARY = "----unit-test-boundary-7f3a"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"
DASH = f"--{BOUNDARY}".encode()
JPEG = images.jpeg_bytes()
HEADERS_OVER = f"{MALFORMED}: a part's headers are over {MAX_PART_HEADER_BYTES} bytes"
TOO_MANY_PARAMETERS = f"{MALFORMED}: a part header has more than {MAX_HEADER_PARAMETERS} parameters"


def part(headers: bytes | str, data: bytes = b"") -> bytes:
    raw = headers.encode() if isinstance(headers, str) else headers
    return DASH + b"\r\n" + raw + b"\r\n\r\n" + data + b"\r\n"


def file_part(data: bytes = JPEG, disposition: str = 'name="file"; filename="me.jpg"') -> bytes:
    return part(f"Content-Disposition: form-data; {disposition}\r\nContent-Type: image/jpeg", data)


def form(*parts: bytes) -> bytes:
    return b"".join(parts) + DASH + b"--\r\n"


def parse(body: bytes, content_type: str = CONTENT_TYPE) -> dict:
    """As the upload handler calls it: the decoded body."""
    return parse_form(body, content_type)


def refusal(body: bytes, content_type: str = CONTENT_TYPE) -> str:
    """The message of the 400 VALIDATION_FAILED a client gets for this body."""
    with pytest.raises(ServiceError) as caught:
        parse(body, content_type)
    assert status_and_code(caught.value) == (400, "VALIDATION_FAILED")
    return caught.value.message


# --- accepted ------------------------------------------------------------------------------


def test_a_body_from_toolbelts_encoder_parses() -> None:
    encoder = MultipartEncoder(
        fields={"file": ("me.jpg", JPEG, "image/jpeg"), "assetContext": "PROFILE_PICTURE"},
        boundary=BOUNDARY,
    )

    fields = parse(encoder.to_string(), encoder.content_type)

    upload = single_file(fields, "file")
    assert (upload.data, upload.file_name, upload.content_type) == (JPEG, "me.jpg", "image/jpeg")
    assert single_text(fields, "assetContext") == "PROFILE_PICTURE"


def test_a_body_from_requests_parses() -> None:
    # what `requests.post(files=...)` sends (its own random boundary, no Content-Type on text)
    prepared = requests.Request(
        "POST",
        "http://localhost/upload",
        files={"file": ("me.jpg", JPEG, "image/jpeg")},
        data={"assetContext": "PROFILE_PICTURE"},
    ).prepare()

    fields = parse(prepared.body, prepared.headers["Content-Type"])

    assert single_file(fields, "file").data == JPEG
    assert single_text(fields, "assetContext") == "PROFILE_PICTURE"


def test_a_quoted_boundary_and_the_body_without_the_prefix_parse_too() -> None:
    body = form(file_part())

    fields = parse_form(body, f'multipart/form-data; boundary="{BOUNDARY}"')

    assert single_file(fields, "file").data == JPEG


@pytest.mark.parametrize(
    ("disposition", "file_name"),
    [
        ('name="file"; filename="a;b.jpg"', "a;b.jpg"),
        # more `;` than the parameter limit, all inside the quoted filename
        (f'name="file"; filename="{";" * 40}x.jpg"', f"{';' * 40}x.jpg"),
        # an escaped quote does not end the quoted string
        (
            'name="file"; filename="say \\";hi\\";;;;;;;;;;;;;;;;;;;;.jpg"',
            'say ";hi";;;;;;;;;;;;;;;;;;;;.jpg',
        ),
    ],
)
def test_a_semicolon_inside_a_quoted_string_is_not_a_parameter(
    disposition: str, file_name: str
) -> None:
    fields = parse(form(file_part(disposition=disposition)))

    assert single_file(fields, "file").file_name == file_name


def test_an_epilogue_after_the_close_delimiter_is_ignored() -> None:
    # RFC 2046: close-delimiter [CRLF epilogue]; the epilogue is not part of the form
    fields = parse(form(file_part()) + b"an epilogue\r\n\r\nwith a blank line")

    assert list(fields) == ["file"]
    assert single_file(fields, "file").data == JPEG


def test_the_close_delimiter_may_end_the_body_without_crlf() -> None:
    assert single_file(parse(form(file_part())[:-2]), "file").data == JPEG


def test_an_empty_preamble_line_is_accepted() -> None:
    fields = parse(b"\r\n" + form(file_part()))

    assert single_file(fields, "file").data == JPEG


def test_transport_padding_after_a_boundary_is_refused() -> None:
    # RFC 2046 allows spaces and tabs there; python-multipart (like Starlette and FastAPI on
    # top of it) does not, and no client sends them
    padded = file_part().replace(DASH + b"\r\n", DASH + b" \t \r\n", 1)

    assert refusal(form(padded)) == f"{MALFORMED}: unexpected characters after a boundary"


def test_limits_are_inclusive() -> None:
    # headers of exactly 8 KiB, a field with exactly 16 parameters, exactly 16 parts
    disposition = 'form-data; name="file"; filename="me.jpg"'
    params = "".join(f"; p{i}=v" for i in range(MAX_HEADER_PARAMETERS - 2))
    headers = f"Content-Disposition: {disposition}{params}\r\nContent-Type: image/jpeg\r\nX: "
    headers += "y" * (MAX_PART_HEADER_BYTES - len(headers))
    assert len(headers) == MAX_PART_HEADER_BYTES
    extra = [part(f'Content-Disposition: form-data; name="f{i}"', b"x") for i in range(14)]
    body = form(part(headers, JPEG), *extra, part('Content-Disposition: form-data; name="z"'))

    fields = parse(body)

    assert single_file(fields, "file").data == JPEG
    assert len(fields) == MAX_PARTS


# --- refused -------------------------------------------------------------------------------


def test_a_body_cut_inside_the_file_data_is_refused() -> None:
    # Given a valid body cut short: no closing delimiter, the image truncated
    complete = form(file_part())
    cut = complete[: complete.index(JPEG) + len(JPEG) // 2]

    # Then it is refused, not parsed into a truncated image
    assert refusal(cut) == TRUNCATED


def test_every_cut_short_body_is_refused() -> None:
    # Given every prefix of a valid two-part body that stops before its close delimiter
    complete = form(
        part('Content-Disposition: form-data; name="assetContext"', b"PROFILE_PICTURE"),
        file_part(b"\xff\xd8\xff\xe0 some image bytes"),
    )
    assert parse(complete[: -len(b"--\r\n")] + b"--")  # the shortest complete body

    for end in range(1, len(complete) - len(b"--\r\n")):
        # Then each one is refused (with its own message: a cut inside a header block may
        # read as a header without its blank line)
        with pytest.raises(ServiceError) as caught:
            parse(complete[:end])
        assert status_and_code(caught.value) == (400, "VALIDATION_FAILED"), end


def test_a_body_cut_right_after_a_boundary_is_refused() -> None:
    complete = form(file_part())
    assert refusal(complete[: -len(b"--\r\n")]) == TRUNCATED
    assert refusal(complete[: -len(b"-\r\n")]) == TRUNCATED


def test_part_headers_over_8_kib_are_refused() -> None:
    long_name = "x" * MAX_PART_HEADER_BYTES
    body = form(file_part(disposition=f'name="file"; filename="{long_name}.jpg"'))

    assert refusal(body) == HEADERS_OVER


def test_a_megabyte_of_parameters_is_refused_before_it_is_parsed() -> None:
    # `email.message` splits parameters in quadratic time: this header took over 10 s
    disposition = 'name="file"; filename="me.jpg"' + ";a" * 500_000
    body = form(file_part(disposition=disposition))

    assert refusal(body) == HEADERS_OVER


def test_a_header_with_too_many_parameters_is_refused() -> None:
    params = "".join(f"; p{i}=v" for i in range(MAX_HEADER_PARAMETERS - 1))
    body = form(file_part(disposition=f'name="file"; filename="me.jpg"{params}'))

    assert refusal(body) == TOO_MANY_PARAMETERS


def test_too_many_parameters_in_a_folded_header_are_refused() -> None:
    params = "".join(f";\r\n p{i}=v" for i in range(MAX_HEADER_PARAMETERS))
    body = form(file_part(disposition=f'name="file"{params}'))

    assert refusal(body) == TOO_MANY_PARAMETERS


def test_parameters_are_counted_per_header_field() -> None:
    # 10 in one field and 10 in the next: neither is over the limit
    ten = "".join(f"; p{i}=v" for i in range(10))
    headers = f'Content-Disposition: form-data; name="file"; filename="me.jpg"{ten}\r\n'
    headers += f"Content-Type: image/jpeg{ten}"

    assert single_file(parse(form(part(headers, JPEG))), "file").data == JPEG


@pytest.mark.parametrize("count", [MAX_PARTS + 1, 5000])
def test_too_many_parts_are_refused(count: int) -> None:
    tiny = part('Content-Disposition: form-data; name="a"', b"x")

    assert refusal(form(*[tiny] * count)) == f"{MALFORMED}: more than {MAX_PARTS} parts"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not a multipart body", MALFORMED),
        (b"a preamble\r\n" + form(file_part()), MALFORMED),
        # a preamble that toolbelt would otherwise have read as a part
        (b'Content-Disposition: form-data; name="file"\r\n\r\nx\r\n' + form(), MALFORMED),
        (
            form(file_part()).replace(DASH + b"\r\n", DASH + b"X\r\n", 1),
            f"{MALFORMED}: unexpected characters after a boundary",
        ),
        (
            form(file_part()) + form(file_part()),
            f"{MALFORMED}: unexpected data after the closing boundary",
        ),
        (
            form(file_part())[:-2] + b" \r\n",
            f"{MALFORMED}: unexpected data after the closing boundary",
        ),
        (
            form(file_part())[:-2] + b"trailing",
            f"{MALFORMED}: unexpected data after the closing boundary",
        ),
        (
            form(DASH + b'\r\nContent-Disposition: form-data; name="file"\r\nno blank line\r\n'),
            f"{MALFORMED}: a part has no blank line after its headers",
        ),
    ],
)
def test_framing_errors_are_refused(body: bytes, message: str) -> None:
    assert refusal(body) == message


@pytest.mark.parametrize(
    "content_type",
    [
        "multipart/form-data",
        "multipart/form-data; boundary=",
        'multipart/form-data; boundary=""',
        "multipart/form-data; xboundary=abc",
    ],
)
def test_a_missing_or_empty_boundary_is_refused(content_type: str) -> None:
    message = "Content-Type multipart/form-data is missing its boundary"
    assert refusal(form(file_part()), content_type) == message


def test_the_parameter_count_agrees_with_email() -> None:
    # Given random header values made of quotes, escapes and separators
    rng = random.Random(20260101)
    for _ in range(3000):
        value = "form-data" + "".join(rng.choice('a;;;"\\= ') for _ in range(rng.randint(0, 60)))
        message = Message()
        message["Content-Disposition"] = value
        separators = len(message.get_params(header="Content-Disposition")) - 1
        # Then a field is over the limit exactly when `email` would split it into more
        raw = f"Content-Disposition: {value}".encode()
        assert too_many_parameters(raw, 0, len(raw)) == (separators > MAX_HEADER_PARAMETERS), value
