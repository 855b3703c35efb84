"""Rows of the bench table, their budgets, and how the table is printed and saved.

Pure: no timing, no I/O besides `write_json`. Every value is a ratio measured in the same run
or a count; absolute times appear only in a row's notes, for reading, never in a budget.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

MET = "met"
NOT_MET = "NOT MET"
NO_BUDGET = "-"
FAILED = "FAILED"  # the measurement itself failed: the budget cannot be judged


@dataclass(frozen=True, slots=True)
class Budget:
    """`value <= limit` (kind "max") or `value == limit` (kind "eq")."""

    kind: str
    limit: float
    label: str = ""

    def met(self, value: float) -> bool:
        if self.kind == "max":
            return value <= self.limit + 1e-9
        if self.kind == "eq":
            return math.isclose(value, self.limit, abs_tol=1e-9)
        raise ValueError(f"unknown budget kind {self.kind!r}")

    def text(self, unit: str = "") -> str:
        if self.label:
            return self.label
        sign = "<=" if self.kind == "max" else "="
        return f"{sign} {format_value(self.limit, unit)}"


def at_most(limit: float, label: str = "") -> Budget:
    return Budget("max", limit, label)


def exactly(limit: float, label: str = "") -> Budget:
    return Budget("eq", limit, label)


@dataclass(slots=True)
class Row:
    section: str
    metric: str
    value: float | None  # None: the measurement failed (see `notes`)
    unit: str = ""  # "x" (ratio), "" (count), "MB"
    budget: Budget | None = None
    notes: str = ""
    data: dict[str, Any] = field(default_factory=dict)  # raw figures, for the JSON only
    # A second condition the budget's label states and the value cannot carry, e.g. "= 1, a
    # GetItem": the count is `value`, whether it is a GetItem is `holds`.
    holds: bool = True

    @property
    def status(self) -> str:
        if self.value is None:
            return FAILED
        if self.budget is None:
            return NO_BUDGET
        return MET if self.budget.met(self.value) and self.holds else NOT_MET

    def as_json(self) -> dict[str, Any]:
        return {
            "section": self.section,
            "metric": self.metric,
            "value": self.value,
            "unit": self.unit,
            "budget": None if self.budget is None else asdict(self.budget),
            "budget_text": "" if self.budget is None else self.budget.text(self.unit),
            "status": self.status,
            "notes": self.notes,
            "holds": self.holds,
            "data": self.data,
        }


def row_from_json(data: dict[str, Any]) -> Row:
    """A row as `Row.as_json` saved it (to print a saved run again)."""
    budget = Budget(**data["budget"]) if data.get("budget") else None
    return Row(
        data["section"],
        data["metric"],
        data["value"],
        data.get("unit", ""),
        budget,
        data.get("notes", ""),
        data.get("data", {}),
        data.get("holds", True),
    )


def failed(
    section: str, metric: str, error: BaseException | str, budget: Budget | None = None
) -> Row:
    return Row(section, metric, None, budget=budget, notes=f"measurement failed: {error}")


def format_value(value: float | None, unit: str = "") -> str:
    if value is None:
        return "n/a"
    if unit == "x":
        return f"{value:.2f}x"
    if unit == "MB":
        return f"{value:.1f} MB"
    if unit == "delta":
        return f"{value:+g}"
    if unit == "%":  # a share, in percent
        return f"{value:.2f}%"
    if unit == "USD":
        return f"${value:,.2f}"
    if unit == "ms":
        return f"{value:.0f} ms"
    if float(value).is_integer():
        return f"{int(value)}"
    return f"{value:.2f}"


HEADERS = ("metric", "value", "budget", "status", "notes")


def render_table(rows: Sequence[Row], notes_width: int = 70) -> str:
    """One plain-text table, grouped by section; notes wrap onto continuation lines."""
    cells = [
        (
            row.metric,
            format_value(row.value, row.unit),
            row.budget.text(row.unit) if row.budget else "-",
            row.status,
        )
        for row in rows
    ]
    widths = [
        max(len(h), *(len(c[i]) for c in cells)) if cells else len(h)
        for i, h in enumerate(HEADERS[:4])
    ]
    line = (
        "  ".join(h.ljust(w) for h, w in zip(HEADERS[:4], widths, strict=True)) + "  " + HEADERS[4]
    )
    out = [line, "-" * (len(line) + notes_width - len(HEADERS[4]))]
    section = None
    for row, cell in zip(rows, cells, strict=True):
        if row.section != section:
            section = row.section
            out.append(f"[{section}]")
        note_lines = _wrap(row.notes, notes_width) or [""]
        first = "  ".join(c.ljust(w) for c, w in zip(cell, widths, strict=True))
        out.append(f"{first}  {note_lines[0]}".rstrip())
        indent = " " * (len(first) + 2)
        out += [f"{indent}{extra}" for extra in note_lines[1:]]
    return "\n".join(out)


def render_markdown(rows: Sequence[Row]) -> str:
    """The same table as Markdown (for the README), notes left out."""
    out = ["| metric | value | budget | status |", "|---|---:|---|---|"]
    section = None
    for row in rows:
        if row.section != section:
            section = row.section
            out.append(f"| **{section}** | | | |")
        budget = row.budget.text(row.unit) if row.budget else "-"
        value = format_value(row.value, row.unit)
        out.append(f"| {row.metric} | {value} | {budget} | {row.status} |".replace("<=", "≤"))
    return "\n".join(out)


def _wrap(text: str, width: int) -> list[str]:
    lines: list[str] = []
    current = ""
    for word in text.split():
        if current and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    if current:
        lines.append(current)
    return lines


def summary(rows: Iterable[Row]) -> dict[str, int]:
    counts = {MET: 0, NOT_MET: 0, FAILED: 0, NO_BUDGET: 0}
    for row in rows:
        counts[row.status] += 1
    return counts


def misses(rows: Iterable[Row]) -> list[Row]:
    return [row for row in rows if row.status in (NOT_MET, FAILED)]


def write_json(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    tmp.replace(path)
