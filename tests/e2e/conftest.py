"""Start the local stack as a user would (`python -m devstack`, what `make dev` runs) on a free
port with a temporary `DEV_DATA_DIR`, and talk to it over real HTTP."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
READY = re.compile(r"Ready on (http://\S+)")
START_TIMEOUT = 60


class RunningStack:
    def __init__(self, data_dir: Path, extra_env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_"))}
        env |= {"PORT": "0", "HOST": "127.0.0.1", "DEV_DATA_DIR": str(data_dir)}
        env |= extra_env or {}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "devstack"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.output: list[str] = []
        self.url = self._wait_ready()
        threading.Thread(target=self._drain, daemon=True).start()

    def _wait_ready(self) -> str:
        deadline = time.time() + START_TIMEOUT
        assert self.process.stdout is not None
        while time.time() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            self.output.append(line)
            found = READY.search(line)
            if found:
                return found[1]
        self.process.kill()
        raise RuntimeError("local stack did not start:\n" + "".join(self.output))

    def _drain(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)

    @property
    def banner(self) -> str:
        return "".join(self.output)

    def stop(self, sig: int = signal.SIGINT) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout=30)

    def objects(self) -> list[Path]:
        root = self.data_dir / "object-storage"
        return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []

    def settled_objects(self, timeout: float = 60.0) -> list[Path]:
        """Every stored file, once each stored photo has its three renditions: the stream
        makes them asynchronously, so a comparison of before and after waits for them."""
        deadline = time.time() + timeout
        while True:
            found = self.objects()
            names = {path.name for path in found}
            originals = [
                path
                for path in found
                if path.parent.name == "profile-picture" and path.name.count(".") == 1
            ]
            pending = [
                path
                for path in originals
                for size in ("small", "medium", "large")
                if f"{path.stem}.{size}.webp" not in names
            ]
            if not pending or time.time() > deadline:
                return found
            time.sleep(0.2)

    def post(self, path: str, **kwargs: object) -> requests.Response:
        return requests.post(f"{self.url}{path}", timeout=30, **kwargs)  # type: ignore[arg-type]


def processes_using(data_dir: Path) -> list[int]:
    """Pids whose environment names `data_dir`: the stack and its workers."""
    marker = f"DEV_DATA_DIR={data_dir}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    running = RunningStack(tmp_path_factory.mktemp("stack-data"))
    yield running
    running.stop()
