"""Every test image that Pillow and pillow-heif ship (testkit/corpora.py) through the real
upload handler, in process under moto: files nobody on this project made.

Each file is uploaded under its own name, typed by its extension (an extension the service
does not know is sent as `application/octet-stream`, i.e. no declared type). A file refused
only for its name or declared type whose leading bytes are an allowed type (an `.mpo`, an
`.apng`, a `.bin`) is uploaded a second time named as what it is (`.jpg`, `.png`...), so that
its contents are tried too. Each file is its own user, so the rate limit never interferes.

Then, for every answer: no 5xx and the contract's envelope. An accepted file (201) is stored,
decodes (Pillow, pi-heif) to its original's size after `exif_transpose` (orientation
kept), and no Exif block anywhere in the stored bytes (a frame, a trailer) holds GPS, nor
any XMP a GPS field. A refused file is refused for a documented rule, and one refused as
`Image could not be decoded:` is one that Pillow/pi-heif really cannot decode (an
independent full decode, PNG `verify()` included). HEIC/HEIF files, the pillow-heif sdist's
among them, are decoded by pi-heif, the decoder the imaging layer ships: pillow-heif, which
writes the test files elsewhere, is never Pillow's HEIF opener in a test process. Failures
name the file. A corpus runs in `PARTS` parts (every n-th file), each its own test with its
own tables, so the parts spread over pytest's workers and moto's tables stay small (its
TransactWriteItems copies every table it touches first). Each part writes its figures to
`.cache/corpora/<corpus>-<part>-figures.json` (docs/reliability.md quotes their sums).
"""

from __future__ import annotations

import io
import json
import time
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pi_heif
import pytest
import upload_handler
from PIL import ExifTags, Image, ImageOps

from profile_photos.images import render  # noqa: F401 - sets Image.MAX_IMAGE_PIXELS to the cap
from profile_photos.settings import KNOWN_EXTENSIONS
from profile_photos.validation import sniff_content_type
from testkit import corpora
from testkit.events import file_upload, user_token
from testkit.invoke import HttpResult, invoke
from tests.integration.conftest import UPLOAD_DATA_KEYS, Stack

pi_heif.register_heif_opener()  # the oracle's own HEIF plugin; options left as they are

EXTENSION = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/gif": "gif",
    "image/webp": "webp",
    "image/heic": "heic",
    "image/heif": "heif",
}
# A refusal's message -> the documented rule it applies (SPEC.md "Upload", "Image contents",
# "Hardening"; README "Image contents")
RULES = (
    ("Content type ", "type not allowed"),
    ("File extension ", "type not allowed"),  # "... not allowed" or "... does not match"
    ("File name must end with an allowed extension", "type not allowed"),
    ("File content (magic number) is ", "type disagreement"),
    ("File content is not a recognised image", "type disagreement"),
    ("File is empty", "empty"),
    ("File size ", "over 5 MiB"),
    ("Invalid image file:", "invalid structure"),
    ("Image is ", "over the pixel cap"),
    ("Image could not be decoded:", "does not decode"),
)
TYPE_RULES = {"type not allowed", "type disagreement"}
GPS_IFD = ExifTags.IFD.GPSInfo
# The files issue 15 names: accepted before the decode check, none of them can be drawn.
PARTS = {"pillow": 4, "pillow-heif": 2}  # the Pillow corpus is 14x the other one
ISSUE_15 = (
    "truncated_jpeg.jpg",
    "unknown_compression_method.png",
    "apng/chunk_no_fctl.png",
    "apng/syntax_num_frames_zero.png",
    "png_decompression_dos.png",
    "ultrahdr.jpg",
)


@dataclass
class Outcome:
    file: str  # relative to the corpus folder, with the name it was sent under if renamed
    rule: str  # "accepted" or the rule of RULES that refused it
    message: str = ""


def rule_of(message: str) -> str | None:
    return next((rule for prefix, rule in RULES if message.startswith(prefix)), None)


def declared_type(name: str) -> str:
    extension = name.rpartition(".")[2].lower() if "." in name else ""
    return KNOWN_EXTENSIONS.get(extension, "application/octet-stream")


def upload(user: str, data: bytes, name: str) -> HttpResult:
    event = file_upload(f"corpus-{user}", data, name, declared_type(name), user_token(sub=user))
    return invoke(upload_handler.lambda_handler, event)


def decoded_size(data: bytes) -> tuple[int, int] | None:
    """The oracle: the upright size (`exif_transpose`) of the first frame when Pillow (any of
    its plugins) or pi-heif decodes it in full, a PNG's `verify()` passes and the pixel cap
    (Pillow's bomb limit) holds; None when any of that fails."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                if image.format == "PNG":
                    image.verify()
            with Image.open(io.BytesIO(data)) as image:
                image.load()
                return ImageOps.exif_transpose(image).size
    except Exception:
        return None


def pillow_decodes(data: bytes) -> bool:
    return decoded_size(data) is not None


def upright_size(data: bytes) -> tuple[int, int]:
    """The upright size `exif_transpose` gives, from the header and the orientation it
    reads (no pixel decoded: the original's own decode is the upload's business)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Image.open(io.BytesIO(data)) as image:
            orientation = image.getexif().get(ExifTags.Base.Orientation, 1)
            width, height = image.size
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)


def exif_blocks_with_gps(data: bytes) -> int:
    """How many Exif blocks anywhere in `data` (any frame, any trailer) hold a GPS IFD."""
    found, start = 0, 0
    while (at := data.find(b"Exif\x00\x00", start)) >= 0:
        start = at + 6
        exif = Image.Exif()
        try:
            exif.load(data[at:])
            if exif.get_ifd(GPS_IFD):
                found += 1
        except Exception:  # noqa: S112 - not a TIFF structure: nothing a reader would take as GPS
            continue
    return found


def check_answer(result: HttpResult, file: str) -> dict[str, Any]:
    assert result.status < 500, f"{file}: {result.status} {result.body[:300]!r}"
    body = result.json()
    assert isinstance(body.get("success"), bool), f"{file}: not the envelope: {body}"
    if body["success"]:
        assert result.status == 201, f"{file}: {result.status} {body}"
        assert set(body["data"]) == UPLOAD_DATA_KEYS, f"{file}: {body}"
    else:
        assert result.status in (400, 415), f"{file}: {result.status} {body}"
        assert body["error"]["code"] == "VALIDATION_FAILED", f"{file}: {body}"
        assert isinstance(body["error"]["message"], str), f"{file}: {body}"
    return body


def run_corpus(
    stack: Stack, name: str, part: int = 0, parts: int = 1
) -> tuple[list[Outcome], dict[str, Any]]:
    """Every `parts`-th file of corpus `name` from its `part`-th on, through the upload
    handler, each checked as the module doc says; the outcomes and the figures."""
    folder, files = corpora.images(name)
    assert len(files) > 50, f"{name}: only {len(files)} files in {folder}"
    files = files[part::parts]
    outcomes: list[Outcome] = []
    accepted_keys: list[str] = []
    originals_with_gps = 0
    started = time.perf_counter()
    for index, path in enumerate(files):
        relative = str(path.relative_to(folder))
        data = path.read_bytes()
        user = f"{name}-{index}"
        sent_as = path.name
        body = check_answer(upload(user, data, sent_as), relative)
        rule = "accepted" if body["success"] else rule_of(body["error"]["message"])
        sniffed = sniff_content_type(data[:4096])
        if rule in TYPE_RULES and sniffed is not None:  # try its contents, named as it is
            sent_as = f"{path.stem or 'file'}.{EXTENSION[sniffed]}"
            if sent_as != path.name:
                relative = f"{relative} (as {sent_as})"
                body = check_answer(upload(f"{user}-as", data, sent_as), relative)
                rule = "accepted" if body["success"] else rule_of(body["error"]["message"])
        message = "" if body["success"] else body["error"]["message"]
        assert rule is not None, f"{relative}: refused for no documented rule: {message}"
        outcomes.append(Outcome(relative, rule, message))
        if rule == "accepted":
            key = body["data"]["fileKey"]
            accepted_keys.append(key)
            stored = stack.read("user-assets", key)
            size = decoded_size(stored)
            assert size is not None, f"{relative}: the stored file does not decode"
            assert size == upright_size(data), f"{relative}: size/orientation"
            assert exif_blocks_with_gps(stored) == 0, f"{relative}: GPS kept"
            assert b"GPSLatitude" not in stored, f"{relative}: XMP GPS kept"
            originals_with_gps += exif_blocks_with_gps(data) > 0 or b"GPSLatitude" in data
        elif rule == "does not decode":
            assert not pillow_decodes(data), f"{relative}: refused ({message}) but it decodes"
    seconds = time.perf_counter() - started
    # nothing stored and nothing registered for any refused file: exactly the accepted ones
    assert stack.objects() == sorted(f"user-assets/{key}" for key in accepted_keys)
    assert len(stack.items("PHOTOS_TABLE")) == len(accepted_keys)
    counts = Counter(outcome.rule for outcome in outcomes)
    figures = {
        "corpus": f"{name} {corpora.version(name)}",
        "part": f"{part + 1} of {parts}",
        "files": len(files),
        "uploads": len(files) + sum(" (as " in outcome.file for outcome in outcomes),
        "accepted": counts["accepted"],
        "accepted_originals_with_gps": originals_with_gps,
        "refused": dict(sorted((rule, n) for rule, n in counts.items() if rule != "accepted")),
        "does_not_decode": sorted(o.file for o in outcomes if o.rule == "does not decode"),
        "seconds": round(seconds, 1),
    }
    figures_file = corpora.CACHE / f"{name}-{part + 1}-figures.json"
    figures_file.write_text(json.dumps(figures, indent=2) + "\n")
    return outcomes, figures


@pytest.mark.parametrize("provider", ["LOCAL"])
@pytest.mark.parametrize(
    ("name", "part"),
    [(name, part) for name in sorted(corpora.CORPORA) for part in range(PARTS[name])],
)
def test_every_corpus_file_is_a_displayable_photo_or_refused_for_a_documented_rule(
    stack: Stack, name: str, part: int
) -> None:
    # Given every test image of the corpus (this part of it), When each is uploaded (then
    # checked as each comes back: see run_corpus), Then the part holds both outcomes
    outcomes, figures = run_corpus(stack, name, part, PARTS[name])
    assert figures["accepted"] > 0, figures
    assert len(outcomes) == figures["files"]


@pytest.mark.parametrize("file", ISSUE_15)
def test_the_undecodable_files_of_issue_15_are_415_and_change_nothing(
    stack: Stack, file: str
) -> None:
    # Given a file from Pillow's corpus that no decoder can draw, under its own name
    folder, _ = corpora.images("pillow")
    data = (folder / file).read_bytes()
    assert not pillow_decodes(data)

    # When it is uploaded
    result = upload("issue-15", data, Path(file).name)

    # Then 415 VALIDATION_FAILED, why it cannot be a photo, and nothing stored or written
    assert result.status == 415, result.body
    error = result.json()["error"]
    assert error["code"] == "VALIDATION_FAILED"
    assert error["message"].startswith(("Image could not be decoded: ", "Invalid image file: "))
    assert "Traceback" not in error["message"]
    assert "object at 0x" not in error["message"]
    stack.assert_unchanged()
    assert stack.items("RATE_LIMITS_TABLE") == []
