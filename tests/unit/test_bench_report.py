"""The performance figures have one source, bench/results/latest.json.

`make bench-report` writes the README's and docs/performance.md's generated blocks from it
(docs/gen/bench_tables.py); these tests fail when a checked-in block says anything else, when
a performance table is typed outside a block, and when a full bench run would record a dirty
tree without being told to.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from bench.budgets import at_most
from docs.gen import bench_tables
from docs.gen.hooks import expand

ROOT = Path(__file__).resolve().parents[2]
PERFORMANCE = ROOT / "docs" / "performance.md"


def blocks(text: str) -> dict[str, str]:
    """Each filled block's name -> its body."""
    found = {}
    for match in bench_tables.BLOCK.finditer(text):
        lines = match.group(0).split("\n")
        found[match.group("name")] = "\n".join(lines[1:-1])
    return found


@pytest.mark.parametrize("path", bench_tables.REPORTED, ids=lambda p: p.name)
def test_every_generated_block_is_what_latest_json_gives(path: Path) -> None:
    # Given the checked-in page and the committed bench run
    text = path.read_text(encoding="utf-8")
    payload = bench_tables.load()
    # When its bench blocks are generated afresh from that run
    fresh = bench_tables.rewrite(text)
    # Then nothing changes: the page shows that run, and says which commit it measured
    stale = [name for name, body in blocks(fresh).items() if blocks(text).get(name) != body]
    assert fresh == text, f"{path.name}: blocks {stale} differ from latest.json: make bench-report"
    if "performance" in blocks(text):
        assert f"commit `{payload['commit']}`" in blocks(text)["performance"]


def test_the_performance_page_holds_its_figures_in_filled_blocks() -> None:
    # The page is read on GitHub too: its run's tables are written into it, not left to the
    # site's build alone
    found = blocks(PERFORMANCE.read_text(encoding="utf-8"))
    assert {"performance", "cost-per-view"} <= set(found)
    assert all(body.strip() for body in found.values())


def test_no_table_on_the_performance_page_is_typed_by_hand() -> None:
    text = PERFORMANCE.read_text(encoding="utf-8")
    outside = bench_tables.BLOCK.sub("", text)
    typed = [line for line in outside.splitlines() if line.lstrip().startswith("|")]
    assert typed == []


def test_no_measured_figure_is_typed_in_the_performance_prose() -> None:
    # Module counts, milliseconds and ratios measured by the bench live in the blocks: prose
    # that quotes them goes stale with the next run
    outside = bench_tables.BLOCK.sub("", PERFORMANCE.read_text(encoding="utf-8"))
    measured = re.findall(r"\b\d[\d,.]*\s*(?:modules|ms)\b|\b\d+(?:\.\d+)?x\b|~\d", outside)
    assert measured == []


def test_a_stale_block_is_rewritten_from_the_run() -> None:
    # Given a page whose block holds an old figure, and a bare marker not yet filled
    page = (
        "# P\n\n<!-- generated: performance -->\n| old | 9.99x |\n"
        "<!-- end generated: performance -->\n\ntext\n\n<!-- generated: cost-per-view -->\n"
        "<!-- generated: rest -->\n"
    )
    generators = {"performance": lambda: "| new | 1.00x |", "cost-per-view": lambda: "costs"}
    # When it is rewritten
    fresh = bench_tables.rewrite(page, generators)
    # Then each bench block holds what its generator gives, once; other markers are left
    assert "9.99x" not in fresh
    assert fresh.count("| new | 1.00x |") == 1
    assert bench_tables.block("cost-per-view", "costs") in fresh
    assert fresh.count("<!-- end generated: cost-per-view -->") == 1
    assert "<!-- generated: rest -->" in fresh
    assert bench_tables.rewrite(fresh, generators) == fresh


def test_the_site_build_replaces_a_filled_block_instead_of_repeating_it() -> None:
    page = PERFORMANCE.read_text(encoding="utf-8")
    built = expand(page, "performance.md")
    first_row = bench_tables.load()["rows"][0]["metric"]
    assert built.count(f"| {bench_tables.cell(first_row)} |") == 1
    assert "end generated" not in built


def test_a_changed_figure_in_the_run_makes_the_check_fail() -> None:
    # Given the committed run with one value changed
    payload: dict[str, Any] = copy.deepcopy(bench_tables.load())
    row = next(r for r in payload["rows"] if r["unit"] == "x" and r["value"] is not None)
    row["value"] = row["value"] + 0.5
    text = PERFORMANCE.read_text(encoding="utf-8")
    generators = {
        "performance": lambda: bench_tables.render(payload),
        "cost-per-view": lambda: bench_tables.cost_matrix(payload),
    }
    # Then the checked-in page no longer matches it
    assert bench_tables.rewrite(text, generators) != text


def test_the_run_records_whether_the_tree_was_clean(monkeypatch: pytest.MonkeyPatch) -> None:
    import bench.__main__ as bench_main

    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    tree = bench_main.work_tree()
    assert tree["clean"] is (status == "")
    assert tree["commit"].endswith("+dirty") is (status != "")


def test_a_full_run_refuses_a_dirty_tree_unless_told(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import bench.__main__ as bench_main

    # Given a dirty tree and no BENCH_DIRTY
    monkeypatch.setattr(bench_main, "work_tree", lambda: {"commit": "abc+dirty", "clean": False})
    monkeypatch.delenv("BENCH_DIRTY", raising=False)
    latest = bench_main.RESULTS / "latest.json"
    before = latest.read_bytes()
    # When a full run starts, Then it stops before measuring anything, saying why
    assert bench_main.main([]) == 2
    assert "BENCH_DIRTY=1" in capsys.readouterr().err
    assert latest.read_bytes() == before


def test_the_report_shows_a_dirty_run_as_dirty() -> None:
    payload = copy.deepcopy(bench_tables.load())
    payload |= {"clean": False, "commit": "abc+dirty"}
    assert "**dirty tree**" in bench_tables.render(payload)
    payload["clean"] = True
    assert "clean tree" in bench_tables.render(payload)
    json.dumps(payload)  # a payload the generators read is plain JSON


# ------------------------------------------------------------- the cost model (bench/cost.py)


def _measured(durations: bool = True) -> list[Any]:
    """The committed run's renditions rows, and a warm section's signed fetch durations."""
    from bench import budgets
    from bench.budgets import Row

    rows = [budgets.row_from_json(r) for r in bench_tables.load()["rows"]]
    rows = [r for r in rows if r.section.startswith("renditions (")]
    if durations:
        for kib, own_ms, aws_ms in ((4, 1.5, 2.0), (32, 1.8, 2.2), (96, 2.4, 2.6)):
            rows.append(
                Row(
                    "warm",
                    f"signed fetch (R2), {kib} KiB body: Lambda duration, warm",
                    own_ms + aws_ms,
                    "ms",
                    data={"bytes": kib * 1024, "own_s": own_ms / 1000, "aws_s": aws_ms / 1000},
                )
            )
    return rows


def test_the_cdn_hit_ratio_grows_with_views_per_window() -> None:
    from bench import cost

    ratios = [cost.hit_ratio(n) for n in cost.VIEWS_PER_WINDOW]
    assert ratios == sorted(ratios)
    assert cost.hit_ratio(1) < 0.5 < cost.hit_ratio(3) < 0.9 <= cost.hit_ratio(10)
    assert cost.views_for(0.9) == pytest.approx(10, abs=0.01)


def test_the_cost_budget_is_judged_as_the_template_deploys_with_the_alternative_beside_it() -> None:
    from bench import cost

    by_metric = {row.metric: row for row in cost.rows(_measured())}
    as_deployed = "cost per 1M SMALL views behind the CDN at {} views per window, as deployed"
    deployed = by_metric[as_deployed.format(10)]
    assert deployed.budget == at_most(2.00, "<= $2.00")
    # the template's distribution sends signed misses to signed fetch's function URL
    assert deployed.data["deployed_origin"] == "function URL"
    assert deployed.notes.startswith(cost.VIA_URL + " (as deployed")
    (other,) = (row for name, row in by_metric.items() if name.startswith("the same, "))
    assert cost.VIA_API in other.metric
    assert other.budget is None
    assert other.value is not None
    assert deployed.value is not None
    assert deployed.value < other.value  # a miss pays no API Gateway request
    # exactly API Gateway's $3.50 a million on each of the 10% of views that miss
    misses = 1 - cost.hit_ratio(10)
    assert other.value - deployed.value == pytest.approx(3.50 * misses)
    assert {as_deployed.format(1), as_deployed.format(3)} <= set(by_metric)
    titles = " ".join(t["title"] for t in deployed.data["tables"])
    assert "Free tier" in titles
    assert "90% CDN hits" in titles
    (by_views,) = (t for t in deployed.data["tables"] if t["header"][0] == "views per window")
    assert by_views["header"][2:] == ["as deployed (function URL)", "alternative (API Gateway)"]


def test_as_deployed_follows_the_origin_the_template_gives_the_signed_behaviour() -> None:
    from bench import cost
    from devkit.template import load_template

    template = load_template()
    assert cost.deployed_origin(template) == "function URL"
    config = template["Resources"]["CdnDistribution"]["Properties"]["DistributionConfig"]
    (signed,) = (b for b in config["CacheBehaviors"] if b["PathPattern"] == cost.SIGNED_PATTERN)
    signed["TargetOriginId"] = "api"  # the distribution as it was: misses through the API
    assert cost.deployed_origin(template) == "API Gateway"


def test_without_measured_durations_the_cost_budget_fails_instead_of_passing() -> None:
    from bench import cost
    from bench.budgets import FAILED

    (row,) = cost.rows(_measured(durations=False))
    assert row.status == FAILED
