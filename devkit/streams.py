"""Lambda's DynamoDB Streams event shape and event filtering, shared by every replayer.

`passes_filters` applies an event source mapping's `FilterCriteria` the way Lambda does
(https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html), and
`lambda_record` turns a `get_records` record into the record Lambda delivers
(`eventSourceARN` added, `ApproximateCreationDateTime` in epoch seconds). The local stack's
stream pollers, the redrive of a failure queue and the tests use the same two.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any


def matches(pattern: dict[str, Any], record: Any) -> bool:
    """True when `record` satisfies every key of the filter `pattern`."""
    if not isinstance(record, dict):
        return False
    for key, expected in pattern.items():
        present = key in record
        value = record.get(key)
        if isinstance(expected, dict):
            if not present or not matches(expected, value):
                return False
        elif isinstance(expected, list):
            if not any(_matches_rule(rule, present, value) for rule in expected):
                return False
        else:
            raise ValueError(f"filter values must be lists or objects, got {expected!r}")
    return True


def _matches_rule(rule: Any, present: bool, value: Any) -> bool:
    if not isinstance(rule, dict):
        return present and (value == rule or (isinstance(value, list) and rule in value))
    ((operator, operand),) = rule.items()
    if operator == "exists":
        return present is bool(operand)
    if not present:
        return False
    if operator == "prefix":
        return isinstance(value, str) and value.startswith(operand)
    if operator == "suffix":
        return isinstance(value, str) and value.endswith(operand)
    if operator == "equals-ignore-case":
        return isinstance(value, str) and value.lower() == str(operand).lower()
    if operator == "anything-but":
        if isinstance(operand, dict):
            return not _matches_rule(operand, present, value)
        excluded = operand if isinstance(operand, list) else [operand]
        return value not in excluded
    if operator == "numeric":
        try:
            number = float(value)
        except (TypeError, ValueError):
            return False
        comparisons = {
            "=": number.__eq__,
            "<": number.__lt__,
            "<=": number.__le__,
            ">": number.__gt__,
            ">=": number.__ge__,
        }
        pairs = zip(operand[::2], operand[1::2], strict=True)
        return all(comparisons[op](float(bound)) for op, bound in pairs)
    raise ValueError(f"unsupported filter operator {operator!r}")


def passes_filters(filters: list[dict[str, Any]], record: dict[str, Any]) -> bool:
    return not filters or any(matches(pattern, record) for pattern in filters)


def lambda_record(raw: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """A `get_records` record as Lambda delivers it."""
    record = json.loads(json.dumps(raw, default=_epoch))
    record["eventSourceARN"] = stream_arn
    return record


def _epoch(value: Any) -> Any:
    if isinstance(value, datetime):
        return int(value.timestamp())
    raise TypeError(f"cannot serialise {type(value).__name__}")
