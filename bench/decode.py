"""The upload's decode check (issue 15, `images.render.check`): what it adds to an upload.

- **per format**: `render.check` on a 12 MP JPEG (`testkit.images.camera_jpeg`: 4000x3000,
  quality 90, EXIF, XMP, ICC), a 12 MP HEIC (`camera_heic`, as bench/renditions.py makes it)
  and a 20 MP PNG (5472x3648: `photographic` pixels at 1/32 scale upscaled, smooth enough to
  fit the 5 MiB upload cap; a 20 MP PNG of photo detail is ~60 MB and could not be
  uploaded). Median of `RUNS` warm calls, alternating with a multipart upload of the same
  file through the upload handler (R2 on moto, in process as bench/warm.py measures it: the
  handler's own time, AWS calls excluded), whose own time includes the check. The value is
  the check's share of that upload; both times are in the notes. Two medians of separate
  calls: a share near 100% (it can read just above) means the check is nearly all of it.
- **cold**: fresh interpreters (this venv's python3.13 and packages, their bytecode as the
  build ships it, tools/precompile.py) importing `profile_photos.images.decoding` and then
  checking a small JPEG (the first check loads Pillow), against the same process without the
  check; interleaved, medians. The difference is what the first upload of a container pays.
- **peak memory** of checking a 100 MP RGBA PNG (bench/renditions.py's: 2.7 MB, within the
  upload cap; PNG has no DCT scaling, so all 400 MB of pixels are decoded) in a child that
  first imports the upload handler, as the peak resident set (VmHWM, reset just before the
  check) against UploadFunction's MemorySize in template.yaml. Budget: < 70%, as for the
  renditions function (bench/renditions.py).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from bench import renditions, stack, warm
from bench.budgets import Row, at_most, failed

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT / "shared"
UPLOAD_DIR = ROOT / "functions" / "upload"

SECTION = "decode check (images.render.check: per format beside the upload, cold, 100 MP peak)"
RUNS = 9  # warm checks (and uploads, alternating) per format
COLD_RUNS = 7  # fresh processes of each kind, interleaved
MEMORY_BUDGET = 70.0  # % of UploadFunction's MemorySize
MIB = 1024 * 1024
MB = 1_000_000
PNG_SIZE = (5472, 3648)  # 20 MP, a 3:2 camera's


@dataclass(frozen=True)
class Sample:
    name: str
    content_type: str
    file_name: str
    data: bytes


def samples() -> list[Sample]:
    from PIL import Image

    from testkit import images

    width, height = PNG_SIZE
    smooth = images.photographic(width // 32, height // 32, seed=4).resize(
        PNG_SIZE, Image.Resampling.BICUBIC
    )
    return [
        Sample("12 MP JPEG", "image/jpeg", "photo.jpg", images.camera_jpeg()),
        Sample("12 MP HEIC", "image/heic", "photo.heic", images.camera_heic(quality=50)),
        Sample("20 MP PNG", "image/png", "photo.png", images.encode(smooth, "PNG")),
    ]


# --------------------------------------------------------------------------- warm checks


def format_row(service: stack.Service, sample: Sample, runs: int) -> Row:
    from profile_photos.images import render

    event = stack.upload_event("decode-warm", sample.data, sample.file_name, sample.content_type)
    upload = partial(service.call, "UploadFunction", event)
    check = partial(render.check, sample.data, sample.content_type)
    timing = warm.alternate(upload, check, runs, warmup=2)  # floor: the check alone
    share = 100 * timing.floor / timing.own
    return Row(
        SECTION,
        f"{sample.name}: check / the upload's own time",
        share,
        "%",
        None,
        f"check median {timing.floor * 1000:.1f} ms; upload of the same "
        f"{len(sample.data) / MB:.1f} MB file (R2, check included) own "
        f"{timing.own * 1000:.1f} ms, wall {timing.wall * 1000:.1f} ms of which AWS calls "
        f"(moto) {timing.aws * 1000:.1f} ms; {runs} alternating runs each",
        {"check_s": timing.floor, "file_bytes": len(sample.data)} | timing.data(),
    )


# --------------------------------------------------------------------------------- cold

COLD_CHILD = Path(__file__).resolve().parent / "decode_cold_child.py"


def cold(workdir: Path, runs: int = COLD_RUNS) -> dict[str, Any]:
    """Fresh processes with and without the first check, interleaved (one untimed pair
    first, so that every timed process finds the bytecode written)."""
    from testkit import images

    small = workdir / "decode-cold.jpg"
    small.write_bytes(images.jpeg_bytes())
    env = renditions._child_env("UploadFunction", workdir)
    figures: dict[str, list[dict[str, Any]]] = {"check": [], "none": []}
    for run in range(runs + 1):
        order = ["check", "none"] if run % 2 == 0 else ["none", "check"]
        for kind in order:
            spec = {"paths": [str(SHARED)], "file": str(small), "check": kind == "check"}
            result = subprocess.run(  # noqa: S603 - this interpreter, our script
                [sys.executable, "-I", str(COLD_CHILD), json.dumps(spec)],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
                cwd=workdir,
            )
            line = next(
                (x for x in result.stdout.splitlines() if x.startswith("BENCH_COLD_DECODE ")),
                None,
            )
            if line is None:
                raise RuntimeError(f"cold process failed: {result.stderr[-2000:]}")
            if run:
                figures[kind].append(json.loads(line.removeprefix("BENCH_COLD_DECODE ")))
    small.unlink(missing_ok=True)
    return figures


def cold_row(figures: dict[str, list[dict[str, Any]]]) -> Row:
    def median(kind: str, key: str) -> float:
        return statistics.median(run[key] for run in figures[kind])

    with_check, without = median("check", "total_ms"), median("none", "total_ms")
    loaded = all(run["pil"] for run in figures["check"]) and not any(
        run["pil"] for run in figures["none"]
    )
    return Row(
        SECTION,
        "cold: import decoding + first check of a small JPEG, minus the import alone",
        with_check - without,
        "ms",
        None,
        f"median {with_check:.0f} ms with the first check (of which the check "
        f"{median('check', 'check_ms'):.0f} ms: Pillow's import and a 16x12 JPEG) vs "
        f"{without:.0f} ms importing decoding alone; {len(figures['check'])} fresh "
        f"python{sys.version_info.major}.{sys.version_info.minor} processes each, "
        "interleaved, this venv's "
        "packages and bytecode (not the built layers)"
        + ("" if loaded else "; WARNING: Pillow was not loaded only by the check"),
        {"runs": figures},
    )


# ------------------------------------------------------------------------------- memory

MEMORY_CHILD = Path(__file__).resolve().parent / "decode_memory_child.py"


def upload_memory_size() -> tuple[int, str]:
    """UploadFunction's MemorySize (MB) and where it was read."""
    from devkit.template import load_template

    template = load_template()
    size = template["Resources"]["UploadFunction"]["Properties"].get("MemorySize")
    if isinstance(size, int):
        return size, "UploadFunction's MemorySize"
    return int(template["Globals"]["Function"]["MemorySize"]), "Globals' MemorySize"


def check_memory(data: bytes, content_type: str, workdir: Path) -> dict[str, Any]:
    from testkit import images

    path, small = workdir / "decode-memory.png", workdir / "decode-warmup.jpg"
    path.write_bytes(data)
    small.write_bytes(images.jpeg_bytes())
    spec = {
        "paths": [str(UPLOAD_DIR), str(SHARED)],
        "file": str(path),
        "content_type": content_type,
        "warmup": str(small),
    }
    result = subprocess.run(  # noqa: S603 - this interpreter, our script
        [sys.executable, "-P", str(MEMORY_CHILD), json.dumps(spec)],
        env=renditions._child_env("UploadFunction", workdir),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=workdir,
    )
    path.unlink(missing_ok=True)
    small.unlink(missing_ok=True)
    for line in result.stdout.splitlines():
        if line.startswith("BENCH_DECODE_MEMORY "):
            figures: dict[str, Any] = json.loads(line.removeprefix("BENCH_DECODE_MEMORY "))
            return figures
    raise RuntimeError(f"check process failed (exit {result.returncode}): {result.stderr[-2000:]}")


def memory_row(figures: dict[str, Any], limit_mb: int, where: str) -> Row:
    peak, before = figures["peak"], figures["before"]
    return Row(
        SECTION,
        "100 MP RGBA PNG check: peak resident memory / MemorySize",
        100 * peak / (limit_mb * MIB),
        "%",
        at_most(MEMORY_BUDGET),
        f"{peak / MIB:.0f} MiB at the peak of a {limit_mb} MB function ({where}): "
        f"{before / MIB:.0f} MiB before (interpreter, upload_handler, Pillow, the "
        f"{figures['file'] / MB:.1f} MB file) + {(peak - before) / MIB:.0f} MiB checking, "
        f"{figures['seconds']:.1f} s"
        + ("" if figures["reset"] else "; VmHWM could not be reset: peak since start"),
        figures,
    )


# ---------------------------------------------------------------------------------- run


def run(
    service: stack.Service,
    workdir: Path,
    progress: Callable[[str], None] = lambda _: None,
    runs: int = RUNS,
) -> list[Row]:
    rows: list[Row] = []
    started = time.perf_counter()
    try:
        made = samples()
    except Exception as exc:
        return [failed(SECTION, "samples", f"{type(exc).__name__}: {exc}")]
    progress(f"decode: samples made in {time.perf_counter() - started:.1f} s")
    service.use("R2")
    for sample in made:
        try:
            rows.append(format_row(service, sample, runs))
        except Exception as exc:
            rows.append(failed(SECTION, f"{sample.name}: check", f"{type(exc).__name__}: {exc}"))
        progress(f"decode: {sample.name} measured")
    service.use("LOCAL")
    try:
        rows.append(cold_row(cold(workdir)))
    except Exception as exc:
        rows.append(failed(SECTION, "cold: first check", f"{type(exc).__name__}: {exc}"))
    progress("decode: cold cost measured")
    limit_mb, where = upload_memory_size()
    metric = "100 MP RGBA PNG check: peak resident memory / MemorySize"
    try:
        figures = check_memory(renditions.hundred_mp_png(), "image/png", workdir)
        rows.append(memory_row(figures, limit_mb, where))
    except Exception as exc:
        rows.append(failed(SECTION, metric, f"{type(exc).__name__}: {exc}", at_most(MEMORY_BUDGET)))
    progress("decode: 100 MP peak memory measured")
    return rows
