"""The image parsers under hostile input: worst time per KB and peak memory, per format.

For each format, `read_dimensions` + `strip_metadata` (what an upload runs) over the parser
corpus's crafted files of that type, its valid base image, and a seeded mutation fuzz run of
the base (testkit/parser_corpus.py: byte flips, truncations, length-field overwrites, splices,
insertions, deletions). Pure Python in this process: no stack, no moto.

- time: the best of 3 calls per file, in µs per KB (files under 1 KB counted as 1 KB: a
  refusal costs a call, whatever the size). Budgeted as a ratio to the floor measured in the
  same run, SHA-256's µs per KB over 1 MiB (touching every byte once, in C): a walk that is
  linear with a sane constant stays within it; the quadratic walks of issue 9 were 10^5 to
  10^6 times it. The absolute figures are in the notes.
- memory: tracemalloc's peak during both calls, over the file size (files under 16 KiB
  counted as 16 KiB: the parser's own objects, a few KiB, are not the file's).
- findings: an exception other than `UnsupportedMediaType` on any input, or a crafted file
  accepted, is a bug in the parser (budget 0).
"""

from __future__ import annotations

import hashlib
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.budgets import Row, at_most, exactly, failed
from bench.memory import peak as peak_bytes
from testkit import parser_corpus

SHARED = Path(__file__).resolve().parent.parent / "shared"

from profile_photos.errors import UnsupportedMediaType  # noqa: E402
from profile_photos.images import read_dimensions, strip_metadata  # noqa: E402

SECTION = "image parsers (read_dimensions + strip_metadata; corpus + mutation fuzz)"
MUTANTS = 300  # per format
TIME_BUDGET = 200.0  # worst µs/KB over SHA-256's µs/KB (issue 9's walks: 10^4 to 10^6)
MEMORY_BUDGET = 4.0  # peak over file size
MEMORY_FLOOR = 16 * 1024
KB = 1024
NAMES = {
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/gif": "GIF",
    "image/webp": "WebP",
    "image/heic": "HEIC",
}


@dataclass
class Outcome:
    """What one format's files cost."""

    per_kb: list[tuple[float, str]] = field(default_factory=list)  # (µs/KB, file)
    memory: list[tuple[float, int, str]] = field(default_factory=list)  # (ratio, peak, file)
    refused: int = 0
    files: int = 0
    crafted: int = 0
    mutants: int = 0
    unexpected: list[str] = field(default_factory=list)
    accepted_hostile: list[str] = field(default_factory=list)


def parse(data: bytes, content_type: str) -> bool:
    """Both calls an upload makes; True if the file was accepted by both."""
    try:
        read_dimensions(data, content_type)
        strip_metadata(data, content_type)
    except UnsupportedMediaType:
        return False
    return True


def best_of(action: Callable[[], object], runs: int = 3) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - started)
    return best


def sha256_us_per_kb() -> float:
    block = bytes(range(256)) * 4096  # 1 MiB
    return best_of(lambda: hashlib.sha256(block).digest(), 5) * 1e6 / (len(block) / KB)


def measure(content_type: str, mutants: int = MUTANTS) -> Outcome:
    outcome = Outcome()
    base = parser_corpus.bases()[content_type]
    files = [
        (sample.name, sample.data, True)
        for sample in parser_corpus.hostile()
        if sample.content_type == content_type
    ]
    outcome.crafted = len(files)
    files.append(("base", base, False))
    for index, mutant in enumerate(parser_corpus.mutants(base, f"bench-{content_type}", mutants)):
        files.append((f"mutant {index}", mutant, False))
        outcome.mutants += 1
    for name, data, hostile in files:
        outcome.files += 1
        try:
            accepted = parse(data, content_type)
        except Exception as exc:  # a finding: the parser must only ever refuse with a 415
            outcome.unexpected.append(f"{name}: {type(exc).__name__}: {exc}")
            continue
        outcome.refused += not accepted
        if hostile and accepted:
            outcome.accepted_hostile.append(name)
        seconds = best_of(lambda data=data: parse(data, content_type))
        outcome.per_kb.append((seconds * 1e6 / max(len(data) / KB, 1), name))
        peak = peak_bytes(lambda data=data: parse(data, content_type))
        outcome.memory.append((peak / max(len(data), MEMORY_FLOOR), peak, name))
    return outcome


def rows_for(content_type: str, outcome: Outcome, floor: float) -> list[Row]:
    fmt = NAMES[content_type]
    worst, worst_file = max(outcome.per_kb)
    median = statistics.median(value for value, _ in outcome.per_kb)
    memory, peak, memory_file = max(outcome.memory)
    counts = (
        f"{outcome.files} files ({outcome.crafted} crafted, 1 base, {outcome.mutants} "
        f"mutants), {outcome.refused} refused"
    )
    return [
        Row(
            SECTION,
            f"{fmt}: worst time per KB / SHA-256's",
            worst / floor,
            "x",
            at_most(TIME_BUDGET),
            f"worst {worst:.1f} µs/KB ({worst_file}), median {median:.1f} µs/KB, SHA-256 "
            f"{floor:.2f} µs/KB; {counts}",
            {"worst_us_per_kb": worst, "worst_file": worst_file, "median_us_per_kb": median},
        ),
        Row(
            SECTION,
            f"{fmt}: peak memory / file size",
            memory,
            "x",
            at_most(MEMORY_BUDGET),
            f"{peak / KB:.1f} KiB at the peak ({memory_file}); files under "
            f"{MEMORY_FLOOR // KB} KiB counted as {MEMORY_FLOOR // KB} KiB",
            {"peak_bytes": peak, "peak_file": memory_file},
        ),
    ]


def run(progress: Callable[[str], None] = lambda _: None, mutants: int = MUTANTS) -> list[Row]:
    rows: list[Row] = []
    floor = sha256_us_per_kb()
    unexpected: list[str] = []
    accepted: list[str] = []
    for content_type in NAMES:
        try:
            outcome = measure(content_type, mutants)
        except Exception as exc:  # building the corpus or the base failed
            rows.append(failed(SECTION, f"{NAMES[content_type]}", f"{type(exc).__name__}: {exc}"))
            continue
        rows += rows_for(content_type, outcome, floor)
        unexpected += outcome.unexpected
        accepted += outcome.accepted_hostile
        progress(f"parsers: {NAMES[content_type]} ({outcome.files} files)")
    rows.append(
        Row(
            SECTION,
            "exceptions other than UnsupportedMediaType",
            len(unexpected),
            "",
            exactly(0),
            "; ".join(unexpected[:3]) or "none: every input was parsed or refused with a 415",
            {"unexpected": unexpected},
        )
    )
    rows.append(
        Row(
            SECTION,
            "crafted files accepted",
            len(accepted),
            "",
            exactly(0),
            ", ".join(accepted) or f"all {len(parser_corpus.hostile())} refused as invalid",
            {"accepted": accepted},
        )
    )
    return rows
