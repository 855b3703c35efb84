"""What a running local stack holds, read from outside it: every table through the embedded
DynamoDB's endpoint (boto3, `$DEV_DATA_DIR/devstack.json` names it) and every stored file
under `$DEV_DATA_DIR/object-storage`. Shared by `tests.e2e.fuzz_runner` (the data a rejected
request must leave unchanged) and `tests.e2e.load_runner` (the invariants at the end of a run)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer

from devstack.stack import RUNTIME_FILE

RENDITION_SIZES = ("small", "medium", "large")
# Attributes that every authenticated request refreshes by contract ("a user record is
# created or refreshed from the token's claims on every authenticated request").
REFRESHED = {"updatedAt", "username", "createdAt"}
_deserialize = TypeDeserializer().deserialize


@dataclass(frozen=True)
class StackState:
    """One consistent-enough picture: rows per table (plain Python values) and files."""

    tables: dict[str, list[dict[str, Any]]]
    files: dict[str, tuple[int, int]]  # path under object-storage -> (size, mtime_ns)

    def rows(self, suffix: str) -> list[dict[str, Any]]:
        """The rows of the table whose name ends with `suffix` (`photos`, `users`, ...)."""
        found = [rows for name, rows in self.tables.items() if suffix in name.lower()]
        return found[0] if found else []

    def comparable(self) -> dict[str, Any]:
        """What a rejected request must leave exactly as it was."""
        tables = {
            name: sorted(
                (
                    json.dumps(
                        {
                            k: v
                            for k, v in row.items()
                            if "users" not in name.lower() or k not in REFRESHED
                        },
                        sort_keys=True,
                        default=str,
                    )
                    for row in rows
                ),
            )
            for name, rows in self.tables.items()
        }
        return {"tables": tables, "files": self.files}

    def originals(self) -> list[str]:
        """Stored photo files (not renditions, not staged uploads)."""
        return [
            path
            for path in self.files
            if "/profile-picture/" in path
            and path.startswith("user-assets/users/")
            and Path(path).name.count(".") == 1
        ]

    def pending_renditions(self) -> list[str]:
        names = set(self.files)
        return [
            path
            for path in self.originals()
            for size in RENDITION_SIZES
            if f"{path.rsplit('.', 1)[0]}.{size}.webp" not in names
        ]


class StackReader:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        runtime = json.loads((data_dir / RUNTIME_FILE).read_text())
        self.api = runtime["api"]
        self.dynamodb = boto3.client(
            "dynamodb",
            endpoint_url=runtime["dynamodb"],
            region_name="eu-west-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",  # noqa: S106 - moto takes any
        )

    def files(self) -> dict[str, tuple[int, int]]:
        root = self.data_dir / "object-storage"
        found: dict[str, tuple[int, int]] = {}
        for path in root.rglob("*") if root.exists() else ():
            try:
                if path.is_file():
                    info = path.stat()
                    found[str(path.relative_to(root))] = (info.st_size, info.st_mtime_ns)
            except FileNotFoundError:  # removed while listing (retention, erasure)
                continue
        return found

    def table(self, name: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for page in self.dynamodb.get_paginator("scan").paginate(
            TableName=name, ConsistentRead=True
        ):
            rows += [{k: _deserialize(v) for k, v in item.items()} for item in page["Items"]]
        return rows

    def state(self) -> StackState:
        names = self.dynamodb.list_tables()["TableNames"]
        tables = {name: self.table(name) for name in names}
        return StackState(tables, self.files())

    def settled(self, timeout: float = 60.0, interval: float = 0.3) -> StackState:
        """The state once the stream has caught up: every original has its renditions and
        two reads `interval` apart agree (retention and renditions are asynchronous)."""
        deadline = time.time() + timeout
        previous = self.state()
        while True:
            time.sleep(interval)
            current = self.state()
            quiet = current.comparable() == previous.comparable()
            if (quiet and not current.pending_renditions()) or time.time() > deadline:
                return current
            previous = current


class StackProcess:
    """`python -m devstack` on a free loopback port with its own `DEV_DATA_DIR`, its output
    kept (for the ERROR/traceback check); the e2e suite's stacks are these too.

    It runs with `LOG_LEVEL=DEBUG` (unless `extra_env` says otherwise): its console then
    holds every line its log file gets, the functions' output included, so a check of
    `output` (`error_lines`) sees every line the functions and the stack log, not only the
    quiet console's one line per problem."""

    READY = "Ready on "

    def __init__(self, data_dir: Path, extra_env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        root = Path(__file__).resolve().parents[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_"))}
        env |= {
            "PORT": "0",
            "HOST": "127.0.0.1",
            "DEV_DATA_DIR": str(data_dir),
            "LOG_LEVEL": "DEBUG",
        }
        env |= extra_env or {}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "devstack"],
            cwd=root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.output: list[str] = []
        assert self.process.stdout is not None
        deadline = time.time() + 90
        self.url = ""
        while time.time() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            self.output.append(line)
            if self.READY in line:
                self.url = line.split(self.READY, 1)[1].split()[0]
                break
        if not self.url:
            self.process.kill()
            raise RuntimeError("local stack did not start:\n" + "".join(self.output))
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)

    def stop(self, sig: int = signal.SIGINT) -> int:
        """Send `sig` (SIGINT: as Ctrl-C does) and wait for the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:  # its workers stuck: end the whole group it leads
            os.killpg(self.process.pid, signal.SIGKILL)
            return self.process.wait(timeout=30)


def error_lines(output: list[str]) -> list[str]:
    """Lines of a stack's output that report a server-side failure: an ERROR (or CRITICAL)
    log record in Powertools' JSON or the stdlib's text format, or a traceback."""
    markers = (
        '"level":"ERROR"',
        '"level": "ERROR"',
        '"level":"CRITICAL"',
        '"level": "CRITICAL"',
        "Traceback (most recent call last)",
        " ERROR ",
        " CRITICAL ",
    )
    return [line.rstrip() for line in output if any(marker in line for marker in markers)]
