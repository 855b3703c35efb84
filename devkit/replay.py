"""Replaying a stream consumer's failed batch: invoke it once, and judge by Lambda's rules.

Shared by the redrive of a failure queue on AWS (`ops redrive`) and of the local stack's
failure file (`devstack.redrive`): a batch converged when the invoke raised no error and
reported no `batchItemFailures`; otherwise every record from the lowest failed sequence
number on still fails, as Lambda's partial-batch contract says.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# (function name or ARN, event) -> (the function's response or None, the error or None)
Invoke = Callable[[str, dict[str, Any]], tuple[Any, str | None]]


@dataclass
class BatchOutcome:
    """What replaying one failed batch did."""

    label: str  # the batch's sequence range
    function: str
    records: int = 0
    failing: int = 0
    error: str | None = None
    removed: bool = False

    @property
    def succeeded(self) -> int:
        return self.records - self.failing

    @property
    def converged(self) -> bool:
        return self.error is None and self.failing == 0

    def line(self) -> str:
        head = f"batch {self.label} ({self.records} records) -> {self.function}: "
        if self.converged:
            kept = "removed" if self.removed else "not removed"
            return head + f"converged ({self.succeeded} succeeded), {kept}"
        reason = f": {self.error}" if self.error else ""
        return head + f"still failing ({self.failing} of {self.records}){reason}, kept"


def failing_records(records: list[dict[str, Any]], response: Any) -> int:
    """How many records Lambda's partial-batch contract says still fail: every record from
    the lowest `batchItemFailures` sequence number on (an empty list, or a response that is
    not an object, means the whole batch succeeded)."""
    items = response.get("batchItemFailures") if isinstance(response, dict) else None
    numbers = [i.get("itemIdentifier") for i in items or [] if isinstance(i, dict)]
    numbers = [n for n in numbers if n]
    if not numbers:
        return 0
    lowest = min(int(n) for n in numbers)
    return sum(1 for r in records if int(r["dynamodb"]["SequenceNumber"]) >= lowest)


def replay(
    label: str, function: str, records: list[dict[str, Any]], invoke: Invoke
) -> BatchOutcome:
    """Invoke `function` once with the batch and say whether it converged."""
    outcome = BatchOutcome(label=label, function=function, records=len(records))
    if not records:
        return outcome  # nothing the consumer would be given: nothing left to do
    response, error = invoke(function, {"Records": records})
    if error is not None:
        outcome.failing, outcome.error = len(records), error
    else:
        outcome.failing = failing_records(records, response)
    return outcome


def summary(outcomes: list[BatchOutcome]) -> str:
    if not outcomes:
        return "nothing to redrive"
    succeeded = sum(o.succeeded for o in outcomes)
    failing = sum(o.failing for o in outcomes)
    removed = sum(o.removed for o in outcomes)
    return (
        f"{len(outcomes)} batches: {succeeded} records succeeded, {failing} still failing;"
        f" {removed} removed, {len(outcomes) - removed} kept"
    )
