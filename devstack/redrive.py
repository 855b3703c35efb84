"""`make redrive QUEUE=<queue> ENV=local`: replay the local stack's failed stream batches.

The local on-failure destination is `$DEV_DATA_DIR/stream-failures.jsonl` (devstack.streams):
one line per batch that exhausted its retries, with SQS's coordinates plus the records
themselves (the local stream does not outlive the stack's process). For each line whose
destination is QUEUE (the template's logical id, e.g. `RetentionFailureQueue`), the
consumer the template subscribes with that destination runs the batch once, in a worker
process like the stack's, with the environment the stack gives it. A batch that converged
(no error, no `batchItemFailures`) is removed from the file; the others stay.

The tables are the running stack's when `make dev` runs on this `DEV_DATA_DIR` (found
through `devstack.json`, asked to save afterwards); otherwise the redrive loads the saved
tables itself and saves them when done. Run it with the environment `make dev` runs with.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

from devkit.replay import BatchOutcome, replay
from devkit.template import resources_of_type
from devstack.functions import LocalFunction, Resolver
from devstack.pool import FunctionError, FunctionPool
from devstack.stack import RUNTIME_FILE, LocalStack

FAILURES_FILE = "stream-failures.jsonl"


def running_stack(data_dir: Path) -> dict[str, Any] | None:
    """The runtime record of a stack serving `data_dir`, if its process is alive."""
    try:
        runtime = json.loads((data_dir / RUNTIME_FILE).read_text())
        os.kill(int(runtime["pid"]), 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return runtime


def consumer_of(stack: LocalStack, queue: str) -> tuple[LocalFunction, str]:
    """The function whose stream trigger sends failures to `queue`, and that destination."""
    queues = resources_of_type(stack.template, "AWS::SQS::Queue")
    if queue not in queues:
        raise SystemExit(f"{queue}: not a queue of template.yaml (queues: {', '.join(queues)})")
    destination = str(Resolver(stack.template).resolve({"Fn::GetAtt": [queue, "Arn"]}))
    for function in stack.functions:
        if any(trigger.on_failure == destination for trigger in function.streams):
            return function, destination
    raise SystemExit(f"{queue}: no stream consumer of template.yaml sends its failures there")


def pool_invoker(pool: FunctionPool) -> Any:
    def invoke(_: str, event: dict[str, Any]) -> tuple[Any, str | None]:
        try:
            return pool.invoke(event), None
        except FunctionError as exc:
            return None, str(exc)

    return invoke


def redrive_local(queue: str, environ: dict[str, str] | None = None) -> list[BatchOutcome]:
    stack = LocalStack(environ)
    function, destination = consumer_of(stack, queue)
    failures = stack.data_dir / FAILURES_FILE
    lines = failures.read_text().splitlines() if failures.exists() else []
    entries = [(line, json.loads(line)) for line in lines if line.strip()]
    entries = [(line, e) for line, e in entries if e.get("destination") == destination]
    runtime = running_stack(stack.data_dir)
    where = f"the running stack ({runtime['api']})" if runtime else "the saved tables"
    print(f"redrive {queue} -> {function.name}: {len(entries)} batches in {failures}, on {where}")
    if not entries:
        return []
    if runtime:
        stack.dynamo.endpoint = runtime["dynamodb"]
    else:
        stack.dynamo.start()  # the saved tables, saved again by stop()
    pool = FunctionPool(function, stack.function_environment(function))
    outcomes: list[BatchOutcome] = []
    converged: set[str] = set()
    try:
        for line, entry in entries:
            label = f"{entry.get('startSequenceNumber')}..{entry.get('endSequenceNumber')}"
            records = entry.get("records")
            if not isinstance(records, list):
                outcome = BatchOutcome(
                    label, function.name, error="no records in the entry: cannot replay"
                )
            else:
                outcome = replay(label, function.name, records, pool_invoker(pool))
            if outcome.converged:
                converged.add(line)
                outcome.removed = True
            outcomes.append(outcome)
    finally:
        pool.close()
        if runtime:
            os.kill(int(runtime["pid"]), signal.SIGUSR1)  # the stack saves its tables
        else:
            stack.dynamo.stop()
    remove_lines(failures, converged)
    return outcomes


def remove_lines(path: Path, lines: set[str]) -> None:
    """Drop `lines` from the file, keeping whatever the stack appended meanwhile."""
    if not lines:
        return
    kept = [line for line in path.read_text().splitlines() if line not in lines]
    tmp = path.with_suffix(".jsonl.tmp")
    tmp.write_text("".join(f"{line}\n" for line in kept))
    os.replace(tmp, path)
