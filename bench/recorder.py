"""Counting AWS requests with botocore's event hooks, not by reading the code.

Every botocore client created after `install()` (boto3's, pynamodb's, Powertools') gets these
handlers on its event emitter (through `testkit.aws_calls`, the hooks the integration suite's
IAM recorder uses too):

- `before-parameter-build`: while a recorder asks for capacity, sets
  `ReturnConsumedCapacity=TOTAL` on every DynamoDB operation that accepts it, and notes
  whether the read is strongly consistent;
- `before-call`: one API call (retries of the same call are not new calls);
- `after-call` (and `after-call-error`): what came back: `ConsumedCapacity`,
  `ScannedCount`, the items read; and how long the call took from `before-call` on (signing,
  the HTTP round trip, parsing): time spent waiting on AWS (here: moto), not in our code.

moto answers `ConsumedCapacity` with a constant per call (GetItem 0.5, Query 1.0, whatever
the items' size), so each read also gets DynamoDB's own rule applied to the items the
response carries: item sizes summed (Query) or per item (GetItem, BatchGetItem), rounded up
to 4 KB, halved for eventually consistent reads. That estimate is what grows with history
if an active-path read touches archived photos.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from testkit import aws_calls

READS = {"GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"}
OBJECT_WRITES = {"PutObject", "CopyObject", "CompleteMultipartUpload", "UploadPart"}
OBJECT_READS = {"GetObject", "HeadObject"}


@dataclass
class Call:
    service: str  # "dynamodb", "s3"
    operation: str
    consistent: bool = False
    reported_capacity: float = 0.0  # what the server said (ConsumedCapacity)
    reported_read_capacity: float = 0.0
    estimated_rcu: float = 0.0  # DynamoDB's rule on the items returned (reads only)
    items_read: int = 0
    seconds: float = 0.0  # before-call to after-call: the round trip and its parsing


@dataclass
class Recorder:
    capacity: bool = False
    calls: list[Call] = field(default_factory=list)

    def __enter__(self) -> Recorder:
        _ACTIVE.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        _ACTIVE.remove(self)

    # ----------------------------------------------------------------------------- views
    def of(self, service: str) -> list[Call]:
        return [call for call in self.calls if call.service == service]

    def count(self, service: str, operations: set[str] | None = None) -> int:
        return sum(1 for c in self.of(service) if operations is None or c.operation in operations)

    def by_operation(self, service: str) -> dict[str, int]:
        return dict(Counter(call.operation for call in self.of(service)))

    @property
    def dynamodb(self) -> int:
        return self.count("dynamodb")

    @property
    def dynamodb_reads(self) -> int:
        return self.count("dynamodb", READS)

    @property
    def dynamodb_writes(self) -> int:
        return self.dynamodb - self.dynamodb_reads

    @property
    def aws_seconds(self) -> float:
        return sum(call.seconds for call in self.calls)

    @property
    def reported_rcu(self) -> float:
        return sum(c.reported_read_capacity for c in self.of("dynamodb"))

    @property
    def estimated_rcu(self) -> float:
        return sum(c.estimated_rcu for c in self.of("dynamodb"))

    @property
    def items_read(self) -> int:
        return sum(c.items_read for c in self.of("dynamodb"))

    def describe(self) -> str:
        """`DynamoDB: TransactWriteItems 2, BatchGetItem 1; object store: PutObject 1`."""
        parts = []
        for service, label in (("dynamodb", "DynamoDB"), ("s3", "object store")):
            ops = self.by_operation(service)
            if ops:
                parts.append(f"{label}: " + ", ".join(f"{op} {n}" for op, n in sorted(ops.items())))
        return "; ".join(parts) or "no AWS calls"

    def summary(self) -> dict[str, Any]:
        return {
            "dynamodb": self.by_operation("dynamodb"),
            "s3": self.by_operation("s3"),
            "reported_rcu": self.reported_rcu,
            "estimated_rcu": self.estimated_rcu,
            "items_read": self.items_read,
        }


_ACTIVE: list[Recorder] = []


def install() -> None:
    """Hook every botocore client created from now on (idempotent; testkit.aws_calls)."""
    aws_calls.hook("before-parameter-build", _before_parameter_build)
    aws_calls.hook("before-call", _before_call)
    aws_calls.hook("after-call", _after_call)
    aws_calls.hook("after-call-error", _after_call_error)


def _service(model: Any) -> str:
    return model.service_model.service_name  # "dynamodb", "s3"


def _before_parameter_build(
    params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any
) -> None:
    if not _ACTIVE:
        return
    if _service(model) == "dynamodb":
        context["bench_consistent"] = bool(params.get("ConsistentRead"))
        if "RequestItems" in params and model.name == "BatchGetItem":
            context["bench_consistent"] = all(
                bool(spec.get("ConsistentRead")) for spec in params["RequestItems"].values()
            )
        wants = any(recorder.capacity for recorder in _ACTIVE)
        if wants and "ReturnConsumedCapacity" in model.input_shape.members:
            params["ReturnConsumedCapacity"] = "TOTAL"


def _before_call(model: Any, context: dict[str, Any], **_: Any) -> None:
    if not _ACTIVE:
        return
    call = Call(_service(model), model.name, consistent=context.get("bench_consistent", False))
    context["bench_call"] = call
    context["bench_started"] = time.perf_counter()
    for recorder in _ACTIVE:
        recorder.calls.append(call)


def _after_call_error(context: dict[str, Any], **_: Any) -> None:
    call = context.get("bench_call")
    if call is not None:
        call.seconds = time.perf_counter() - context["bench_started"]


def _after_call(parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
    call = context.get("bench_call")
    if call is None:
        return
    call.seconds = time.perf_counter() - context["bench_started"]
    if call.service != "dynamodb" or not isinstance(parsed, dict):
        return
    consumed = parsed.get("ConsumedCapacity") or []
    for entry in consumed if isinstance(consumed, list) else [consumed]:
        units = float(entry.get("CapacityUnits") or 0)
        call.reported_capacity += units
        if call.operation in READS:
            call.reported_read_capacity += float(entry.get("ReadCapacityUnits") or units)
    if call.operation in READS:
        call.items_read, call.estimated_rcu = read_cost(call.operation, parsed, call.consistent)


# --------------------------------------------------------------------- DynamoDB's size rule


def read_cost(operation: str, parsed: dict[str, Any], consistent: bool) -> tuple[int, float]:
    """(items read, read capacity units) of one read, by DynamoDB's rule."""
    factor = 1.0 if consistent else 0.5
    if operation == "GetItem":
        item = parsed.get("Item")
        return (1 if item else 0), units(item_size(item) if item else 0) * factor
    if operation in ("Query", "Scan"):
        # DynamoDB bills what it read (ScannedCount items), before any filter: items read but
        # filtered out are counted at the mean size of those returned (an estimate; no
        # query of the service filters today, so ScannedCount == Count).
        items = parsed.get("Items") or []
        scanned = int(parsed.get("ScannedCount", len(items)))
        returned = sum(item_size(i) for i in items)
        mean = returned / len(items) if items else 0
        read = returned + max(0, scanned - len(items)) * mean
        return scanned, units(math.ceil(read)) * factor
    if operation == "BatchGetItem":
        items = [i for found in (parsed.get("Responses") or {}).values() for i in found]
        return len(items), sum(units(item_size(i)) for i in items) * factor
    if operation == "TransactGetItems":
        items = [r["Item"] for r in parsed.get("Responses") or [] if r.get("Item")]
        return len(items), sum(units(item_size(i)) for i in items) * 2.0
    return 0, 0.0


def units(size: int) -> int:
    """Read units for `size` bytes read: 4 KB each, at least one."""
    return max(1, math.ceil(size / 4096))


def item_size(item: dict[str, Any]) -> int:
    """An item's size as DynamoDB bills it: attribute names plus values (UTF-8 bytes)."""
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def value_size(value: dict[str, Any]) -> int:
    ((kind, data),) = value.items()
    if kind == "S":
        return len(data.encode())
    if kind == "N":
        digits = data.lstrip("-").replace(".", "").strip("0") or "0"
        return (len(digits) + 1) // 2 + 1
    if kind == "B":
        return len(data)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode()) for s in data)
    if kind == "NS":
        return sum(value_size({"N": n}) for n in data)
    if kind == "BS":
        return sum(len(b) for b in data)
    if kind == "L":
        return 3 + sum(1 + value_size(v) for v in data)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + value_size(v) for k, v in data.items())
    return 0
