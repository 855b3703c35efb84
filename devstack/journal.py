"""The local stack's write-ahead journal: every DynamoDB write moto applied, on disk (fsync)
before its answer leaves the server, so a write the stack acknowledged survives `kill -9`.

moto keeps its tables in memory. `devstack.moto_atomic` runs every DynamoDB request under one
lock; inside that lock, after a write succeeded (HTTP 200) and before the response is
returned, `Journal.append` writes the request (its `X-Amz-Target`, region and JSON body) as
one line and fsyncs it. A function's call to DynamoDB therefore returns only once the write is
durable, and the function answers its client only after that.

The snapshot (`devstack.dynamo`) is a compaction of the journal: it is taken while writes are
held back (`moto_atomic.writes_held`), records the sequence number of the last write it
contains, and the journal is emptied after the snapshot is on disk. On start, the snapshot is
loaded and every journal line after its sequence number is replayed, in order, against the
server before anything else talks to it. A line cut short by a crash was never fsynced, so
never acknowledged: it is dropped.

Replayed writes were acknowledged before the crash, but their stream records are history to
the restarted stack (its pollers start after the restore), as they are after a snapshot: a
retention pass the crash interrupted runs again with the user's next upload, and a rendition
that was never made is made when it is first asked for.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

log = logging.getLogger("devstack.journal")


class Journal:
    """An append-only file of acknowledged DynamoDB writes, one JSON line each."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.seq = 0  # the sequence number of the last write applied (snapshot or journal)
        self._file: BinaryIO | None = None
        self._lock = threading.Lock()

    def entries(self) -> Iterator[dict[str, Any]]:
        """The complete lines on disk, in order (a line cut short by a crash is dropped)."""
        if not self.path.exists():
            return
        with self.path.open("rb") as lines:
            for raw in lines:
                if not raw.endswith(b"\n"):
                    log.warning("journal: dropped a write cut short by a crash (never answered)")
                    return
                yield json.loads(raw)

    def open(self) -> None:
        """Start journaling after the restore (new lines continue `seq`)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("ab")

    def close(self) -> None:
        with self._lock:
            if self._file:
                self._file.close()
                self._file = None

    def append(self, target: str, region: str, body: str | bytes) -> None:
        """Durably record one applied write (called inside moto's request lock)."""
        with self._lock:
            if self._file is None:
                return  # the restore's own replay, or a stopped stack
            self.seq += 1
            text = body.decode() if isinstance(body, bytes) else body
            line = json.dumps({"seq": self.seq, "target": target, "region": region, "body": text})
            self._file.write(line.encode() + b"\n")
            self._file.flush()
            os.fsync(self._file.fileno())

    def compact(self) -> None:
        """Empty the journal: a snapshot holding every write up to `seq` is on disk."""
        with self._lock:
            if self._file is None:
                return
            self._file.truncate(0)
            self._file.seek(0)
            os.fsync(self._file.fileno())


def replay(endpoint: str, entry: dict[str, Any]) -> None:
    """Send one journaled write to moto's server again, as the function sent it."""
    credential = f"local/20260101/{entry['region']}/dynamodb/aws4_request"
    server = urllib.parse.urlsplit(endpoint)
    connection = http.client.HTTPConnection(server.hostname or "127.0.0.1", server.port, timeout=30)
    try:
        connection.request(
            "POST",
            "/",
            body=entry["body"].encode(),
            headers={
                "Content-Type": "application/x-amz-json-1.0",
                "X-Amz-Target": entry["target"],
                # moto reads the region from the credential scope and checks no signature
                "Authorization": f"AWS4-HMAC-SHA256 Credential={credential}, Signature=replay",
            },
        )
        response = connection.getresponse()
        answer = response.read()
    finally:
        connection.close()
    if response.status != 200:
        # Cannot happen for a write that succeeded on the same state; say so and go on.
        log.warning("journal: write %s no longer applies: %s", entry["seq"], answer[:200])


def fsync_replace(tmp: Path, target: Path) -> None:
    """`os.replace` that survives a crash: the new file's data, then the directory entry."""
    with tmp.open("rb") as written:
        os.fsync(written.fileno())
    os.replace(tmp, target)
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
