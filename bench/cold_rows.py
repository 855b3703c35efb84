"""The cold-start section's rows: each function's median against A' and against its floor F.

bench/cold.py measures (a `ColdResult`); this judges: A' (the bare handler built as the
functions are) and A (default-built, a reference without budget), then per function and
provider, cold init / A' against `BUDGETS_A`, cold init / F against `BUDGET_F`, the same
without the first event's time inside AWS calls (information), and two checks that hold for
every process: the Tracer saw Lambda with tracing active, and each function's first event sent
X-Ray segments. A measurement that failed is a failed row, never a met one.
"""

from __future__ import annotations

import statistics
from typing import Any

from bench.budgets import Row, at_most, exactly, failed
from bench.cold import (
    ANCHOR,
    BUDGET_F,
    BUDGETS_A,
    LABELS,
    PROVIDERS,
    REFERENCE,
    SECTION,
    ColdResult,
    floor_key,
    handler_key,
)


def _note(result: ColdResult, key: str) -> str:
    rejected = result.rejected.get(key, [])
    return (
        f"median {result.median(key):.0f} ms over {len(result.runs[key])} processes (import "
        f"{result.median(key, 'import_ms'):.0f} + first event "
        f"{result.median(key, 'first_event_ms'):.0f} ms; "
        f"{statistics.median(r['modules'] for r in result.runs[key]):.0f} modules)"
        + (f"; {len(rejected)} samples left out ({rejected[0]})" if rejected else "")
    )


def _raw(result: ColdResult, key: str) -> list[dict[str, Any]]:
    return [
        {k: v for k, v in run.items() if k not in ("loaded", "clients")} for run in result.runs[key]
    ]


def _anchor_row(result: ColdResult, key: str, extra: str) -> Row:
    median = result.median(key)
    return Row(
        SECTION,
        f"{LABELS[key]}: cold init",
        median,
        "ms",
        None,
        _note(result, key) + extra,
        {"key": key, "median_ms": median, "runs": _raw(result, key)},
    )


def rows(result: ColdResult) -> list[Row]:
    out: list[Row] = []
    if not result.runs.get(ANCHOR):
        error = result.errors.get(ANCHOR, "no runs")
        return [failed(SECTION, f"{LABELS[ANCHOR]}: cold init", error)]
    anchor = result.median(ANCHOR)
    out.append(
        _anchor_row(
            result,
            ANCHOR,
            f"; the shipped build holds {result.shipped_pyc} .pyc files; every budget "
            "below divides by this",
        )
    )
    if result.runs.get(REFERENCE):
        reference = result.median(REFERENCE)
        out.append(
            _anchor_row(
                result,
                REFERENCE,
                f"; its build holds {result.default_pyc} .pyc files; {reference / anchor:.2f}x "
                "A': what the bytecode alone buys (no budget)",
            )
        )
    else:
        out.append(
            failed(SECTION, f"{LABELS[REFERENCE]}: cold init", result.errors.get(REFERENCE, ""))
        )
    for function, limits in BUDGETS_A.items():
        for provider in PROVIDERS:
            key = handler_key(function, provider)
            label = f"{LABELS[function]} ({provider})"
            metric = f"{label}: cold init / A'"
            limit = limits[provider]
            budget_a = at_most(limit) if limit is not None else None
            if not result.runs.get(key):
                rejected = "; ".join(result.rejected.get(key, []))
                error = result.errors.get(key) or rejected or "no runs"
                out.append(failed(SECTION, metric, error, budget_a))
                out.append(failed(SECTION, f"{label}: cold init / F", error, at_most(BUDGET_F)))
                continue
            median = result.median(key)
            out.append(
                Row(
                    SECTION,
                    metric,
                    median / anchor,
                    "x",
                    budget_a,
                    f"{_note(result, key)} vs A' {anchor:.0f} ms; X-Ray datagrams sent by its "
                    f"first event: {result.datagrams.get(key, 0)}",
                    {
                        "function": function,
                        "provider": provider,
                        "key": key,
                        "median_ms": median,
                        "runs": _raw(result, key),
                    },
                )
            )
            fkey = floor_key(function, provider)
            if not result.runs.get(fkey):
                error = result.errors.get(fkey, "no floor runs")
                out.append(failed(SECTION, f"{label}: cold init / F", error, at_most(BUDGET_F)))
                continue
            floor = result.median(fkey)
            info = result.floors.get(key, {})
            services = ", ".join(c["service"] for c in info.get("clients", [])) or "none"
            failures = result.runs[fkey][0].get("failed", [])
            out.append(
                Row(
                    SECTION,
                    f"{label}: cold init / F",
                    median / floor,
                    "x",
                    at_most(BUDGET_F),
                    f"{median:.0f} ms vs F {floor:.0f} ms (= {floor / anchor:.2f}x A': "
                    f"{info.get('imports', 0)} third-party modules, import "
                    f"{result.median(fkey, 'import_ms'):.0f} ms; clients: {services}, "
                    f"{result.median(fkey, 'first_event_ms'):.0f} ms)"
                    + (f"; {len(failures)} modules would not import alone" if failures else ""),
                    {
                        "function": function,
                        "provider": provider,
                        "key": key,
                        "floor_ms": floor,
                        "floor": info,
                        "failed_imports": failures,
                        "runs": _raw(result, fkey),
                    },
                )
            )
            runs = result.runs[key]
            own = statistics.median(run["init_ms"] - run.get("aws_ms", 0.0) for run in runs)
            aws = statistics.median(run.get("aws_ms", 0.0) for run in runs)
            out.append(
                Row(
                    SECTION,
                    f"{label}: cold init without its AWS calls / F",
                    own / floor,
                    "x",
                    None,
                    f"{own:.0f} ms vs F {floor:.0f} ms: the first event's time inside AWS calls"
                    " (signing, moto on loopback, parsing; median"
                    f" {aws:.0f} ms) taken out, as the warm figures"
                    " do; F makes no call",
                    {"function": function, "provider": provider, "key": key, "own_ms": own},
                )
            )
    handler_runs = [
        run
        for target in result.targets
        if not target.is_floor
        for run in result.runs.get(target.key, [])
    ]
    untraced = sum(1 for run in handler_runs if run.get("tracing") is not True)
    out.append(
        Row(
            SECTION,
            "processes whose Tracer was disabled (A', A and functions)",
            untraced,
            "",
            exactly(0),
            f"of {len(handler_runs)}: Powertools sees Lambda with tracing active",
        )
    )
    silent = [
        key
        for key in (handler_key(f, p) for f in BUDGETS_A for p in PROVIDERS)
        if key not in result.errors and result.datagrams.get(key, 0) == 0
    ]
    out.append(
        Row(
            SECTION,
            "functions whose first event sent no X-Ray segment",
            len(silent),
            "",
            exactly(0),
            (", ".join(silent) or "every function sent segments")
            + " (first pass, daemon address at a socket the bench reads)",
        )
    )
    return out


def slow_targets(result: ColdResult, table: list[Row]) -> list[str]:
    """Handler keys whose A' or F budget was missed."""
    keys = []
    for row in table:
        key = row.data.get("key")
        if key and row.status == "NOT MET" and key not in keys:
            keys.append(key)
    return keys


def profiled_targets(result: ColdResult) -> list[str]:
    """Every function in each provider that measured: where its time over A' goes."""
    return [
        handler_key(function, provider)
        for function in BUDGETS_A
        for provider in PROVIDERS
        if result.runs.get(handler_key(function, provider))
    ]
