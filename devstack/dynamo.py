"""The embedded DynamoDB: moto's server on loopback, with tables from the template and state
that survives a restart.

moto keeps its state in memory and has no snapshot of its own (its server offers no
persistence option), so the stack
saves every table to `$DEV_DATA_DIR/dynamodb.json` (atomically, shortly after each change and
on shutdown) and loads it back on start, before any stream poller starts reading: restored
items are history, not new events.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from devstack.moto_atomic import make_dynamodb_atomic
from devstack.template import create_tables, load_template, table_definitions

SAVE_DELAY_SECONDS = 0.3


class EmbeddedDynamo:
    def __init__(self, data_dir: Path, template: dict[str, Any] | None = None) -> None:
        self.snapshot = data_dir / "dynamodb.json"
        self.template = template or load_template()
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.endpoint = ""
        self.tables: dict[str, str] = {}  # logical id -> table name
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
        host, port = self.server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        self.tables = {name: name for name in table_definitions(self.template)}
        create_tables(self.client(), self.tables, self.template)
        self._restore()
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
        self.server.stop()

    def _save_loop(self) -> None:
        while not self._stopping.is_set():
            self._dirty.wait()
            if self._stopping.is_set():
                return
            self._stopping.wait(SAVE_DELAY_SECONDS)  # gather a burst of writes into one save
            self._dirty.clear()
            self.save()

    def save(self) -> None:
        with self._save_lock:
            client = self.client()
            state = {}
            for table in self.tables.values():
                items: list[dict[str, Any]] = []
                for page in client.get_paginator("scan").paginate(
                    TableName=table, ConsistentRead=True
                ):
                    items += page["Items"]
                state[table] = items
            self.snapshot.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.snapshot.with_suffix(".json.tmp")
            tmp.write_text(json.dumps(state))
            os.replace(tmp, self.snapshot)

    def _restore(self) -> None:
        if not self.snapshot.exists():
            return
        state = json.loads(self.snapshot.read_text())
        client = self.client()
        for table, items in state.items():
            if table not in self.tables.values():
                continue
            for start in range(0, len(items), 25):
                requests = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
                client.batch_write_item(RequestItems={table: requests})
