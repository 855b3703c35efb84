"""A saved run (bench/results/*.json) as Markdown for the console: what ran, on which commit,
the table with every budget's status, the summary, the cost tables, and the `-X importtime`
figures. Pure: the payload in, text out.

`python -m bench --markdown --from bench/results/latest.json` prints it. The checked-in
pages are not pasted from it: `make bench-report` writes their generated blocks from the
same JSON (docs/gen/bench_tables.py), and a unit test keeps them equal.
"""

from __future__ import annotations

from typing import Any

from bench import budgets, cold_importtime, cost

IMPORTTIME_TITLE = "Where the cold-start time goes (python -X importtime, median of 3 processes)"


def heading(payload: dict[str, Any]) -> str:
    """`Run of 2026-12-03 14:00 UTC (Linux x86_64, 2 CPUs; python3.13 3.13.0), commit abc,
    612 s:`"""
    started = str(payload.get("started", "?"))
    day, _, clock = started.partition("T")
    when = f"{day} {clock[:5]} UTC" if clock else day
    commit = payload.get("commit") or "unknown"
    extra = []
    if payload.get("quick"):
        extra.append("--quick: a smoke run, not a result")
    sections = payload.get("sections")
    if sections and set(sections) != set(ALL):
        extra.append(f"sections {', '.join(sections)} only")
    return (
        f"Run of {when} ({payload.get('machine', '?')}; {payload.get('runtime', '?')} "
        f"{payload.get('python', '')}), commit {commit}, {payload.get('seconds', 0):.0f} s"
        + (f" ({'; '.join(extra)})" if extra else "")
        + ":"
    )


ALL = (
    "cold",
    "requests",
    "warm",
    "memory",
    "layer",
    "history",
    "parsers",
    "renditions",
    "decode",
    "bombs",
    "avatars",
    "cost",
)


def render_markdown(payload: dict[str, Any]) -> str:
    rows = [budgets.row_from_json(row) for row in payload["rows"]]
    counts = budgets.summary(rows)
    parts = [
        heading(payload),
        "",
        budgets.render_markdown(rows),
        "",
        f"{counts[budgets.MET]} budgets met, {counts[budgets.NOT_MET]} not met, "
        f"{counts[budgets.FAILED]} failed to measure.",
    ]
    missed = budgets.misses(rows)
    if missed:
        parts += ["", "Missed or failed:", ""]
        parts += [
            f"- {row.metric}: {budgets.format_value(row.value, row.unit)} "
            f"({row.budget.text(row.unit) if row.budget else '-'}; {row.status}): {row.notes}"
            for row in missed
        ]
    if costs := cost.table_text(rows, markdown=True):
        parts += ["", costs]
    if payload.get("importtime"):
        parts += ["", f"{IMPORTTIME_TITLE}:", "", "```"]
        parts += [cold_importtime.render_importtime(payload["importtime"]), "```"]
    return "\n".join(parts)
