"""One local stack per data dir: `$DEV_DATA_DIR/devstack.lock`, and the refusals of a second.

Two stacks on one data dir would each sweep the other's files as orphans, replay and compact
the same journal and save over each other's snapshot. So a stack holds an exclusive
`fcntl.flock` on the lock file for its whole life, taken before anything in the dir is
read or written. The kernel drops the lock when the process ends, however it ends (Ctrl-C,
a crash, `kill -9`), so a stack never leaves a stale lock behind; the file stays, and only
the lock on it counts. The lock is the standard library's, not the `filelock` package's:
the stack runs without dev dependencies, `filelock` takes the same `flock` on POSIX (the
stack is POSIX-only already: SIGUSR1, process groups), and its lock file carries no data,
while this one records the holder's URL for the refusal of the next.

The file is never removed: a process that opened it just before its removal would lock an
orphaned inode while a third locks a new file, and both would believe they hold the dir.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import socket
import time
from pathlib import Path
from typing import Any

LOCK_FILE = "devstack.lock"


def shown(path: Path) -> str:
    """`path` as a user typed it: `./data` under the working directory, else absolute."""
    try:
        return f"./{path.relative_to(Path.cwd())}"
    except ValueError:
        return str(path)


def _held(fd: int) -> bool:
    """Whether another process holds the lock on the file open as `fd`."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    fcntl.flock(fd, fcntl.LOCK_UN)
    return False


def holder(data_dir: Path) -> dict[str, Any] | None:
    """What the stack that holds `data_dir` recorded (pid, API URL; `{}` while it is still
    writing it), or None when no stack holds it. Creates nothing: a missing dir or lock file
    is a free dir."""
    try:
        fd = os.open(data_dir / LOCK_FILE, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        if not _held(fd):
            return None
        for _ in range(20):  # the holder writes its record right after locking
            try:
                record = json.loads(os.pread(fd, 4096, 0))
            except ValueError:
                time.sleep(0.05)
                continue
            if isinstance(record, dict):
                return record
        return {}
    finally:
        os.close(fd)


class DataDirLock:
    """The exclusive lock of one stack on its data dir, held until `release` or its exit."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.fd: int | None = None

    def acquire(self, record: dict[str, Any]) -> dict[str, Any] | None:
        """Take the lock and write `record` in the file; on refusal, the holder's record
        (as `holder`) and nothing held."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return holder(self.data_dir) or {}
        self.fd = fd
        data = (json.dumps(record) + "\n").encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, data, 0)
        return None

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing the only descriptor drops the flock
            self.fd = None


def free_port(host: str, after: int) -> int:
    """The first port above `after` that `host` can bind now (`after + 1` if none is found
    among the next 100): a suggestion, not a reservation."""
    for port in range(after + 1, min(after + 101, 65536)):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family) as probe, contextlib.suppress(OSError):
            probe.bind((host, port))
            return port
    return after + 1


def free_data_dir(data_dir: Path) -> Path:
    """A sibling data dir no stack holds: `data` -> `data2`, `data2` -> `data3`, ..."""
    match = re.fullmatch(r"(.*?)(\d*)", data_dir.name)
    assert match is not None
    stem, number = match.group(1) or data_dir.name, int(match.group(2) or 1)
    for n in range(number + 1, number + 100):
        candidate = data_dir.with_name(f"{stem}{n}")
        if holder(candidate) is None:
            return candidate
    return data_dir.with_name(f"{stem}{number + 1}")


def data_dir_refusal(data_dir: Path, record: dict[str, Any], host: str) -> str:
    """The one-line answer to a second stack on a held data dir."""
    api = record.get("api")
    running = f"already runs on {api}" if api else "is starting"
    port = int(str(api).rsplit(":", 1)[1]) if api else 3000
    return (
        f"a local stack {running} with {shown(data_dir)}; stop it, or start another with"
        f" PORT={free_port(host, port)} DEV_DATA_DIR={shown(free_data_dir(data_dir))}"
    )


def port_refusal(host: str, port: int, error: OSError) -> str:
    """The one-line answer when the API's address cannot be bound."""
    if error.errno == errno.EADDRINUSE:
        return (
            f"port {port} on {host} is already in use by another program; stop it, or choose"
            f" another port: PORT={free_port(host, port)}"
        )
    return f"cannot listen on {host}:{port}: {error.strerror or error}; set HOST and PORT"
