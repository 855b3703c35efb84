"""Where each function's cold-start time goes beside A': `-X importtime`.

Run by `make bench` after bench/cold.py's rows, for every function in each provider (and A'
beside them): the same fresh processes, first event included, with `-X importtime`; self
time summed by top-level package, the median over a few processes, and the largest imports
of one. The difference per package against A' is where a function's time over the anchor
goes.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench.cold import ANCHOR, LABELS, ColdResult, State, run_child, unused_udp_port


def parse_importtime(stderr: str) -> list[tuple[str, int, int, int]]:
    """(module, self us, cumulative us, nesting depth) per line of `-X importtime`."""
    entries = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        head, cumulative, name = line.split("|", 2)
        depth = (len(name) - len(name.lstrip()) - 1) // 2
        entries.append((name.strip(), int(head.split(":", 1)[1]), int(cumulative), depth))
    return entries


def by_package(entries: list[tuple[str, int, int, int]]) -> dict[str, float]:
    """Self time (ms) summed by top-level package."""
    totals: dict[str, float] = defaultdict(float)
    for name, self_us, _, _ in entries:
        totals[name.split(".")[0]] += self_us / 1000
    return dict(totals)


def importtime_report(
    interpreter: Path,
    endpoint: str,
    result: ColdResult,
    keys: list[str],
    workdir: Path,
    repeats: int = 3,
) -> dict[str, Any]:
    """For each of `keys` (and A'): the packages that take the import time, as the median over
    `repeats` processes of `-X importtime`. The processes serve their first event too, so
    imports made on first use count."""
    by_key = {t.key: t for t in result.targets}
    state = State(endpoint, workdir)
    port = unused_udp_port()
    report: dict[str, Any] = {}
    for key in [ANCHOR, *keys]:
        target = by_key[key]
        samples = []
        largest: list[tuple[str, int, int, int]] = []
        for run in range(repeats):
            event = state.prepare(target)
            _, stderr = run_child(interpreter, target, event, workdir, port, importtime=True)
            entries = parse_importtime(stderr)
            samples.append(by_package(entries))
            if run == 0:
                largest = sorted(entries, key=lambda e: e[2], reverse=True)[:12]
        packages = {
            package: statistics.median(sample.get(package, 0.0) for sample in samples)
            for package in set().union(*samples)
        }
        report[key] = {
            "packages_ms": dict(sorted(packages.items(), key=lambda kv: -kv[1])),
            "largest": [
                {"module": m, "self_ms": s / 1000, "cumulative_ms": c / 1000, "depth": d}
                for m, s, c, d in largest
            ],
        }
    return report


def render_importtime(report: dict[str, Any], top: int = 10) -> str:
    anchor = report.get(ANCHOR, {}).get("packages_ms", {})
    lines = []
    for key, data in report.items():
        if key == ANCHOR:
            continue
        function, _, provider = key.partition("/")
        total = sum(data["packages_ms"].values())
        lines.append(
            f"{LABELS.get(function, function)} ({provider}): {total:.0f} ms of imports, first "
            f"event included (A' {sum(anchor.values()):.0f} ms); top packages, self time summed:"
        )
        for package, ms in list(data["packages_ms"].items())[:top]:
            extra = ms - anchor.get(package, 0.0)
            lines.append(
                f"    {package:<28} {ms:7.1f} ms   A' {anchor.get(package, 0.0):7.1f}"
                f"   {extra:+7.1f}"
            )
        lines.append("  largest imports (cumulative, one process):")
        for entry in data["largest"][:top]:
            lines.append(
                f"    {'  ' * entry['depth']}{entry['module']:<{50 - 2 * entry['depth']}} "
                f"{entry['cumulative_ms']:7.1f} ms"
            )
    return "\n".join(lines)
