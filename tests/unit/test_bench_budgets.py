"""The bench's budget evaluation (bench/budgets.py, bench/recorder.py's read-capacity rule).

No timing here: the bench measures, these tests only check how a figure is judged.
"""

from __future__ import annotations

import pytest

from bench.budgets import (
    FAILED,
    MET,
    NO_BUDGET,
    NOT_MET,
    Row,
    at_most,
    exactly,
    failed,
    format_value,
    misses,
    render_table,
    row_from_json,
    summary,
)
from bench.recorder import item_size, read_cost


@pytest.mark.parametrize(
    ("budget", "value", "met"),
    [
        (at_most(1.5), 1.5, True),
        (at_most(1.5), 1.49, True),
        (at_most(1.5), 1.51, False),
        (at_most(2), 0, True),
        (exactly(0), 0, True),
        (exactly(0), 1, False),
        (exactly(1), 1.0, True),
        (exactly(0), -1, False),
    ],
)
def test_budget_judges_the_value(budget, value, met):
    # Given a budget and a measured value, When it is judged, Then only the limit decides
    assert budget.met(value) is met


def test_row_status_follows_budget_and_extra_condition():
    # Given rows with a budget met, missed, absent, a failed measurement and a false condition
    met = Row("s", "a", 1, budget=exactly(1))
    missed = Row("s", "b", 2, budget=at_most(1))
    informational = Row("s", "c", 42.0)
    broken = failed("s", "d", "boom", at_most(1))
    wrong_kind = Row("s", "e", 1, budget=exactly(1, "= 1, a GetItem"), holds=False)

    # Then each row says so, and a failed measurement is never reported as met
    assert [r.status for r in (met, missed, informational, broken, wrong_kind)] == [
        MET,
        NOT_MET,
        NO_BUDGET,
        FAILED,
        NOT_MET,
    ]
    assert misses([met, missed, informational, broken, wrong_kind]) == [missed, broken, wrong_kind]
    assert summary([met, missed, informational, broken]) == {
        MET: 1,
        NOT_MET: 1,
        FAILED: 1,
        NO_BUDGET: 1,
    }


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (1.234, "x", "1.23x"),
        (26.009, "MB", "26.0 MB"),
        (0, "delta", "+0"),
        (2.5, "delta", "+2.5"),
        (3, "", "3"),
        (0.5, "", "0.50"),
        (None, "x", "n/a"),
    ],
)
def test_values_are_printed_with_their_unit(value, unit, text):
    assert format_value(value, unit) == text


def test_budget_text_uses_its_label_or_the_limit():
    assert at_most(2.5).text("x") == "<= 2.50x"
    assert exactly(0).text() == "= 0"
    assert exactly(0, "same (+0)").text("delta") == "same (+0)"


def test_table_has_one_line_per_row_grouped_by_section():
    # Given rows of two sections
    rows = [
        Row("cold", "upload: cold init / anchor", 2.0, "x", at_most(2.5), "median 500 ms"),
        Row("cold", "graphql: cold init / anchor", 3.0, "x", at_most(2.5)),
        Row("layer", "unzipped", 26.0, "MB", at_most(15.0)),
    ]

    # When the table is rendered
    lines = render_table(rows).splitlines()

    # Then a header, a rule, each section's name and each row with value, budget and status
    assert lines[0].split()[:4] == ["metric", "value", "budget", "status"]
    assert "[cold]" in lines
    assert "[layer]" in lines
    upload = next(line for line in lines if line.startswith("upload")).split()
    at = upload.index("2.00x")
    assert upload[at : at + 6] == ["2.00x", "<=", "2.50x", MET, "median", "500"]
    assert NOT_MET in next(line for line in lines if line.startswith("graphql"))


def test_json_carries_status_and_budget_text():
    row = Row("history", "me: requests", 0, "delta", exactly(0, "same (+0)"), "none: 2; 10,000: 2")
    data = row.as_json()
    assert data["status"] == MET
    assert data["budget_text"] == "same (+0)"
    assert data["budget"] == {"kind": "eq", "limit": 0, "label": "same (+0)"}


# ------------------------------------------------------ read capacity, by DynamoDB's rule

PHOTO = {
    "userId": {"S": "hist-00000"},
    "assetId": {"S": "6f1d0c3e-8a7b-4c2d-9e5f-0a1b2c3d4e5f"},
    "size": {"N": "1389"},
    "archived": {"BOOL": False},
}


def test_item_size_counts_names_and_values():
    # names 6+7+4+8, values 10+36+(4 digits -> 3)+1
    assert item_size(PHOTO) == 25 + 50


@pytest.mark.parametrize(
    ("operation", "parsed", "consistent", "expected"),
    [
        ("GetItem", {"Item": PHOTO}, True, (1, 1.0)),
        ("GetItem", {"Item": PHOTO}, False, (1, 0.5)),
        ("GetItem", {}, False, (0, 0.5)),  # a miss still costs the minimum
        ("Query", {"Items": [PHOTO] * 6, "ScannedCount": 6}, False, (6, 0.5)),
        # 100 items of 75 bytes = 7,500 bytes: two 4 KB units, summed before rounding
        ("Query", {"Items": [PHOTO] * 100, "ScannedCount": 100}, True, (100, 2.0)),
        # read capacity follows what was scanned, not what came back: 100 read, 1 returned
        ("Query", {"Items": [PHOTO], "ScannedCount": 100}, True, (100, 2.0)),
        ("BatchGetItem", {"Responses": {"t": [PHOTO, PHOTO]}}, True, (2, 2.0)),
        ("PutItem", {}, False, (0, 0.0)),
    ],
)
def test_read_cost_follows_dynamodb_4kb_rule(operation, parsed, consistent, expected):
    assert read_cost(operation, parsed, consistent) == expected


def test_a_saved_row_reads_back_the_same():
    row = Row("warm", "signed fetch", 1.31, "x", at_most(2.0), "own 1.5 ms", {"own_s": 0.0015})
    again = row_from_json(row.as_json())
    assert again == row
    assert again.status == MET


# ------------------------------------------------------------- cold anchors (bench/cold.py)


def _cold_run(init_ms: float, **extra: object) -> dict[str, object]:
    return {
        "init_ms": init_ms,
        "import_ms": init_ms - 5,
        "first_event_ms": 5.0,
        "modules": 600,
        "status": 200,
        "errors": False,
        "tracing": True,
        **extra,
    }


def test_floor_imports_only_third_party_modules_in_load_order(tmp_path):
    from bench import cold

    code, shared, deps = tmp_path / "Fn", tmp_path / "SharedLayer/python", tmp_path / "Deps/python"
    target = cold.Target(
        "UploadFunction/R2",
        "UploadFunction",
        "R2",
        [code, deps, shared],
        {},
        first_party=[code, shared],
    )
    loaded = [
        ["sys", None],
        ["json", "/usr/lib/python3.13/json/__init__.py"],
        ["botocore", str(deps / "botocore/__init__.py")],
        ["upload_api", str(code / "upload_api.py")],
        ["profile_photos", str(shared / "profile_photos/__init__.py")],
        ["botocore.client", str(deps / "botocore/client.py")],
    ]
    client = {"service": "s3", "region": "eu-west-1", "endpoint_url": "http://x"}
    floor = cold.floor_target(target, loaded, [client, dict(client)])
    assert floor.key == "F:UploadFunction/R2"
    assert floor.floor == {"imports": ["botocore", "botocore.client"], "clients": [client]}
    assert floor.paths == [deps]


def test_a_graphql_answer_with_errors_is_not_a_sample():
    from bench import cold

    target = cold.Target("GraphQLFunction/R2", "GraphQLFunction", "R2", [], {})
    assert cold.acceptable(target, {"status": 200, "errors": False}) == ""
    assert "errors" in cold.acceptable(target, {"status": 200, "errors": True})
    assert "500" in cold.acceptable(target, {"status": 500, "errors": False})


def test_cold_rows_judge_each_function_against_a_prime_and_its_floor():
    from bench import cold, cold_rows

    result = cold.ColdResult([])
    result.runs[cold.ANCHOR] = [_cold_run(100), _cold_run(100), _cold_run(300)]
    result.runs[cold.REFERENCE] = [_cold_run(400)]
    for function in cold.BUDGETS_A:
        for provider in cold.PROVIDERS:
            key = cold.handler_key(function, provider)
            result.runs[key] = [_cold_run(150)]
            result.runs[cold.floor_key(function, provider)] = [_cold_run(100, status="floor")]
            result.datagrams[key] = 3
    result.runs[cold.floor_key("UploadFunction", "LOCAL")] = [_cold_run(120, status="floor")]
    result.runs[cold.handler_key("UploadFunction", "R2")] = [_cold_run(150, aws_ms=30.0)]
    by_metric = {row.metric: row for row in cold_rows.rows(result)}
    fetch = by_metric["signed fetch (LOCAL): cold init / A'"]
    assert fetch.value == pytest.approx(1.5)  # 150 ms over the median of A', 100 ms
    assert fetch.status == NOT_MET  # <= 1.1x A' in LOCAL
    assert by_metric["retention (R2): cold init / A'"].status == NOT_MET  # <= 1.2x
    assert by_metric["upload (R2): cold init / F"].status == NOT_MET  # 1.5x its floor
    assert by_metric["upload (LOCAL): cold init / F"].value == pytest.approx(1.25)
    # the renditions function is judged against its floor; against A' it is shown only
    assert by_metric["renditions (R2): cold init / A'"].budget is None
    assert by_metric["renditions (R2): cold init / F"].status == NOT_MET
    # A, default-built, is a reference row without budget
    reference = by_metric[f"{cold.LABELS[cold.REFERENCE]}: cold init"]
    assert (reference.value, reference.budget) == (400, None)
    # beside it, for information, the same without the first event's time inside AWS calls
    without_aws = by_metric["upload (R2): cold init without its AWS calls / F"]
    assert without_aws.value == pytest.approx(1.2)  # (150 - 30) ms over 100 ms
    assert without_aws.budget is None
    assert by_metric["processes whose Tracer was disabled (A', A and functions)"].value == 0
    assert by_metric["functions whose first event sent no X-Ray segment"].status == MET


def test_a_process_without_tracing_or_segments_fails_the_checks():
    from bench import cold, cold_rows

    result = cold.ColdResult([cold.Target(cold.ANCHOR, "BareHandler", "R2", [], {})])
    result.runs[cold.ANCHOR] = [_cold_run(100, tracing=False)]
    by_metric = {row.metric: row for row in cold_rows.rows(result)}
    disabled = "processes whose Tracer was disabled (A', A and functions)"
    assert by_metric[disabled].status == NOT_MET
    assert by_metric["functions whose first event sent no X-Ray segment"].status == NOT_MET
    # no function ran: their rows failed to measure, they do not pass
    assert by_metric["upload (R2): cold init / A'"].status == FAILED


# ------------------------------------------------------ README markdown from a results file


def _payload() -> dict[str, object]:
    rows = [
        Row("cold", "upload (R2): cold init / A", 1.9, "x", at_most(1.6), "median 500 ms"),
        Row(
            "requests", "upload (R2), with Idempotency-Key: DynamoDB round trips", 4, "", at_most(4)
        ),
    ]
    return {
        "started": "2026-12-03T15:00:00+00:00",
        "commit": "abc123def456",
        "seconds": 600.0,
        "machine": "Linux x86_64, 2 CPUs",
        "runtime": "python3.13",
        "python": "3.13.0",
        "quick": False,
        "rows": [row.as_json() for row in rows],
        "importtime": {},
    }


def test_markdown_report_names_the_commit_and_every_status():
    from bench import report

    text = report.render_markdown(_payload())
    assert text.startswith("Run of 2026-12-03 15:00 UTC")
    assert "commit abc123def456" in text
    assert "| upload (R2): cold init / A | 1.90x | ≤ 1.60x | NOT MET |" in text
    assert "| upload (R2), with Idempotency-Key: DynamoDB round trips | 4 | ≤ 4 | met |" in text
    assert "1 budgets met, 1 not met, 0 failed to measure." in text
    assert "- upload (R2): cold init / A: 1.90x" in text  # the miss is listed with its notes


def test_markdown_from_a_results_file_measures_nothing(tmp_path, capsys):
    import json

    from bench import report
    from bench.__main__ import main

    path = tmp_path / "latest.json"
    path.write_text(json.dumps(_payload()))
    assert main(["--markdown", "--from", str(path)]) == 0
    assert capsys.readouterr().out.strip() == report.render_markdown(_payload()).strip()
