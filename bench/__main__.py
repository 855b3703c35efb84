"""`python -m bench` (`make bench`): one table of what each function costs, and its budgets.

Sections, in order:
  1. cold init       fresh python3.13 processes on the shipped build (bytecode, tracing on,
                     R2 and LOCAL, the renditions function too), against A' (a bare handler
                     built the same way) and F, with A (default-built) for reference, and
                     each function's -X importtime split against A' (bench/cold.py)
  2. requests        AWS calls per operation, counted by botocore hooks (bench/requests_count.py)
  3. warm time       in process, tracing on, beside each operation's floor; signed fetch's
                     duration per body size (bench/warm.py)
  4. peak memory     5 MiB upload under tracemalloc, the event's base64 copy counted
                     (bench/memory.py)
  5. layer size      the built layers, with and without what Lambda ships (bench/layer.py)
  6. history         10,000 archived photos vs none (bench/history.py)
  7. image parsers   crafted files + mutation fuzz: time per KB, peak memory (bench/parsers.py)
  8. renditions      bytes per view, render time vs a bare-Pillow floor, 100 MP peak memory
                     (bench/renditions.py)
  9. decode check    the upload's decode check per format (12 MP JPEG, 12 MP HEIC, 20 MP PNG)
                     beside the upload's warm time, its cold cost, 100 MP PNG peak memory
                     (bench/decode.py)
 10. hostile files   the worst accepted file of each format at the limits: check and render
                     time vs Timeout, peak memory vs MemorySize (bench/bombs.py)
 11. cost            per million views from the bytes (8) and durations (3) measured above
                     and bench/prices.py; the CDN's hit ratio by views per window
                     (bench/cost.py)

No network: every AWS endpoint is moto on 127.0.0.1, and `sam build` is incremental on SAM's
cache (filled by `make build` / `make test`; only a first build of the dependency layer
downloads wheels). The table goes to stdout, progress to stderr, and everything (raw runs
included, the commit it ran on and whether the tree was clean) to
bench/results/bench-<UTC time>.json and bench/results/latest.json; a full run refuses a dirty
tree unless BENCH_DIRTY=1 (recorded). `make bench-report` then rewrites the docs' generated
blocks from latest.json. `--markdown --from bench/results/latest.json` prints a saved run as
the README's Markdown without measuring anything; `--sections cold,requests` runs a subset
(saved to bench/results/partial-<UTC time>.json only, never to latest.json).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

from bench import (  # noqa: E402
    avatars,
    bombs,
    budgets,
    cold,
    cold_importtime,
    cold_rows,
    cost,
    decode,
    history,
    layer,
    memory,
    parsers,
    recorder,
    renditions,
    report,
    requests_count,
    stack,
    warm,
)

RESULTS = Path(__file__).resolve().parent / "results"


def progress(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def quiet_stdout() -> Iterator[None]:
    """Handlers log and emit metrics to stdout on every call: send fd 1 to /dev/null while
    they run (the work of formatting them is still done, as on Lambda)."""
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--cold-runs", type=int, default=10, help="processes per function (>= 10)")
    parser.add_argument("--warm-runs", type=int, default=60, help="calls per warm figure")
    parser.add_argument("--upload-runs", type=int, default=15, help="calls per 5 MiB upload figure")
    parser.add_argument("--skip-build", action="store_true", help="reuse .aws-sam/bench-build")
    parser.add_argument(
        "--markdown", action="store_true", help="print the table as Markdown (for the README)"
    )
    parser.add_argument(
        "--show",
        "--from",
        dest="show",
        type=Path,
        metavar="JSON",
        help="print a saved run's table again (with --markdown: the README's), measure nothing",
    )
    parser.add_argument(
        "--sections",
        type=lambda text: [name.strip() for name in text.split(",") if name.strip()],
        help=f"comma-separated subset of {','.join(ALL_SECTIONS)}; saved as a partial run only",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="3 cold processes, 15 warm calls: a smoke run, not a result",
    )
    parser.add_argument(
        "--only",
        choices=sorted(PURE_SECTIONS),
        help="run one section that needs no build and no stack, print it, save nothing",
    )
    args = parser.parse_args(argv)
    unknown = set(args.sections or []) - set(ALL_SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    if args.cold_runs < 10 and not args.quick:
        parser.error("--cold-runs must be at least 10 (the budget is a median of >= 10)")
    if args.quick:
        args.cold_runs, args.warm_runs, args.upload_runs = 3, 15, 5
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.show:
        saved = json.loads(args.show.read_text())
        rows = [budgets.row_from_json(row) for row in saved["rows"]]
        if args.markdown:
            print(report.render_markdown(saved))
        else:
            print(budgets.render_table(rows))
            if costs := cost.table_text(rows, markdown=False):
                print(f"\n{costs}")
        return 0
    if args.only:
        return run_only(args.only, args.markdown)
    tree = work_tree()
    if not args.sections and not tree["clean"]:
        if os.environ.get("BENCH_DIRTY") != "1":
            print(
                "bench: the work tree has changes (git status --porcelain is not empty): a "
                "full run would write bench/results/latest.json for code no commit holds.\n"
                "Commit or stash them, or run `BENCH_DIRTY=1 make bench` to record a dirty "
                "run (it says so in latest.json and on every page that shows it).",
                file=sys.stderr,
            )
            return 2
        progress("!" * 72)
        progress("BENCH_DIRTY=1: measuring a DIRTY work tree; latest.json will say so")
        progress("!" * 72)
    # the anchor publishes no metric on purpose: Powertools warns once, to stderr
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    started = time.perf_counter()
    stamp = datetime.now(UTC)
    runtime = layer.runtime_version()
    interpreter = layer.find_interpreter(runtime)
    progress(f"{runtime}: {interpreter}")
    wanted = set(args.sections or ALL_SECTIONS)
    if "cost" in wanted:  # priced from what these two measure
        wanted |= {"warm", "renditions"}
    needs_build = bool(wanted & {"cold", "layer"})
    if not needs_build:
        pass
    elif args.skip_build and (layer.BUILD_DIR / "template.yaml").exists():
        progress(f"reusing {layer.BUILD_DIR.relative_to(ROOT)}")
    else:
        progress(f"sam build -> {layer.BUILD_DIR.relative_to(ROOT)} ...")
        progress(f"sam build took {layer.sam_build(interpreter):.1f} s")
    if needs_build:  # what `make build` ships: bytecode (idempotent on a reused build)
        layer.precompile(interpreter, layer.BUILD_DIR)
        progress("bytecode compiled into the build (tools/precompile.py)")

    sections: dict[str, list[budgets.Row]] = {}
    timings: dict[str, float] = {}
    importtimes: dict[str, object] = {}
    moto = stack.MotoProcess()
    endpoint = moto.start()
    progress(f"moto on {endpoint}")
    try:
        stack.create_state(endpoint)
        with tempfile.TemporaryDirectory(prefix="profile-photos-bench-") as tmp:
            workdir = Path(tmp)

            def section(name: str) -> contextlib.AbstractContextManager[None]:
                return _timed(name, timings)

            if "cold" in wanted:
                with section("cold"):
                    result = cold.measure(interpreter, endpoint, args.cold_runs, workdir, progress)
                    sections["cold"] = cold_rows.rows(result)
                    profiled = cold_rows.profiled_targets(result)
                    if profiled:
                        progress(f"cold: -X importtime for {', '.join(profiled)}")
                        importtimes = cold_importtime.importtime_report(
                            interpreter, endpoint, result, profiled, workdir
                        )
                cold.State(endpoint, workdir).reset()  # the later sections start clean

            recorder.install()  # before this process creates any client of the service
            with quiet_stdout():
                service = stack.Service(endpoint, workdir)
                for name, run in (
                    ("requests", lambda: requests_count.run(service)),
                    (
                        "warm",
                        lambda: warm.run(service, args.warm_runs, args.upload_runs, workdir),
                    ),
                    ("memory", lambda: memory.run(service, workdir)),
                    ("layer", layer.layer_rows),
                    ("history", lambda: history.run(service, progress)),
                    ("decode", lambda: decode.run(service, workdir, progress)),
                ):
                    if name in wanted:
                        with section(name):
                            sections[name] = run()
                        progress(f"{name} measured")
    finally:
        moto.stop()
    if "parsers" in wanted:
        with _timed("parsers", timings):  # pure Python, no stack
            sections["parsers"] = parsers.run(progress)
        progress("image parsers measured")
    if "renditions" in wanted:
        with _timed("renditions", timings):  # Pillow in this process and in child processes
            sections["renditions"] = renditions.run(progress)
        progress("renditions measured")
    if "bombs" in wanted:
        with _timed("bombs", timings), tempfile.TemporaryDirectory() as scratch:
            sections["bombs"] = bombs.run(Path(scratch), progress)  # child processes
        progress("hostile files measured")
    if "avatars" in wanted:
        with _timed("avatars", timings):  # Pillow and dlib here, 100 MP in child processes
            sections["avatars"] = avatars.run(progress)
        progress("avatars measured")
    if "cost" in wanted:  # from the rows above: nothing measured
        measured = [row for rows_ in sections.values() for row in rows_]
        sections["cost"] = cost.rows(measured)
    rows = [row for name in ALL_SECTIONS for row in sections.get(name, [])]
    elapsed = time.perf_counter() - started
    print(budgets.render_markdown(rows) if args.markdown else budgets.render_table(rows))
    counts = budgets.summary(rows)
    print(
        f"\n{counts[budgets.MET]} budgets met, {counts[budgets.NOT_MET]} not met, "
        f"{counts[budgets.FAILED]} failed to measure; {len(rows)} figures in {elapsed:.0f} s "
        f"({', '.join(f'{k} {v:.0f} s' for k, v in timings.items())})"
        + (" [--quick: a smoke run, not a result]" if args.quick else "")
    )
    if costs := cost.table_text(rows, markdown=args.markdown):
        print(f"\n{costs}")
    if importtimes:
        print(f"\n{IMPORTTIME_TITLE}:")
        print(cold_importtime.render_importtime(importtimes))
    for row in budgets.misses(rows):
        if row.status == budgets.FAILED:
            print(f"\nFAILED: {row.metric}: {row.notes}")

    payload = {
        "started": stamp.isoformat(),
        "commit": tree["commit"],
        "clean": tree["clean"],
        "dirty_allowed": not tree["clean"] and os.environ.get("BENCH_DIRTY") == "1",
        "sections": sorted(wanted),
        "seconds": elapsed,
        "section_seconds": timings,
        "quick": args.quick,
        "runtime": runtime,
        "interpreter": str(interpreter),
        "python": platform.python_version(),
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs",
        "summary": counts,
        "rows": [row.as_json() for row in rows],
        "importtime": importtimes,
    }
    when = stamp.strftime("%Y%m%dT%H%M%SZ")
    if args.sections:
        path = RESULTS / f"partial-{when}.json"
        budgets.write_json(path, payload)
        print(f"\nresults: {path.relative_to(ROOT)} (a partial run: latest.json untouched)")
    else:
        path = RESULTS / f"bench-{when}.json"
        budgets.write_json(path, payload)
        budgets.write_json(RESULTS / "latest.json", payload)
        print(f"\nresults: {path.relative_to(ROOT)} (and bench/results/latest.json)")
    return 1 if counts[budgets.FAILED] else 0  # a missed budget is a result, not an error


ALL_SECTIONS = report.ALL
IMPORTTIME_TITLE = report.IMPORTTIME_TITLE


def work_tree() -> dict[str, Any]:
    """The commit the run measured (`+dirty` when the work tree had changes) and whether the
    tree was clean: `git status --porcelain` printed nothing (untracked files count)."""

    def git(*args: str) -> str:
        result = subprocess.run(  # noqa: S603 - git, fixed arguments
            ["git", *args],  # noqa: S607 - git from PATH, as make runs it
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        return result.stdout.strip() if result.returncode == 0 else ""

    head = git("rev-parse", "--short=12", "HEAD") or "unknown"
    clean = head != "unknown" and not git("status", "--porcelain")
    return {"commit": head + ("" if clean else "+dirty"), "clean": clean}


# Sections that need neither `sam build` nor moto: `--only NAME` runs one of them alone.
PURE_SECTIONS = {
    "parsers": parsers.run,
    "renditions": renditions.run,
    "bombs": bombs.run_alone,
    "avatars": avatars.run,
}


def run_only(name: str, markdown: bool) -> int:
    """One pure section: its table (and the cost matrix), nothing saved to bench/results."""
    started = time.perf_counter()
    rows = PURE_SECTIONS[name](progress)
    print(budgets.render_markdown(rows) if markdown else budgets.render_table(rows))
    counts = budgets.summary(rows)
    print(
        f"\n{counts[budgets.MET]} budgets met, {counts[budgets.NOT_MET]} not met, "
        f"{counts[budgets.FAILED]} failed to measure; {len(rows)} figures in "
        f"{time.perf_counter() - started:.0f} s (--only {name}: not saved)"
    )
    if costs := cost.table_text(rows, markdown=markdown):
        print(f"\n{costs}")
    for row in budgets.misses(rows):
        if row.status == budgets.FAILED:
            print(f"\nFAILED: {row.metric}: {row.notes}")
    return 1 if counts[budgets.FAILED] else 0


@contextlib.contextmanager
def _timed(name: str, timings: dict[str, float]) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        timings[name] = time.perf_counter() - started


if __name__ == "__main__":
    sys.exit(main())
