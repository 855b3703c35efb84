"""Renditions (issue 11): what a view costs in bytes, time and memory.

One file: the section's measurements share its corpus (rendered once per run) and its child
processes' environment, and its rows are judged together. The renditions function's cold init
is measured with the other functions' (bench/cold.py, shipped build, against its floor F), and
the money a view costs from these bytes in bench/cost.py.

Pure Pillow in this process plus a few child processes: no stack, no moto.

- **corpus**: camera-sized photos generated here (`testkit.images.photographic`: a colour
  gradient under noise at five scales, roughly the 1/f spectrum of a photograph, so that
  every size compresses like a photo and not like a flat card): a 12 MP JPEG (4000x3000,
  quality 90, EXIF with orientation 6 and GPS, XMP, an Adobe RGB ICC profile, as a phone
  writes it), a 12 MP HEIC (x265, EXIF, ICC) and the largest photographic PNG the 5 MiB
  upload cap admits (2000x1500, ~5.2 MB: a 4000x3000 one is ~21 MB and could not be
  uploaded).
- **bytes per view**: the original and each size. Budget: SMALL <= 1% and MEDIUM <= 5% of
  a 12 MP photo's bytes (the JPEG and the HEIC).
- **render time**: all three sizes (`images.render`) against a bare-Pillow floor on the same
  file: open, `draft` (JPEG), one `thumbnail` to 1024, one WebP save at the same quality and
  effort as render's 1024 px size (`pixels.effort`). Alternating runs, median of each.
  Budget: <= 1.5x the floor for the 12 MP JPEG.
- **peak memory** of rendering a 100 MP (10000x10000) JPEG, in a child process that first
  imports the renditions handler (so the baseline is the function's), as the process's
  peak resident set (VmHWM, reset just before the render) against the renditions function's
  MemorySize in template.yaml. tracemalloc (`bench.memory.peak`, how the upload's peak is
  measured) is reported beside it: it does not see Pillow's pixel buffers, which are
  allocated in C. Budget: < 70%. A 100 MP RGBA PNG (no DCT scaling: decoded at full size,
  400 MB) is information: the worst case the upload cap lets through.
"""

from __future__ import annotations

import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.budgets import Row, at_most, failed

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT / "shared"
FUNCTION_DIR = ROOT / "functions" / "renditions"

SECTION = "renditions (images.render: bytes, time, memory)"
SIZES = {"LARGE": 1024, "MEDIUM": 512, "SMALL": 128}  # profile_photos.renditions.SIZES
SMALL_BUDGET = 1.0  # % of a 12 MP original's bytes
MEDIUM_BUDGET = 5.0
TIME_BUDGET = 1.5  # all three sizes over the bare-Pillow floor, 12 MP JPEG
MEMORY_BUDGET = 70.0  # % of the renditions function's MemorySize
TIME_RUNS = 9  # alternating floor/render runs for the budgeted file (3 for the others)
MIB = 1024 * 1024
MB = 1_000_000


# ------------------------------------------------------------------------------ corpus


@dataclass(frozen=True)
class Original:
    name: str
    content_type: str
    data: bytes
    width: int
    height: int
    twelve_mp: bool  # the budgets on bytes are about a 12 MP photo


def corpus() -> list[Original]:
    from testkit import images

    png = images.encode(images.photographic(2000, 1500, seed=2), "PNG")
    return [
        Original("12 MP JPEG", "image/jpeg", images.camera_jpeg(), 4000, 3000, True),
        Original("12 MP HEIC", "image/heic", images.camera_heic(quality=50), 4000, 3000, True),
        Original("3 MP PNG", "image/png", png, 2000, 1500, False),
    ]


def hundred_mp_jpeg() -> bytes:
    """10000x10000: `photographic` at 2500x2500 upscaled 4x (generating 100 MP of noise
    directly takes ~10 s), quality 85: what the decoder is handed is a real 100 MP JPEG."""
    from PIL import Image

    from testkit import images

    pixels = images.photographic(2500, 2500, seed=3).resize(
        (10000, 10000), Image.Resampling.BICUBIC
    )
    return images.encode(pixels, "JPEG", quality=85, exif=images.camera_exif(6))


def hundred_mp_png() -> bytes:
    """10000x10000 RGBA PNG of smooth gradients: 2.7 MB on disk, so it passes the upload cap,
    and 400 MB once decoded; no DCT scaling for PNG, and alpha to premultiply: the worst
    case for memory among the types the service accepts."""
    from PIL import Image

    from testkit import images

    ramp = Image.linear_gradient("L")
    side = (10000, 10000)
    pixels = Image.merge(
        "RGBA",
        (
            ramp.rotate(90).resize(side),
            ramp.resize(side),
            ramp.rotate(45).resize(side),
            ramp.rotate(180).resize(side),
        ),
    )
    return images.encode(pixels, "PNG", compress_level=1)


# ------------------------------------------------------------------------ measurements


@dataclass
class Rendered:
    original: Original
    sizes: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # bytes, w, h
    render_ms: list[float] = field(default_factory=list)
    floor_ms: list[float] = field(default_factory=list)


def floor(data: bytes) -> bytes:
    """The bare-Pillow floor: open, draft, one thumbnail to 1024, one WebP save."""
    from PIL import Image

    from profile_photos.images.pixels import QUALITY, effort

    image = Image.open(io.BytesIO(data))
    width, height = image.size
    scale = 1024 / max(width, height)
    image.draft("RGB", (max(1, round(width * scale)), max(1, round(height * scale))))
    image.thumbnail((1024, 1024))
    buffer = io.BytesIO()
    image.save(buffer, "WEBP", quality=QUALITY, method=effort(image.size))
    return buffer.getvalue()


def measure(original: Original, runs: int) -> Rendered:
    from profile_photos.images.render import render

    result = Rendered(original)
    made = render(original.data, original.content_type, tuple(SIZES.values()))  # warm-up
    floor(original.data)
    for name, side in SIZES.items():
        result.sizes[name] = (len(made[side].data), made[side].width, made[side].height)
    for _ in range(runs):
        started = time.perf_counter()
        floor(original.data)
        result.floor_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        render(original.data, original.content_type, tuple(SIZES.values()))
        result.render_ms.append((time.perf_counter() - started) * 1000)
    return result


def byte_rows(result: Rendered) -> list[Row]:
    original = result.original
    size = len(original.data)
    rows = [
        Row(
            SECTION,
            f"{original.name}: original bytes per view",
            size / MB,
            "MB",
            None,
            f"{size:,} B, {original.width}x{original.height} ({original.content_type})",
            {"bytes": size},
        )
    ]
    for name, (nbytes, width, height) in result.sizes.items():
        budget = {"SMALL": SMALL_BUDGET, "MEDIUM": MEDIUM_BUDGET}.get(name)
        rows.append(
            Row(
                SECTION,
                f"{original.name}: {name} bytes / original",
                100 * nbytes / size,
                "%",
                at_most(budget) if budget is not None and original.twelve_mp else None,
                f"{nbytes:,} B, {width}x{height} WebP",
                {"bytes": nbytes, "width": width, "height": height},
            )
        )
    return rows


def time_row(result: Rendered, budgeted: bool) -> Row:
    render_ms = statistics.median(result.render_ms)
    floor_ms = statistics.median(result.floor_ms)
    return Row(
        SECTION,
        f"{result.original.name}: render all three sizes / bare-Pillow floor",
        render_ms / floor_ms,
        "x",
        at_most(TIME_BUDGET) if budgeted else None,
        f"median {render_ms:.0f} ms vs {floor_ms:.0f} ms over {len(result.render_ms)} "
        "alternating runs (floor: open, draft, thumbnail to 1024, one WebP save at the 1024 px "
        "size's effort)",
        {"render_ms": result.render_ms, "floor_ms": result.floor_ms},
    )


MEMORY_CHILD = Path(__file__).resolve().parent / "renditions_memory_child.py"


def memory_size() -> tuple[int, str]:
    """The renditions function's MemorySize (MB) and where it was read."""
    from devkit.template import load_template

    template = load_template()
    function = template.get("Resources", {}).get("RenditionsFunction", {})
    size = function.get("Properties", {}).get("MemorySize")
    if isinstance(size, int):
        return size, "RenditionsFunction's MemorySize"
    fallback = template["Globals"]["Function"]["MemorySize"]
    return int(fallback), "Globals' MemorySize (template.yaml has no RenditionsFunction yet)"


def _child_env(function: str | None, workdir: Path) -> dict[str, str]:
    from bench import stack

    known = stack.functions()
    template_function = known.get(function) if function else None
    env = stack.function_env(template_function, "http://127.0.0.1:9", "R2", workdir)
    return env | {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8", "TZ": "UTC"}  # noqa: S108


def render_memory(data: bytes, content_type: str, workdir: Path) -> dict[str, Any]:
    path = workdir / f"memory-{content_type.replace('/', '.')}"
    path.write_bytes(data)
    spec = {
        "paths": [str(FUNCTION_DIR), str(SHARED)],
        "file": str(path),
        "content_type": content_type,
    }
    result = subprocess.run(  # noqa: S603 - this interpreter, our script
        [sys.executable, "-P", str(MEMORY_CHILD), json.dumps(spec)],
        env=_child_env("RenditionsFunction", workdir),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=workdir,
    )
    path.unlink(missing_ok=True)
    for line in result.stdout.splitlines():
        if line.startswith("BENCH_RENDER_MEMORY "):
            figures: dict[str, Any] = json.loads(line.removeprefix("BENCH_RENDER_MEMORY "))
            return figures
    raise RuntimeError(f"render process failed (exit {result.returncode}): {result.stderr[-2000:]}")


def memory_row(
    label: str, figures: dict[str, Any], limit_mb: int, where: str, budgeted: bool
) -> Row:
    peak, before = figures["peak"], figures["before"]
    share = 100 * peak / (limit_mb * MIB)
    return Row(
        SECTION,
        f"{label} render: peak resident memory / MemorySize",
        share,
        "%",
        at_most(MEMORY_BUDGET) if budgeted else None,
        f"{peak / MIB:.0f} MiB at the peak of a {limit_mb} MB function ({where}): "
        f"{before / MIB:.0f} MiB before (interpreter, "
        f"{' + '.join(figures['preloaded'] or ['no handler'])}, Pillow, the "
        f"{figures['file'] / MB:.1f} MB file) + {(peak - before) / MIB:.0f} MiB rendering, "
        f"{figures['seconds']:.1f} s; tracemalloc sees {figures['traced'] / MIB:.1f} MiB "
        "(Pillow's pixel buffers are C allocations it does not trace)"
        + ("" if figures["reset"] else "; VmHWM could not be reset: peak since start"),
        figures,
    )


# --------------------------------------------------------------------------------- run


def run(progress: Callable[[str], None] = lambda _: None) -> list[Row]:
    rows: list[Row] = []
    started = time.perf_counter()
    try:
        originals = corpus()
    except Exception as exc:
        return [failed(SECTION, "corpus", f"{type(exc).__name__}: {exc}")]
    progress(f"renditions: corpus made in {time.perf_counter() - started:.1f} s")
    results: list[Rendered] = []
    for original in originals:
        budgeted = original.content_type == "image/jpeg"
        try:
            result = measure(original, TIME_RUNS if budgeted else 3)
        except Exception as exc:
            rows.append(failed(SECTION, original.name, f"{type(exc).__name__}: {exc}"))
            continue
        results.append(result)
        rows += byte_rows(result)
        rows.append(time_row(result, budgeted))
        progress(f"renditions: {original.name} measured")
    limit_mb, where = memory_size()
    with tempfile.TemporaryDirectory(prefix="bench-renditions-") as tmp:
        workdir = Path(tmp)
        for label, build, content_type, budgeted in (
            ("100 MP JPEG", hundred_mp_jpeg, "image/jpeg", True),
            ("100 MP RGBA PNG", hundred_mp_png, "image/png", False),
        ):
            metric = f"{label} render: peak resident memory / MemorySize"
            budget = at_most(MEMORY_BUDGET) if budgeted else None
            try:
                figures = render_memory(build(), content_type, workdir)
            except Exception as exc:
                rows.append(failed(SECTION, metric, f"{type(exc).__name__}: {exc}", budget))
                continue
            rows.append(memory_row(label, figures, limit_mb, where, budgeted))
            progress(f"renditions: {label} peak memory measured")
    try:
        rows.append(stream_row())
    except Exception as exc:
        rows.append(failed(SECTION, "stream -> renditions stored", exc))
    progress("renditions: stream latency measured")
    return rows


def stream_row() -> Row:
    """How long the stream takes to make a new photo's sizes locally (bench/renditions_stream)."""
    # a fresh environment: the other sections point the SDK at their moto server
    inherited = ("AWS_", "MOTO_", "R2_", "OBJECT_STORAGE", "LOCAL_STORAGE", "RENDITIONS")
    env = {k: v for k, v in os.environ.items() if not k.startswith(inherited)}
    child = subprocess.run(
        [sys.executable, "-m", "bench.renditions_stream"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    figures = json.loads(child.stdout.strip().splitlines()[-1])
    return Row(
        SECTION,
        "stream -> 3 sizes stored (12 MP JPEG, renditions handler, LOCAL on moto)",
        figures["median_ms"],
        "ms",
        None,
        f"median of {len(figures['ms'])} new photos ({figures['bytes'] / MB:.1f} MB each): the "
        "handler's time for its INSERT batch (the lease claimed; the 3 sizes and 3 squares "
        "rendered and written; one GetItem after; what it learnt written with the lease "
        "given back); plus the "
        "stream's delivery, not in the figure: the local poller wakes every 0.2 s, AWS "
        "batches for up to 1 s (MaximumBatchingWindowInSeconds)",
        figures,
    )
