"""The embedded DynamoDB: moto's server on loopback, with tables from the template and state
that survives a restart, even `kill -9`.

moto keeps its state in memory and has no persistence of its own, so the stack journals every
write it acknowledged (`$DEV_DATA_DIR/dynamodb.journal`, fsynced before the write's answer
leaves the server: `devstack.journal`) and, a few seconds after changes and on shutdown,
compacts the journal into a snapshot of every table (`$DEV_DATA_DIR/dynamodb.json`, written
while writes are held back, then fsynced and renamed). On start it loads the snapshot and
replays the journal, before any stream poller starts reading: restored items are history,
not new events.

A snapshot reads every table, so its cost grows with the data; under steady writes it is
taken at most once per `SAVE_DELAY_SECONDS` or 20 times its own duration, whichever is
longer (at most ~5% of the time, with writes held back), and the journal, durable all along,
carries what happened in between.

moto's server checks no signature, so it answers only requests whose `Host` no outside DNS
decides (`devstack.hosts`): a web page cannot rebind a name to it and read the tables.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from devkit.template import create_tables, load_template, table_definitions
from devstack.hosts import MISDIRECTED, allowed_host
from devstack.journal import Journal, fsync_replace, replay
from devstack.moto_atomic import journal_writes, make_dynamodb_atomic, writes_held

# The journal makes every write durable at once; the snapshot only keeps it short.
SAVE_DELAY_SECONDS = 2.0
SAVE_SHARE = 20  # the wait after a snapshot is at least this many times its duration

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def loopback_hosts_only(app: WsgiApp) -> WsgiApp:
    """`app`, answering 403 (in DynamoDB's error shape) to a `Host` some DNS decides."""

    def guarded(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if allowed_host(environ.get("HTTP_HOST")):
            return app(environ, start_response)
        body = json.dumps({"__type": "AccessDeniedException", "message": MISDIRECTED}).encode()
        headers = [
            ("Content-Type", "application/x-amz-json-1.0"),
            ("Content-Length", str(len(body))),
        ]
        start_response("403 Forbidden", headers)
        return [body]

    return guarded


class EmbeddedDynamo:
    def __init__(self, data_dir: Path, template: dict[str, Any] | None = None) -> None:
        self.snapshot = data_dir / "dynamodb.json"
        self.journal = Journal(data_dir / "dynamodb.journal")
        self.template = template or load_template()
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.endpoint = ""
        self.tables: dict[str, str] = {}  # logical id -> table name
        self.replayed = 0  # journaled writes replayed on start (after a crash)
        self._dirty = threading.Event()
        self._stopping = threading.Event()
        self._saver: threading.Thread | None = None
        self._save_lock = threading.Lock()

    def client(self, service: str = "dynamodb") -> Any:
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name="eu-west-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",  # noqa: S106 - moto accepts any credentials
        )

    def start(self) -> None:
        make_dynamodb_atomic()
        self.server.start()
        # ThreadedMotoServer builds its WSGI server in start(); werkzeug calls `.app` per request
        wsgi = self.server._server  # no public hook for a middleware
        assert wsgi is not None
        wsgi.app = loopback_hosts_only(wsgi.app)
        host, port = self.server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        self.tables = {name: name for name in table_definitions(self.template)}
        create_tables(self.client(), self.tables, self.template)
        self._restore()
        self.journal.open()
        journal_writes(self.journal.append)
        self._saver = threading.Thread(target=self._save_loop, name="dynamo-saver", daemon=True)
        self._saver.start()

    def mark_dirty(self) -> None:
        self._dirty.set()

    def stop(self) -> None:
        self._stopping.set()
        self._dirty.set()
        if self._saver:
            self._saver.join(timeout=5)
        self.save()
        journal_writes(None)
        self.journal.close()
        self.server.stop()

    def _save_loop(self) -> None:
        delay = SAVE_DELAY_SECONDS
        while not self._stopping.is_set():
            self._dirty.wait()
            if self._stopping.is_set():
                return
            self._stopping.wait(delay)  # gather a burst of writes into one save
            self._dirty.clear()
            started = time.monotonic()
            self.save()
            delay = max(SAVE_DELAY_SECONDS, SAVE_SHARE * (time.monotonic() - started))

    def save(self) -> None:
        """Write a snapshot holding every acknowledged write, then empty the journal."""
        with self._save_lock, writes_held():
            client = self.client()
            tables = {}
            for table in self.tables.values():
                items: list[dict[str, Any]] = []
                for page in client.get_paginator("scan").paginate(
                    TableName=table, ConsistentRead=True
                ):
                    items += page["Items"]
                tables[table] = items
            self.snapshot.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.snapshot.with_suffix(".json.tmp")
            tmp.write_text(json.dumps({"journalSeq": self.journal.seq, "tables": tables}))
            fsync_replace(tmp, self.snapshot)
            self.journal.compact()

    def _restore(self) -> None:
        """The snapshot, then every journaled write after it, in the order they were made."""
        if self.snapshot.exists():
            state = json.loads(self.snapshot.read_text())
            if "tables" not in state:  # a snapshot from before the journal
                state = {"journalSeq": 0, "tables": state}
            self.journal.seq = state["journalSeq"]
            client = self.client()
            for table, items in state["tables"].items():
                if table not in self.tables.values():
                    continue
                for start in range(0, len(items), 25):
                    batch = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
                    client.batch_write_item(RequestItems={table: batch})
        replayed = 0
        for entry in self.journal.entries():
            if entry["seq"] <= self.journal.seq:
                continue  # in the snapshot already (a crash between snapshot and compaction)
            replay(self.endpoint, entry)
            self.journal.seq = entry["seq"]
            replayed += 1
        self.replayed = replayed
