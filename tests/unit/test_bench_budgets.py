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
