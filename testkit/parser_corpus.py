"""The parser corpus: hostile image files, valid base images, and a seeded mutator.

One file: each format's hostile samples sit beside the box, segment and chunk builders they
use, and the tests and the bench read the corpus as one catalogue.

Shared by the tests (tests/unit/test_image_hardening.py, tests/integration/
test_hostile_images.py) and the bench (bench/parsers.py); imports nothing from either.
Everything is deterministic: the same bytes on every run.

- `hostile()`: crafted files whose container structure is invalid (length fields smaller than
  their header or pointing outside the file, zero-length or overlapping extents, counts their
  box cannot hold), built by hand so they do not move with library versions. Each passes the
  magic-number check of its type and must be refused with 415 `Invalid image file:`. Among
  them the two HEIC attacks of issue 9: an `iloc` declaring tens of thousands of zero-length
  extents per item (>10 s to walk naively from 2 KB), and an Exif item made of ~2,000
  extents each covering the whole 16 KB file (~100 MB to gather naively).
- `bases()`: one valid image per type, with metadata, written by Pillow / pillow-heif.
- `mutants(data, seed, count)`: byte flips, truncations, length-field overwrites, splices,
  insertions and deletions, biased towards the first KiB, where the structure is.

`python -m testkit.parser_corpus` writes the hostile files to tests/corpus/parsers/ (a test
checks that the files there are what this module builds).
"""

from __future__ import annotations

import functools
import random
import sys
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

CORPUS_DIR = Path(__file__).resolve().parent.parent / "tests" / "corpus" / "parsers"
EXTENSIONS = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/gif": "gif",
    "image/webp": "webp",
    "image/heic": "heic",
}


@dataclass(frozen=True)
class Sample:
    name: str  # also the file name under tests/corpus/parsers/, without the extension
    content_type: str
    data: bytes
    why: str

    @property
    def file_name(self) -> str:
        return f"{self.name}.{EXTENSIONS[self.content_type]}"


# --- ISO-BMFF / HEIC ------------------------------------------------------------------------


def box(kind: bytes, body: bytes) -> bytes:
    return (8 + len(body)).to_bytes(4, "big") + kind + body


def full_box(kind: bytes, version: int, flags: int, body: bytes) -> bytes:
    return box(kind, bytes((version,)) + flags.to_bytes(3, "big") + body)


def infe(item: int, item_type: bytes) -> bytes:
    return full_box(b"infe", 2, 0, item.to_bytes(2, "big") + bytes(2) + item_type + b"\x00")


def iloc(
    entries: list[tuple[int, list[tuple[int, int]]]],
    *,
    offset_size: int = 4,
    length_size: int = 4,
    count: int | None = None,
    extent_counts: dict[int, int] | None = None,
) -> bytes:
    """A version-1 `iloc` (construction method 0, no base offset, no index): per item its
    [(offset, length)]; `count` / `extent_counts` override the declared counts."""
    body = bytes(((offset_size << 4) | length_size, 0))
    body += (len(entries) if count is None else count).to_bytes(2, "big")
    for item, extents in entries:
        declared = (extent_counts or {}).get(item, len(extents))
        body += item.to_bytes(2, "big") + bytes(2) + bytes(2) + declared.to_bytes(2, "big")
        for offset, length in extents:
            body += offset.to_bytes(offset_size, "big") + length.to_bytes(length_size, "big")
    return full_box(b"iloc", 1, 0, body)


def heic(
    iloc_box: Callable[[int], bytes] | bytes,
    *,
    ipma_count: int = 1,
    extra_meta: bytes = b"",
    mdat: bytes = b"\x00\x00\x00\x01" + bytes(60),
    size: int | None = None,
) -> bytes:
    """A HEIC skeleton: ftyp, meta (hdlr, pitm, iinf: item 1 hvc1 and item 2 Exif, iloc, iprp
    with one ispe of 64x64), mdat. `iloc_box` may be a function of the mdat payload's offset.
    `size` pads the mdat so the file has exactly that many bytes."""
    ftyp = box(b"ftyp", b"heic" + bytes(4) + b"mif1heic")
    ipco = box(b"ipco", full_box(b"ispe", 0, 0, (64).to_bytes(4, "big") * 2))
    ipma = full_box(b"ipma", 0, 0, ipma_count.to_bytes(4, "big") + b"\x00\x01\x01\x81")
    head = [
        full_box(b"hdlr", 0, 0, bytes(4) + b"pict" + bytes(12) + b"\x00"),
        full_box(b"pitm", 0, 0, (1).to_bytes(2, "big")),
        full_box(b"iinf", 0, 0, (2).to_bytes(2, "big") + infe(1, b"hvc1") + infe(2, b"Exif")),
    ]
    tail = box(b"iprp", ipco + ipma) + extra_meta

    def build(mdat_payload: bytes) -> bytes:
        def layout(iloc_bytes: bytes) -> bytes:
            meta = full_box(b"meta", 0, 0, b"".join(head) + iloc_bytes + tail)
            return ftyp + meta + box(b"mdat", mdat_payload)

        if not callable(iloc_box):
            return layout(iloc_box)
        probe = layout(iloc_box(0))  # the iloc's size does not depend on its values
        return layout(iloc_box(len(probe) - len(mdat_payload)))

    data = build(mdat)
    if size is not None and size > len(data):
        data = build(mdat + bytes(size - len(data)))
    return data


def _heic_samples() -> list[Sample]:
    samples = []

    def add(name: str, data: bytes, why: str) -> None:
        samples.append(Sample(name, "image/heic", data, why))

    # Issue 9, attack 1: 255 items (none of them the image or the Exif item, so a walk that
    # only checks the metadata items' extents never stops early) each declaring 65,535
    # extents with offset and length fields of size 0: ~16.7 million zero-length extents
    # from 2 KB.
    items = [(item, []) for item in range(3, 258)]
    add(
        "heic-iloc-zero-length-extents",
        heic(
            iloc(
                items, offset_size=0, length_size=0, extent_counts=dict.fromkeys(range(258), 65535)
            )
        ),
        "iloc: 255 items of 65,535 zero-length extents each",
    )

    # Issue 9, attack 2: the Exif item is ~2,000 extents, each the whole 16 KB file.
    size = 16 * 1024
    extents = (size - 200) // 8

    def whole_file(offset: int) -> bytes:
        return iloc([(1, [(offset, 4)]), (2, [(0, size)] * extents)])

    add(
        "heic-iloc-overlapping-whole-file-extents",
        heic(whole_file, size=size),
        f"iloc: the Exif item is {extents} extents, each covering the whole file",
    )
    add(
        "heic-iloc-zero-length-extent",
        heic(lambda at: iloc([(1, [(at, 4)]), (2, [(at + 8, 0)])])),
        "iloc: an extent of length 0",
    )
    add(
        "heic-iloc-extent-outside-file",
        heic(lambda at: iloc([(1, [(at, 4)]), (2, [(at + 8, 1 << 20)])])),
        "iloc: the Exif extent runs 1 MiB past the end of the file",
    )
    add(
        "heic-iloc-exif-overlaps-image",
        heic(lambda at: iloc([(1, [(at, 32)]), (2, [(at + 16, 32)])])),
        "iloc: the Exif item's bytes are also the image item's (blanking would change pixels)",
    )
    add(
        "heic-iloc-absurd-item-count",
        heic(lambda at: iloc([(1, [(at, 4)])], count=65535)),
        "iloc: 65,535 items declared in a box holding one",
    )
    add(
        "heic-iloc-absurd-extent-count",
        heic(lambda at: iloc([(1, [(at, 4)]), (2, [(at + 8, 4)])], extent_counts={2: 65535})),
        "iloc: 65,535 extents declared for an item holding one",
    )
    bad_sizes = bytearray(heic(lambda at: iloc([(1, [(at, 4)]), (2, [(at + 8, 4)])])))
    at = bad_sizes.index(b"iloc") + 8  # version, flags, then the field sizes
    bad_sizes[at] = 0x34  # offset_size 3
    add("heic-iloc-field-size-3", bytes(bad_sizes), "iloc: an offset size of 3 bytes")
    add(
        "heic-ipma-absurd-entry-count",
        heic(lambda at: iloc([(1, [(at, 4)])]), ipma_count=0xFFFFFFFF),
        "ipma: 4,294,967,295 associations declared in a box holding one",
    )
    add(
        "heic-box-smaller-than-its-header",
        heic(lambda at: iloc([(1, [(at, 4)])]), extra_meta=(4).to_bytes(4, "big") + b"free"),
        "meta: a child box of size 4, smaller than its 8-byte header",
    )
    add(
        "heic-box-largesize-past-end",
        heic(
            lambda at: iloc([(1, [(at, 4)])]),
            extra_meta=(1).to_bytes(4, "big") + b"free" + (1 << 62).to_bytes(8, "big"),
        ),
        "meta: a child box whose 64-bit size runs past the end of the file",
    )
    past_end = bytearray(heic(lambda at: iloc([(1, [(at, 4)])])))
    meta_at = past_end.index(b"meta") - 4
    past_end[meta_at : meta_at + 4] = (len(past_end) * 4).to_bytes(4, "big")
    add("heic-meta-size-past-end", bytes(past_end), "meta: a box size four times the file's")
    return samples


# --- JPEG -----------------------------------------------------------------------------------


def segment(marker: int, payload: bytes, length: int | None = None) -> bytes:
    declared = len(payload) + 2 if length is None else length
    return bytes((0xFF, marker)) + declared.to_bytes(2, "big") + payload


JFIF = segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
SOF0 = segment(0xC0, b"\x08\x00\x10\x00\x10\x01\x01\x11\x00")  # 16x16, one component
SOS = segment(0xDA, b"\x01\x01\x00\x00\x3f\x00")
SCAN = b"\x12\x34\xff\x00\x56\xff\xd0\x78" * 8  # stuffing and a restart marker


def jpeg(*segments: bytes, scan: bytes = SCAN, end: bytes = b"\xff\xd9") -> bytes:
    return b"\xff\xd8" + JFIF + b"".join(segments) + SOF0 + SOS + scan + end


def _jpeg_samples() -> list[Sample]:
    def sample(name: str, data: bytes, why: str) -> Sample:
        return Sample(name, "image/jpeg", data, why)

    return [
        sample(
            "jpeg-segment-length-zero",
            jpeg(segment(0xE1, b"Exif\x00\x00", length=0)),
            "APP1: a length field of 0, smaller than the field itself",
        ),
        sample(
            "jpeg-segment-length-one",
            jpeg(segment(0xE1, b"Exif\x00\x00", length=1)),
            "APP1: a length field of 1",
        ),
        sample(
            "jpeg-segment-past-end",
            jpeg(segment(0xE1, b"Exif\x00\x00", length=0xFFFF)),
            "APP1: a length of 65,535 in a file of a few hundred bytes",
        ),
        sample(
            "jpeg-no-end-of-image",
            jpeg(end=b""),
            "the scan runs to the end of the file: no EOI ends the primary image",
        ),
        sample(
            "jpeg-no-frame-header",
            b"\xff\xd8" + JFIF + SOS + SCAN + b"\xff\xd9",
            "a scan without a frame header (SOF) before it",
        ),
        sample(
            "jpeg-start-of-image-inside-scan",
            jpeg(scan=SCAN + b"\xff\xd8" + SCAN),
            "an SOI marker where the scan's next marker should be",
        ),
        sample(
            "jpeg-scan-header-past-end",
            b"\xff\xd8" + JFIF + SOF0 + segment(0xDA, b"\x01", length=0x4000),
            "SOS: a header length past the end of the file",
        ),
    ]


# --- PNG ------------------------------------------------------------------------------------


def chunk(kind: bytes, payload: bytes, length: int | None = None) -> bytes:
    declared = len(payload) if length is None else length
    crc = zlib.crc32(kind + payload).to_bytes(4, "big")
    return declared.to_bytes(4, "big") + kind + payload + crc


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
IHDR = chunk(b"IHDR", (16).to_bytes(4, "big") * 2 + bytes((8, 2, 0, 0, 0)))
IDAT = chunk(b"IDAT", zlib.compress(bytes(16 * (16 * 3 + 1))))
IEND = chunk(b"IEND", b"")


def _png_samples() -> list[Sample]:
    def sample(name: str, data: bytes, why: str) -> Sample:
        return Sample(name, "image/png", data, why)

    return [
        sample(
            "png-chunk-length-over-limit",
            PNG_SIGNATURE + IHDR + chunk(b"tEXt", b"k\x00v", length=0xFFFFFFFF) + IDAT + IEND,
            "tEXt: a length of 4 GiB - 1, over PNG's 2^31 - 1 limit",
        ),
        sample(
            "png-chunk-past-end",
            PNG_SIGNATURE + IHDR + chunk(b"IDAT", IDAT[8:-4], length=1 << 20) + IEND,
            "IDAT: a length of 1 MiB in a file of a few hundred bytes",
        ),
        sample(
            "png-no-iend",
            PNG_SIGNATURE + IHDR + IDAT,
            "the chunks stop after IDAT: no IEND ends the image",
        ),
        sample(
            "png-ihdr-wrong-length",
            PNG_SIGNATURE + chunk(b"IHDR", IHDR[8:-4] + bytes(4)) + IDAT + IEND,
            "IHDR: 17 bytes instead of 13",
        ),
    ]


# --- GIF ------------------------------------------------------------------------------------

GIF_HEADER = b"GIF89a" + (16).to_bytes(2, "little") * 2 + b"\x80\x00\x00" + bytes(6)  # 2 colours
GIF_IMAGE = b"\x2c" + bytes(4) + (16).to_bytes(2, "little") * 2 + b"\x00" + b"\x02\x02\x44\x01\x00"


def _gif_samples() -> list[Sample]:
    def sample(name: str, data: bytes, why: str) -> Sample:
        return Sample(name, "image/gif", data, why)

    return [
        sample(
            "gif-sub-block-past-end",
            GIF_HEADER + b"\x21\xfe\xff" + b"comment",
            "a comment sub-block of 255 bytes with 7 left in the file",
        ),
        sample(
            "gif-unknown-block",
            GIF_HEADER + GIF_IMAGE + b"\x99" + bytes(16) + b"\x3b",
            "a block introducer 0x99 (neither extension, image nor trailer)",
        ),
        sample(
            "gif-colour-table-past-end",
            b"GIF89a" + (16).to_bytes(2, "little") * 2 + b"\x87\x00\x00" + bytes(30),
            "a 256-colour global table (768 bytes) in a 43-byte file",
        ),
        sample(
            "gif-image-cut-short",
            GIF_HEADER + GIF_IMAGE[:7],
            "an image descriptor cut after 7 of its 10 bytes",
        ),
    ]


# --- WebP -----------------------------------------------------------------------------------

VP8L = b"VP8L" + (5).to_bytes(4, "little") + b"\x2f\x0f\xc0\x03\x00" + b"\x00"


def riff(chunks: bytes, size: int | None = None) -> bytes:
    declared = 4 + len(chunks) if size is None else size
    return b"RIFF" + declared.to_bytes(4, "little") + b"WEBP" + chunks


def _webp_samples() -> list[Sample]:
    def sample(name: str, data: bytes, why: str) -> Sample:
        return Sample(name, "image/webp", data, why)

    exif = b"EXIF" + (0x7FFFFFF0).to_bytes(4, "little") + b"MM\x00\x2a"
    return [
        sample(
            "webp-riff-size-past-end",
            riff(VP8L, size=0xFFFFFFF0),
            "RIFF: a size of 4 GiB in a file of 26 bytes",
        ),
        sample(
            "webp-chunk-past-riff-end",
            riff(VP8L + exif),
            "EXIF: a chunk size of 2 GiB inside a RIFF of 46 bytes",
        ),
        sample(
            "webp-riff-size-too-small",
            riff(VP8L, size=4),
            "RIFF: a size of 4, which cannot hold even one chunk header",
        ),
    ]


@functools.cache
def hostile() -> tuple[Sample, ...]:
    """Every crafted file, in a stable order."""
    return (
        *_jpeg_samples(),
        *_png_samples(),
        *_gif_samples(),
        *_webp_samples(),
        *_heic_samples(),
    )


# --- valid bases and the mutator ------------------------------------------------------------


@functools.cache
def bases() -> dict[str, bytes]:
    """content type -> a valid image with metadata (GPS Exif, XMP, comment, ICC), 160x120."""
    from PIL import Image, ImageCms

    from testkit import images

    rng = random.Random(9)  # noqa: S311 - pixels, not keys
    width, height = 160, 120
    image = Image.new("RGB", (width, height))
    image.putdata(
        [
            (x * 255 // width, y * 255 // height, (x * y + rng.randrange(32)) % 256)
            for y in range(height)
            for x in range(width)
        ]
    )
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "SecretCam"
    exif[0x8825] = {1: "N", 2: (52.0, 31.0, 17.0), 3: "E", 4: (13.0, 24.0, 5.0)}
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/" tiff:Orientation="6" City="Berlin"/>'
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()

    def encode(fmt: str, **options: object) -> bytes:
        return images.encode(image, fmt, **options)

    return {
        "image/jpeg": encode(
            "JPEG", quality=85, progressive=True, exif=exif, xmp=xmp, icc_profile=icc
        ),
        "image/png": encode("PNG", exif=exif, icc_profile=icc),
        "image/gif": encode("GIF", comment=b"secret comment"),
        "image/webp": encode("WEBP", quality=80, exif=exif, xmp=xmp, icc_profile=icc),
        "image/heic": encode("HEIF", quality=60, exif=exif.tobytes(), xmp=xmp, icc_profile=icc),
    }


HOSTILE_VALUES = (0, 1, 2, 3, 4, 7, 8, 0x7F, 0x80, 0xFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF)


def mutants(data: bytes, seed: object, count: int) -> Iterator[bytes]:
    """`count` damaged copies of `data`, the same ones for the same seed."""
    rng = random.Random(str(seed))  # noqa: S311 - a reproducible fuzz, not keys

    def position(width: int = 1) -> int:
        head = min(len(data), 1024)  # where the headers, lengths and counts are
        limit = head if rng.random() < 0.7 else len(data)
        return rng.randrange(max(1, limit - width))

    for _ in range(count):
        out = bytearray(data)
        kind = rng.randrange(6)
        if kind == 0:  # byte flips
            for _ in range(rng.randint(1, 8)):
                out[position()] = rng.randrange(256)
        elif kind == 1:  # truncation
            del out[rng.randrange(len(out)) :]
        elif kind == 2:  # a length or count field overwritten
            width = rng.choice((1, 2, 4, 8))
            value = rng.choice((*HOSTILE_VALUES, len(data), len(data) + 1, rng.getrandbits(32)))
            at = position(width)
            out[at : at + width] = (value % (1 << 8 * width)).to_bytes(
                width, rng.choice(("big", "little"))
            )
        elif kind == 3:  # a region copied over another (duplicated structure)
            length = rng.randint(1, 64)
            source, target = position(length), position(length)
            out[target : target + length] = data[source : source + length]
        elif kind == 4:  # random bytes inserted
            at = position()
            out[at:at] = rng.randbytes(rng.randint(1, 32))
        else:  # a region deleted
            at = position()
            del out[at : at + rng.randint(1, 64)]
        yield bytes(out)


def write(directory: Path = CORPUS_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for sample in hostile():
        path = directory / sample.file_name
        path.write_bytes(sample.data)
        paths.append(path)
    return paths


if __name__ == "__main__":
    for written in write():
        print(written.relative_to(Path.cwd()) if written.is_relative_to(Path.cwd()) else written)
    sys.exit(0)
