"""The performance figures, rendered from `bench/results/latest.json`: the one source.

`make bench` writes that file (every row, its budget, status and notes, the run it came from,
its commit and whether the tree was clean); this module only formats it, one table per
section, so a page shows the committed run and nothing typed by hand.

The figures are checked in where they are read on GitHub: `make bench-report` (`rewrite`)
fills each `<!-- generated: NAME -->` ... `<!-- end generated: NAME -->` block of the
README and docs/performance.md whose NAME is in `GENERATORS`; the site's build fills the same
blocks again (docs/gen/hooks.py), and tests/unit/test_bench_report.py fails when a checked-in
block differs from what latest.json gives.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
LATEST = ROOT / "bench" / "results" / "latest.json"
# The files whose bench blocks `make bench-report` rewrites.
REPORTED = (ROOT / "README.md", ROOT / "docs" / "performance.md")


def load(path: Path = LATEST) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return payload


def value_text(value: float | None, unit: str) -> str:
    """A value as `make bench` prints it."""
    if value is None:
        return "n/a"
    formats = {
        "x": f"{value:.2f}x",
        "MB": f"{value:.1f} MB",
        "delta": f"{value:+g}",
        "%": f"{value:.2f}%",
        "USD": f"${value:,.2f}",
        "ms": f"{value:.0f} ms",
    }
    if unit in formats:
        return formats[unit]
    return f"{int(value)}" if float(value).is_integer() else f"{value:.2f}"


def cell(text: object) -> str:
    return " ".join(str(text).split()).replace("|", "\\|").replace("<=", "≤")


def sections(payload: dict[str, Any]) -> list[tuple[str, list[dict[str, Any]]]]:
    """The rows grouped by section, in the order the run produced them."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for row in payload["rows"]:
        grouped.setdefault(row["section"], []).append(row)
    return list(grouped.items())


def tree_state(payload: dict[str, Any]) -> str:
    """Whether the run measured a committed tree, as latest.json records it."""
    if "clean" not in payload:
        return "tree state not recorded"
    if payload["clean"]:
        return "clean tree"
    return "**dirty tree** (BENCH_DIRTY=1): the figures are of uncommitted code"


def render(payload: dict[str, Any] | None = None) -> str:
    payload = payload or load()
    summary = payload.get("summary", {})
    started = payload["started"].replace("T", " ")[:16]
    out = [
        f"Run of {started} UTC ({payload.get('machine', '')}; {payload.get('runtime', '')} "
        f"{payload.get('python', '')}), commit `{payload.get('commit', '')}` "
        f"({tree_state(payload)}), "
        f"{payload.get('seconds', 0):.0f} s: {summary.get('met', 0)} budgets met, "
        f"{summary.get('NOT MET', 0)} not met, {summary.get('FAILED', 0)} failed to measure.",
        "",
    ]
    for title, rows in sections(payload):
        name, _, scope = title.partition(" (")
        out += [f"### {cell(name[:1].upper() + name[1:])}", ""]
        if scope:
            out += [f"*{cell(scope.removesuffix(')'))}*", ""]
        out += ["| Metric | Value | Budget | Status | Notes |", "| --- | ---: | --- | --- | --- |"]
        for row in rows:
            budget = row.get("budget_text") or "-"
            out.append(
                f"| {cell(row['metric'])} | {value_text(row['value'], row['unit'])}"
                f" | {cell(budget)} | {row['status']} | {cell(row.get('notes', ''))} |"
            )
        out.append("")
    out += importtime(payload)
    return "\n".join(out)


def importtime(payload: dict[str, Any], top: int = 8) -> list[str]:
    """Where cold-start imports go: each measured process's top packages by self time."""
    measured = payload.get("importtime") or {}
    if not measured:
        return []
    out = [
        "### Where the cold-start imports go",
        "",
        "*`python -X importtime`, self time summed per top-level package, ms*",
        "",
        "| Process | " + " | ".join(f"#{rank}" for rank in range(1, top + 1)) + " |",
        "| --- |" + " --- |" * top,
    ]
    for process, figures in measured.items():
        packages = sorted(
            figures.get("packages_ms", {}).items(), key=lambda item: item[1], reverse=True
        )[:top]
        cells = [f"{name} {ms:.0f}" for name, ms in packages]
        cells += [""] * (top - len(cells))
        out.append(f"| {cell(process)} | " + " | ".join(cells) + " |")
    out.append("")
    return out


def cost_matrix(payload: dict[str, Any] | None = None) -> str:
    """The cost tables the run priced (bench/cost.py saves them formatted in its first row),
    as Markdown; a run saved before that module, its renditions row's `matrix`."""
    payload = payload or load()
    rows = payload["rows"]
    tables = next((r["data"]["tables"] for r in rows if "tables" in r.get("data", {})), None)
    if tables:
        out: list[str] = []
        for table in tables:
            header = table["header"]
            out += [f"{cell(table['title'])}:", ""]
            out.append("| " + " | ".join(cell(h) for h in header) + " |")
            out.append("| --- |" + " ---: |" * (len(header) - 1))
            out += ["| " + " | ".join(cell(c) for c in line) + " |" for line in table["rows"]]
            out.append("")
        return "\n".join(out).rstrip("\n")
    data = next((row["data"] for row in payload["rows"] if "matrix" in row.get("data", {})), None)
    if not data:
        return "*The committed run priced no views.*"
    sizes: dict[str, int] = data["bytes"]
    assumed = data.get("assumed", {})
    out = [
        f"Cost per million views of one {data['photo']} (USD, list prices as published on "
        f"{data['as_published_on']}, `bench/prices.py`; signed fetch at "
        f"{data['fetch_memory_mb']} MB, Lambda duration assumed "
        f"{assumed.get('fetch_ms', 0):.0f} ms + {assumed.get('fetch_ms_per_mb', 0):.0f} ms/MB):",
        "",
        "| per 1M views | " + " | ".join(f"{s} ({n / 1000:,.0f} KB)" for s, n in sizes.items()),
        "| --- |" + " ---: |" * len(sizes),
    ]
    out[2] += " |"
    for way, costs in data["matrix"].items():
        out.append(f"| {cell(way)} | " + " | ".join(f"${costs[s]:,.2f}" for s in sizes) + " |")
    return "\n".join(out)


LOAD_LATEST = ROOT / "bench" / "results" / "load-latest.json"


def load_run(path: Path = LOAD_LATEST) -> str:
    """The last committed `make load` run: per operation, latency percentiles and statuses."""
    run: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    limits = run.get("limits", {})
    broken = sorted(name for name, found in run.get("invariants", {}).items() if found)
    out = [
        f"Run finished {run['finished_at']} ({run['users']} users, {run['seconds']:.0f} s, "
        f"seed {run.get('seed')}; {limits.get('per_minute')} units a minute, "
        f"{limits.get('active')} active photos per user; `bench/results/load-latest.json`):",
        "",
        "| operation | count | p50 ms | p95 ms | p99 ms | statuses |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for name, figures in run["operations"].items():
        statuses = ", ".join(f"{code}: {n}" for code, n in figures["statuses"].items())
        out.append(
            f"| {name} | {figures['count']} | {figures['p50_ms']:.0f} | {figures['p95_ms']:.0f}"
            f" | {figures['p99_ms']:.0f} | {statuses} |"
        )
    out += [
        "",
        f"{run['requests']} requests in {run['seconds']:.0f} s "
        f"({run['throughput_per_second']:.1f}/s), {run['acknowledged_uploads']} uploads "
        f"acknowledged, {run['restored']} restores, {run['deleted']} deletes, "
        f"{run['rate_limited']} requests refused by the rate limit; the stream settled in "
        f"{run['settle_seconds']:.1f} s; "
        + ("every invariant holds." if run.get("ok") and not broken else f"broken: {broken}."),
    ]
    return "\n".join(out)


# Blocks `make bench-report` writes: the figures of the committed bench run.
GENERATORS: dict[str, Callable[[], str]] = {"performance": render, "cost-per-view": cost_matrix}
BLOCK = re.compile(
    r"<!--\s*generated:\s*(?P<name>[a-z-]+)\s*-->"
    r"(?:\n.*?\n<!--\s*end generated:\s*(?P=name)\s*-->)?",
    re.DOTALL,
)


def block(name: str, body: str) -> str:
    """A filled block: its markers around the generated text."""
    return f"<!-- generated: {name} -->\n{body.strip()}\n<!-- end generated: {name} -->"


def rewrite(text: str, generators: dict[str, Callable[[], str]] | None = None) -> str:
    """`text` with each bench block (bare marker or filled block) filled afresh; every other
    marker left for the site's build."""
    chosen = GENERATORS if generators is None else generators

    def fill(match: re.Match[str]) -> str:
        name = match.group("name")
        return block(name, chosen[name]()) if name in chosen else match.group(0)

    return BLOCK.sub(fill, text)


def main(argv: list[str] | None = None) -> int:
    """`python -m docs.gen.bench_tables [--check]`: rewrite (or check) the REPORTED files."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    check = "--check" in args
    stale = []
    for path in REPORTED:
        text = path.read_text(encoding="utf-8")
        fresh = rewrite(text)
        if fresh == text:
            continue
        stale.append(path.relative_to(ROOT).as_posix())
        if not check:
            path.write_text(fresh, encoding="utf-8")
    payload = load()
    what = f"commit {payload.get('commit')} ({tree_state(payload)})"
    if check:
        if stale:
            print(f"bench-report: out of date with latest.json ({what}): {', '.join(stale)}")
            return 1
        print(f"bench-report: every block matches latest.json ({what})")
        return 0
    print(f"bench-report: {', '.join(stale) or 'nothing'} rewritten from latest.json ({what})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
