"""A HEIF item type that is not four ASCII characters is refused by the service's own
parser, before any decoder sees the file: pi-heif 1.4.0 (the decode-only libheif binding the
imaging layer ships, and its last release) crashes the whole process on a type that is not
UTF-8 (pillow-heif's test file heif_special/invalid_metadata_type.heic, fixed there in
1.8.0). Shown here in a child process, so the crash it prevents cannot take the test run."""

from __future__ import annotations

import subprocess
import sys

import pytest

from profile_photos.errors import UnsupportedMediaType
from profile_photos.images import read_dimensions, strip_metadata
from testkit.images import camera_heic


def with_bad_item_type() -> bytes:
    """A real HEIC whose Exif item's type reads `E\\xeaif` (as in pillow-heif's test file)."""
    data = camera_heic()
    assert data.count(b"Exif") >= 1
    at = data.index(b"infe")
    return data[:at] + data[at:].replace(b"Exif", b"E\xeaif", 1)


@pytest.mark.parametrize("step", [read_dimensions, strip_metadata])
def test_the_parser_refuses_it_before_any_decoder(step) -> None:
    with pytest.raises(UnsupportedMediaType, match="not four ASCII characters"):
        step(with_bad_item_type(), "image/heic")


def test_an_upload_of_it_is_refused_in_a_process_that_lives_on() -> None:
    code = (
        "import sys\n"
        "from profile_photos.errors import UnsupportedMediaType\n"
        "from profile_photos.images import read_dimensions\n"
        "from profile_photos.images.decoding import check_decodes\n"
        "data = sys.stdin.buffer.read()\n"
        "try:\n"
        "    read_dimensions(data, 'image/heic')\n"
        "    check_decodes(data, 'image/heic', 1 << 30)\n"
        "except UnsupportedMediaType as exc:\n"
        "    print('refused:', exc.message)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code],
        input=with_bad_item_type(),
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr.decode()[-2000:]
    assert b"refused: Invalid image file" in run.stdout
