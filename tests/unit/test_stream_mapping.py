"""The local event source mapping: Lambda's filter language and its retry semantics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from devkit.streams import passes_filters
from devstack import streams
from devstack.functions import StreamTrigger
from devstack.streams import BatchDelivery


def record(seq: int, event: str = "INSERT", **image: Any) -> dict[str, Any]:
    new = {k: {"S": v} if isinstance(v, str) else {"BOOL": v} for k, v in image.items()}
    return {"eventName": event, "dynamodb": {"SequenceNumber": str(seq), "NewImage": new}}


@pytest.mark.parametrize(
    ("pattern", "rec", "expected"),
    [
        ({"eventName": ["INSERT", "MODIFY"]}, record(1, "INSERT"), True),
        ({"eventName": ["INSERT"]}, record(1, "REMOVE"), False),
        ({"dynamodb": {"NewImage": {"kind": {"S": ["photo"]}}}}, record(1, kind="photo"), True),
        ({"dynamodb": {"NewImage": {"kind": {"S": ["photo"]}}}}, record(1, kind="user"), False),
        (
            {"dynamodb": {"NewImage": {"kind": {"S": [{"prefix": "ph"}]}}}},
            record(1, kind="photo"),
            True,
        ),
        (
            {"dynamodb": {"NewImage": {"activeSortKey": [{"exists": True}]}}},
            record(1, activeSortKey="x"),
            True,
        ),
        ({"dynamodb": {"NewImage": {"activeSortKey": [{"exists": True}]}}}, record(1), False),
        ({"dynamodb": {"NewImage": {"activeSortKey": [{"exists": False}]}}}, record(1), True),
        ({"eventName": [{"anything-but": ["REMOVE"]}]}, record(1, "MODIFY"), True),
        ({"eventName": [{"anything-but": "REMOVE"}]}, record(1, "REMOVE"), False),
        (
            {"dynamodb": {"NewImage": {"archived": {"BOOL": [False]}}}},
            record(1, archived=False),
            True,
        ),
        ({"dynamodb": {"SequenceNumber": [{"numeric": [">", 5, "<=", 10]}]}}, record(7), True),
        ({"dynamodb": {"SequenceNumber": [{"numeric": [">", 5]}]}}, record(3), False),
    ],
)
def test_filter_patterns(pattern: dict, rec: dict, expected: bool) -> None:
    assert passes_filters([pattern], rec) is expected


def test_filters_are_ored_and_no_filters_pass_everything() -> None:
    filters = [{"eventName": ["INSERT"]}, {"eventName": ["MODIFY"]}]

    assert passes_filters(filters, record(1, "MODIFY"))
    assert not passes_filters(filters, record(1, "REMOVE"))
    assert passes_filters([], record(1, "REMOVE"))


def trigger(**overrides: Any) -> StreamTrigger:
    values = {
        "table": "T",
        "batch_size": 10,
        "starting_position": "LATEST",
        "filters": [],
        "maximum_retry_attempts": 2,
        "bisect_on_error": False,
        "report_item_failures": True,
        "on_failure": "arn:aws:sqs:local:dlq",
    } | overrides
    return StreamTrigger(**values)


class Function:
    """A stand-in function recording every batch it was given."""

    def __init__(self, behaviour: Any) -> None:
        self.behaviour = behaviour
        self.calls: list[list[int]] = []

    def __call__(self, event: dict[str, Any]) -> Any:
        seqs = [int(r["dynamodb"]["SequenceNumber"]) for r in event["Records"]]
        self.calls.append(seqs)
        return self.behaviour(seqs, len(self.calls))


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(streams, "RETRY_BACKOFF_SECONDS", 0)


def test_partial_failure_retries_from_the_lowest_failed_record(tmp_path: Path) -> None:
    # fails record 3 (and 5) on the first call only
    def behaviour(seqs: list[int], call: int) -> dict:
        failed = [3, 5] if call == 1 else []
        return {"batchItemFailures": [{"itemIdentifier": str(s)} for s in failed]}

    function = Function(behaviour)
    BatchDelivery(trigger(), function, tmp_path / "f.jsonl").deliver(
        [record(i) for i in range(1, 7)]
    )

    assert function.calls == [[1, 2, 3, 4, 5, 6], [3, 4, 5, 6]]
    assert not (tmp_path / "f.jsonl").exists()


def test_function_error_retries_then_goes_to_the_destination(tmp_path: Path) -> None:
    def behaviour(seqs: list[int], call: int) -> dict:
        raise RuntimeError("boom")

    function = Function(behaviour)
    BatchDelivery(trigger(maximum_retry_attempts=2), function, tmp_path / "f.jsonl").deliver(
        [record(1), record(2)]
    )

    assert function.calls == [[1, 2]] * 3  # first attempt + 2 retries
    lines = (tmp_path / "f.jsonl").read_text().splitlines()
    assert len(lines) == 1
    assert '"startSequenceNumber": "1"' in lines[0]
    assert '"destination": "arn:aws:sqs:local:dlq"' in lines[0]


def test_bisect_isolates_the_poison_record(tmp_path: Path) -> None:
    def behaviour(seqs: list[int], call: int) -> dict:
        if 3 in seqs:
            raise RuntimeError("poison")
        return {"batchItemFailures": []}

    function = Function(behaviour)
    delivery = BatchDelivery(
        trigger(bisect_on_error=True, maximum_retry_attempts=0), function, tmp_path / "f.jsonl"
    )
    delivery.deliver([record(i) for i in range(1, 5)])

    delivered_ok = {s for call in function.calls if 3 not in call for s in call}
    assert delivered_ok == {1, 2, 4}
    assert '"startSequenceNumber": "3"' in (tmp_path / "f.jsonl").read_text()


def test_success_is_delivered_once(tmp_path: Path) -> None:
    function = Function(lambda seqs, call: {"batchItemFailures": []})

    BatchDelivery(trigger(), function, tmp_path / "f.jsonl").deliver([record(1)])

    assert function.calls == [[1]]
