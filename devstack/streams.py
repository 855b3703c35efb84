"""A local event source mapping for DynamoDB Streams, behaving like Lambda's.

For each function the template subscribes to a table's stream, a thread reads every shard
(from LATEST, after the snapshot was restored), drops records that no filter of
`FilterCriteria` matches, and delivers batches of up to `BatchSize` records in the shape
Lambda uses (`eventSourceARN` added, `ApproximateCreationDateTime` in epoch seconds).

Failures follow the real mapping: with `ReportBatchItemFailures` the batch is retried from
the lowest failed sequence number; a function error retries the whole batch, split in half
first when `BisectBatchOnFunctionError` is on; after `MaximumRetryAttempts` retries the batch
is sent to the on-failure destination (here: a JSON line in
`$DEV_DATA_DIR/stream-failures.jsonl` with the batch's coordinates and its records, plus a
log line) and the mapping moves on. `make redrive ... ENV=local` replays those lines.

The stream is trimmed behind its readers (`ReadPositions`): once every mapping of a stream
has read a record, moto forgets it (`devstack.moto_atomic.trim_stream`), so the stream holds
only what some mapping has yet to read, however long the stack runs.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from devkit.streams import lambda_record, passes_filters
from devstack.functions import LocalFunction, StreamTrigger
from devstack.moto_atomic import trim_stream

log = logging.getLogger("devstack.streams")
POLL_SECONDS = 0.2
RETRY_BACKOFF_SECONDS = 0.2

Invoke = Callable[[dict[str, Any]], Any]


# --- delivery with Lambda's retry semantics


class BatchDelivery:
    """Delivers one batch with retries, bisection and the on-failure destination."""

    def __init__(self, trigger: StreamTrigger, invoke: Invoke, failures: Path) -> None:
        self.trigger = trigger
        self.invoke = invoke
        self.failures = failures

    def deliver(self, batch: list[dict[str, Any]], retries_left: int | None = None) -> None:
        limit = self.trigger.maximum_retry_attempts
        retries_left = (None if limit < 0 else limit) if retries_left is None else retries_left
        while batch:
            try:
                response = self.invoke({"Records": batch})
            except Exception as exc:
                log.warning("stream batch of %d failed: %s", len(batch), exc)
                if self.trigger.bisect_on_error and len(batch) > 1:
                    half = len(batch) // 2
                    self.deliver(batch[:half], retries_left)
                    self.deliver(batch[half:], retries_left)
                    return
            else:
                failed = self._failed_sequence_numbers(response)
                if failed is None:
                    return
                numbers = [int(r["dynamodb"]["SequenceNumber"]) for r in batch]
                lowest = min(int(n) for n in failed)
                batch = [r for r, n in zip(batch, numbers, strict=True) if n >= lowest]
                if not batch:
                    return
            if retries_left is not None:
                if retries_left == 0:
                    self._send_to_destination(batch)
                    return
                retries_left -= 1
            time.sleep(RETRY_BACKOFF_SECONDS)

    def _failed_sequence_numbers(self, response: Any) -> list[str] | None:
        if not self.trigger.report_item_failures or not isinstance(response, dict):
            return None
        items = response.get("batchItemFailures") or []
        numbers = [item.get("itemIdentifier") for item in items if isinstance(item, dict)]
        return [n for n in numbers if n] or None

    def _send_to_destination(self, batch: list[dict[str, Any]]) -> None:
        sequence = [r["dynamodb"]["SequenceNumber"] for r in batch]
        log.error(
            "stream batch dropped after retries: %d records, sequence %s..%s, destination %s",
            len(batch),
            sequence[0],
            sequence[-1],
            self.trigger.on_failure,
        )
        self.failures.parent.mkdir(parents=True, exist_ok=True)
        with self.failures.open("a") as out:
            out.write(
                json.dumps(
                    {
                        "destination": self.trigger.on_failure,
                        "batchSize": len(batch),
                        "startSequenceNumber": sequence[0],
                        "endSequenceNumber": sequence[-1],
                        "eventSourceARN": batch[0].get("eventSourceARN"),
                        # Local only (SQS gets the coordinates alone): the local stream does
                        # not outlive the stack's process, so the entry keeps the batch
                        # itself for `make redrive QUEUE=... ENV=local` (devstack/redrive.py).
                        "records": batch,
                    }
                )
                + "\n"
            )


class ReadPositions:
    """How far each mapping of one stream has read; what all have read is trimmed. A
    mapping that has not read yet holds everything back."""

    def __init__(self, stream_arn: str) -> None:
        self.stream_arn = stream_arn
        self._read: dict[int, int | None] = {}  # reader id -> last sequence number read
        self._trimmed = 0
        self._lock = threading.Lock()

    def join(self, reader: object) -> None:
        with self._lock:
            self._read[id(reader)] = None

    def advance(self, reader: object, sequence: int) -> None:
        with self._lock:
            self._read[id(reader)] = sequence
            read = self._read.values()
            low = None if None in read else min(n for n in read if n is not None)
            if low is None or low <= self._trimmed:
                return
            self._trimmed = low
        trim_stream(self.stream_arn, low)


class StreamPoller(threading.Thread):
    """Reads one table's stream for one function until stopped."""

    def __init__(
        self,
        streams_client: Any,
        stream_arn: str,
        trigger: StreamTrigger,
        invoke: Invoke,
        failures: Path,
        stop: threading.Event,
        read_positions: ReadPositions | None = None,
    ) -> None:
        super().__init__(name=f"stream-{trigger.table}", daemon=True)
        self.client = streams_client
        self.stream_arn = stream_arn
        self.trigger = trigger
        self.delivery = BatchDelivery(trigger, invoke, failures)
        self.stop_event = stop
        self.positions: dict[str, str | None] = {}  # shard -> last sequence number seen
        self.idle = threading.Event()  # set when the last poll found nothing new
        self.read_positions = read_positions  # None: nothing is trimmed behind this reader
        if read_positions is not None:
            read_positions.join(self)

    def run(self) -> None:
        while not self.stop_event.is_set():
            try:
                found = self.poll_once()
            except Exception:
                log.exception("stream poller error")
                found = 0
            if found:
                self.idle.clear()
            else:
                self.idle.set()
                self.stop_event.wait(POLL_SECONDS)

    def start_iterators(self) -> None:
        """Skip what the shards already hold (restored state is history, not new events);
        called before the stack accepts requests."""
        for shard in self._shards():
            self.positions[shard] = None
            while self._read(shard):
                pass

    def poll_once(self) -> int:
        found = 0
        for shard in self._shards():
            records = self._read(shard)
            found += len(records)
            selected = [r for r in records if passes_filters(self.trigger.filters, r)]
            size = self.trigger.batch_size
            for start in range(0, len(selected), size):
                self.delivery.deliver(selected[start : start + size])
        return found

    def _shards(self) -> list[str]:
        description = self.client.describe_stream(StreamArn=self.stream_arn)
        return [shard["ShardId"] for shard in description["StreamDescription"]["Shards"]]

    def _read(self, shard: str) -> list[dict[str, Any]]:
        """The records after the last one seen, through a fresh iterator each time: moto
        replaces a table (and its stream) with a copy when a transaction is cancelled, so a
        long-lived iterator can go blind. A position is what the real mapping keeps too."""
        last = self.positions.get(shard)
        position = (
            {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": last}
            if last
            else {"ShardIteratorType": "TRIM_HORIZON"}
        )
        iterator = self.client.get_shard_iterator(
            StreamArn=self.stream_arn, ShardId=shard, **position
        )["ShardIterator"]
        raw = self.client.get_records(ShardIterator=iterator, Limit=1000)["Records"]
        if raw:
            last = raw[-1]["dynamodb"]["SequenceNumber"]
            self.positions[shard] = last
            if self.read_positions is not None:
                self.read_positions.advance(self, int(last))
        return [lambda_record(record, self.stream_arn) for record in raw]


def start_pollers(
    dynamo: Any,
    functions: list[LocalFunction],
    invoker: Callable[[LocalFunction], Invoke],
    failures: Path,
    stop: threading.Event,
) -> list[StreamPoller]:
    """The event source mappings: one running poller per stream trigger of `functions`, on
    `dynamo` (a `devstack.dynamo.EmbeddedDynamo`: its clients and table names), delivering
    through `invoker(function)`. Each starts past what its shards already hold; all of a
    stream's pollers are known before any reads, so none can trim what another has yet to
    read."""
    dynamodb = dynamo.client()
    streams = dynamo.client("dynamodbstreams")
    positions: dict[str, ReadPositions] = {}
    pollers = []
    for function in functions:
        for trigger in function.streams:
            table = dynamo.tables[trigger.table]
            arn = dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
            shared = positions.setdefault(arn, ReadPositions(arn))
            pollers.append(
                StreamPoller(streams, arn, trigger, invoker(function), failures, stop, shared)
            )
    for poller in pollers:
        poller.start_iterators()
    for poller in pollers:
        poller.start()
    return pollers
