"""Hostile files at the limits: the worst decode of each accepted format, in time and memory.

For each format the file is the largest one the limits accept (`images.footprint`: the pixel
cap, the memory budget derived from MemorySize, the JPEG scan-work cap), built by
`testkit.bombs` and cached in `.cache/bench-bombs` (a 100 MP HEIC takes a minute to encode).
Each is decoded once in a fresh process per path (bench/bombs_child.py):

- **check**: the upload's decode check, in a process that first imports the upload handler
  (UploadFunction's own baseline), against UploadFunction's Timeout and MemorySize;
- **render**: the renditions' render of every size, in a process that first imports the
  renditions handler, against RenditionsFunction's.

A row's value is the peak resident set (VmHWM, reset just before the decode, so it includes
the process before it) as a share of MemorySize; the budget is < 70%, and the decode's time
must also stay < 20% of the function's Timeout (the row's second condition). Times are this
machine's: Lambda's 1024 MB functions get about 0.6 of a vCPU, so the notes also give the
time scaled by 1 / 0.6 for reading (not budgeted). Files over a limit are refused from their
header in microseconds; the refusal rows show that the review's files are refused.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import renditions
from bench.budgets import Budget, Row, failed

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "bench-bombs"
CHILD = Path(__file__).resolve().parent / "bombs_child.py"
SECTION = "hostile files (images.footprint: the worst accepted file of each format)"
MEMORY_SHARE = 70.0  # % of MemorySize
TIME_SHARE = 20.0  # % of Timeout
LAMBDA_VCPU = 0.6  # a 1024 MB function's share of a vCPU (Lambda: 1 vCPU at 1769 MB)
MIB = 1024 * 1024
FUNCTIONS = {
    "check": ("UploadFunction", "functions/upload", "upload_handler"),
    "render": ("RenditionsFunction", "functions/renditions", "renditions_handler"),
}


@dataclass(frozen=True)
class Bomb:
    name: str
    content_type: str
    make: Callable[[], bytes]


def _side(bytes_per_pixel: float, limit: int, multiple: int = 16) -> int:
    """The largest square side (a multiple of `multiple`) within the memory limit."""
    side = math.isqrt(int(limit / bytes_per_pixel))
    return min(10_000, side - side % multiple)


def worst_cases(limit: int) -> list[Bomb]:
    from profile_photos.images import footprint
    from testkit import bombs

    blocks = (10_000 // 8) ** 2  # one 100 MP component
    extra = footprint.MAX_SCAN_BLOCKS // blocks - 6  # libjpeg's script has 6 grey scans
    png_grey16 = footprint._PNG_GREY16 * footprint.PNG_RENDER
    return [
        Bomb("JPEG baseline 4:4:4, 100 MP", "image/jpeg", bombs.baseline_jpeg),
        Bomb(
            "JPEG progressive 4:4:4 (memory)",
            "image/jpeg",
            lambda: bombs.progressive_jpeg(_side(6, limit)),
        ),
        Bomb(
            f"JPEG progressive, {extra + 6} scans (scan work)",
            "image/jpeg",
            lambda: bombs.scan_bomb(extra),
        ),
        Bomb("PNG 8-bit RGBA, 100 MP", "image/png", lambda: bombs.png(8, alpha=True)),
        Bomb(
            "PNG 16-bit RGBA (inflated bytes)",
            "image/png",
            lambda: bombs.png(16, alpha=True, side=_side(8, footprint.MAX_INFLATED_BYTES)),
        ),
        Bomb(
            "PNG 16-bit grey (memory)",
            "image/png",
            lambda: bombs.png(16, alpha=False, grey=True, side=_side(png_grey16, limit)),
        ),
        Bomb("GIF, 100 MP", "image/gif", bombs.gif),
        Bomb(
            "WebP animated canvas (memory)",
            "image/webp",
            lambda: bombs.webp_canvas_bomb(_side(footprint.WEBP, limit)),
        ),
        Bomb(
            "WebP still lossless RGBA (memory)",
            "image/webp",
            lambda: bombs.webp_still(_side(footprint.WEBP, limit)),
        ),
        Bomb("HEIC (memory)", "image/heic", lambda: bombs.heic(_side(footprint.HEIF, limit))),
        Bomb(
            "HEIC grid of 512 px tiles (memory)",
            "image/heic",
            lambda: bombs.heic(_side(footprint.HEIF, limit), grid=True),
        ),
    ]


def refused_cases() -> list[Bomb]:
    """The security review's files: each must be refused."""
    from testkit import bombs

    return [
        Bomb("review: 300 repeated scans (434 KB)", "image/jpeg", lambda: bombs.scan_bomb(300)),
        Bomb("review: WebP canvas 10000x10000 (92 B)", "image/webp", bombs.webp_canvas_bomb),
    ]


def cached(bomb: Bomb) -> Path:
    CACHE.mkdir(parents=True, exist_ok=True)
    name = "".join(ch if ch.isalnum() else "-" for ch in bomb.name).strip("-")
    path = CACHE / f"{name}.{bomb.content_type.rpartition('/')[2]}"
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(bomb.make())
        tmp.replace(path)
    return path


def function_limits(function: str) -> tuple[int, int]:
    """(MemorySize MB, Timeout s) of `function` in template.yaml (or Globals)."""
    from devkit.template import load_template

    template = load_template()
    props = template["Resources"][function]["Properties"]
    defaults = template["Globals"]["Function"]
    return int(props.get("MemorySize", defaults["MemorySize"])), int(
        props.get("Timeout", defaults["Timeout"])
    )


def decode_once(path: Path, content_type: str, kind: str, workdir: Path) -> dict[str, Any]:
    from testkit import images

    function, folder, handler = FUNCTIONS[kind]
    warmup = workdir / "bomb-warmup.jpg"
    warmup.write_bytes(images.jpeg_bytes())
    spec = {
        "paths": [str(ROOT / folder), str(ROOT / "shared")],
        "handler": handler,
        "file": str(path),
        "content_type": content_type,
        "warmup": str(warmup),
        "path": kind,
    }
    result = subprocess.run(  # noqa: S603 - this interpreter, our script
        [sys.executable, str(CHILD), json.dumps(spec)],
        env=renditions._child_env(function, workdir),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=workdir,
    )
    for line in result.stdout.splitlines():
        if line.startswith("BENCH_BOMB "):
            figures: dict[str, Any] = json.loads(line.removeprefix("BENCH_BOMB "))
            return figures
    raise RuntimeError(f"decode process failed (exit {result.returncode}): {result.stderr[-2000:]}")


def row(bomb: Bomb, kind: str, figures: dict[str, Any], memory_mb: int, timeout: int) -> Row:
    peak, before, seconds = figures["peak"], figures["before"], figures["seconds"]
    time_share = 100 * seconds / timeout
    budget = Budget("max", MEMORY_SHARE, f"< {MEMORY_SHARE:.0f}% memory, < {TIME_SHARE:.0f}% time")
    accepted = figures["outcome"] == "accepted"
    return Row(
        SECTION,
        f"{bomb.name}: {kind}, peak memory / MemorySize",
        100 * peak / (memory_mb * MIB),
        "%",
        budget,
        f"{peak / MIB:.0f} MiB peak of {memory_mb} MB ({before / MIB:.0f} before); "
        f"{seconds:.2f} s = {time_share:.1f}% of {timeout} s "
        f"(~{seconds / LAMBDA_VCPU:.1f} s at 0.6 vCPU); {figures['file'] / 1e6:.2f} MB file"
        + ("" if accepted else f"; REFUSED: {figures['outcome']}"),
        figures | {"time_share": time_share},
        holds=accepted and time_share < TIME_SHARE,
    )


def refusal_row(bomb: Bomb, figures: dict[str, Any]) -> Row:
    refused = figures["outcome"] != "accepted"
    return Row(
        SECTION,
        f"{bomb.name}: refused from its header",
        1.0 if refused else 0.0,
        "",
        Budget("eq", 1.0, "= 1, refused"),
        f"{figures['seconds'] * 1000:.1f} ms: {figures['outcome']}",
        figures,
    )


def run(workdir: Path, progress: Callable[[str], None] = lambda _: None) -> list[Row]:
    from profile_photos.images import footprint

    rows: list[Row] = []
    for kind, (function, _, _) in FUNCTIONS.items():
        memory_mb, timeout = function_limits(function)
        limit = footprint.budget(memory_mb)
        for bomb in worst_cases(limit):
            try:
                figures = decode_once(cached(bomb), bomb.content_type, kind, workdir)
                rows.append(row(bomb, kind, figures, memory_mb, timeout))
            except Exception as exc:
                metric = f"{bomb.name}: {kind}, peak memory / MemorySize"
                rows.append(failed(SECTION, metric, f"{type(exc).__name__}: {exc}"))
            progress(f"hostile files: {bomb.name} ({kind}) measured")
    for bomb in refused_cases():
        try:
            figures = decode_once(cached(bomb), bomb.content_type, "check", workdir)
            rows.append(refusal_row(bomb, figures))
        except Exception as exc:
            rows.append(failed(SECTION, f"{bomb.name}: refused", f"{type(exc).__name__}: {exc}"))
    return rows


def run_alone(progress: Callable[[str], None] = lambda _: None) -> list[Row]:
    """This section in a scratch folder of its own (`python -m bench --only bombs`)."""
    import tempfile

    with tempfile.TemporaryDirectory() as workdir:
        return run(Path(workdir), progress)
