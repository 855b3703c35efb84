"""The recorded AWS calls of every pytest-xdist worker, for the IAM check that runs on one.

Under xdist (`make test` runs `pytest -n`), each worker is a process of its own: it records
the calls of the tests it runs (`aws_calls.SUITE`), while test_iam_least_privilege.py needs
the whole suite's. So each worker appends, after each test, what that test added (its calls,
the invocations, whether it failed) and the test's node id as one JSON line to
`<basetemp>/aws-calls/<worker id>.jsonl` (the run's base temporary folder, shared by its
workers and removed by pytest with old runs), and a last line when it finishes.

Before its first IAM test a worker waits until every selected integration test has been
reported done by some worker (or every other worker has finished: a run stopped by `-x`, a
crashed worker), then adds the other workers' records to its own `SUITE`. The IAM tests run
last in the collection, and xdist hands a worker its tests in collection order, so no
integration test waits behind them on the same worker; a missing test makes the check
partial (its own skip), never a hang: the wait gives up after WAIT_SECONDS.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.integration.aws_calls import SUITE, Call, is_integration

IAM_CHECK_MODULE = "test_iam_least_privilege.py"
WAIT_SECONDS = 900.0  # far beyond the whole suite's run time: only a lost worker reaches it


@dataclasses.dataclass
class Worker:
    """This process's share: who it is, where the records go, what it has written so far."""

    worker_id: str
    worker_count: int
    folder: Path
    expected: set[str] = dataclasses.field(default_factory=set)  # other integration tests
    done: set[str] = dataclasses.field(default_factory=set)
    written_calls: int = 0
    written_invocations: Counter[str] = dataclasses.field(default_factory=Counter)
    written_failed: int = 0
    gathered: bool = False

    @property
    def path(self) -> Path:
        return self.folder / f"{self.worker_id}.jsonl"


WORKER: Worker | None = None


def configure(config: pytest.Config) -> None:
    """On an xdist worker: where this run's records go (nothing to do without xdist)."""
    global WORKER
    workerinput = getattr(config, "workerinput", None)
    if workerinput is None or config.option.basetemp is None:
        return
    folder = Path(config.option.basetemp).parent / "aws-calls"
    folder.mkdir(parents=True, exist_ok=True)
    WORKER = Worker(workerinput["workerid"], int(workerinput["workercount"]), folder)


def note_collection(items: list[pytest.Item]) -> None:
    if WORKER is not None:
        WORKER.expected = {
            item.nodeid
            for item in items
            if is_integration(item) and Path(str(item.path)).name != IAM_CHECK_MODULE
        }


def _append(record: dict[str, Any]) -> None:
    assert WORKER is not None
    with WORKER.path.open("a") as out:
        out.write(json.dumps(record) + "\n")  # one write: a reader sees whole lines or none


def after_test(nodeid: str) -> None:
    """After each test: what it added to this worker's records."""
    if WORKER is None:
        return
    with SUITE.lock:
        calls = SUITE.calls[WORKER.written_calls :]
        invocations = SUITE.invocations - WORKER.written_invocations
        failed = SUITE.failed_tests[WORKER.written_failed :]
        WORKER.written_calls = len(SUITE.calls)
        WORKER.written_invocations = Counter(SUITE.invocations)
        WORKER.written_failed = len(SUITE.failed_tests)
    WORKER.done.add(nodeid)
    _append(
        {
            "done": nodeid,
            "calls": [dataclasses.asdict(call) for call in calls],
            "invocations": dict(invocations),
            "failed": failed,
        }
    )


def finished() -> None:
    if WORKER is not None:
        _append({"finished": WORKER.worker_id})


def _others() -> list[dict[str, Any]]:
    """The other workers' records so far (a line still being written is left for later)."""
    assert WORKER is not None
    records = []
    for path in sorted(WORKER.folder.glob("*.jsonl")):
        if path == WORKER.path:
            continue
        for line in path.read_text().splitlines(keepends=True):
            if line.endswith("\n"):
                records.append(json.loads(line))
    return records


def gather(item: pytest.Item) -> None:
    """Before this worker's first IAM test: wait for the others, then take their records."""
    if WORKER is None or WORKER.gathered or Path(str(item.path)).name != IAM_CHECK_MODULE:
        return
    WORKER.gathered = True
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        records = _others()
        done = WORKER.done | {r["done"] for r in records if "done" in r}
        finished = {r["finished"] for r in records if "finished" in r}
        missing = WORKER.expected - done
        if not missing or len(finished) >= WORKER.worker_count - 1:
            break
        if time.monotonic() > deadline:
            break
        time.sleep(0.2)
    with SUITE.lock:
        for record in records:
            if "done" not in record:
                continue
            SUITE.calls += [Call(**call) for call in record["calls"]]
            SUITE.invocations.update(record["invocations"])
            SUITE.failed_tests += record["failed"]
        if missing:
            SUITE.partial_reasons.append(
                f"{len(missing)} integration tests were not reported by the other workers "
                f"(e.g. {sorted(missing)[0]})"
            )
