"""One local stack per data dir and per port: a second `make dev` (or `python -m devstack`)
beside a running one exits 1 with one line that says why and how to start another, no
traceback, and leaves the running stack's data dir exactly as it was."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from devkit.token import make_token
from devstack.datalock import shown
from testkit import images
from tests.e2e.conftest import ROOT, RunningStack

UPLOAD = "/api/storage/profile-photo/upload"
ORPHAN = Path("object-storage/user-assets/users/twice/profile-picture/left-behind.jpg")


def stack_env(data_dir: Path, port: int | str = 0) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_"))}
    return env | {"HOST": "127.0.0.1", "PORT": str(port), "DEV_DATA_DIR": str(data_dir)}


def second_stack(data_dir: Path, port: int | str = 0) -> subprocess.CompletedProcess[str]:
    """`python -m devstack` run to its end (a refused stack ends at once)."""
    return subprocess.run(
        [sys.executable, "-m", "devstack"],
        cwd=ROOT,
        env=stack_env(data_dir, port),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def make_dev(env: dict[str, str], **kwargs: object) -> subprocess.Popen[str]:
    """`make dev` as a user runs it, with the project venv taken as made (`-o venv`): the
    suite's own venv, which remaking from a test would reinstall under the other tests."""
    return subprocess.Popen(
        ["make", "--no-print-directory", "-o", "venv", "dev"],
        cwd=ROOT,
        env=env,
        text=True,
        start_new_session=True,
        **kwargs,  # type: ignore[call-overload]
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def files_of(data_dir: Path) -> dict[str, bytes]:
    """What a second stack could have touched: every file but the running stack's own
    output and saves (its log, its tables' snapshot and journal, written as it runs)."""
    own = {"logs", "dynamodb.json", "dynamodb.journal"}
    return {
        str(path.relative_to(data_dir)): path.read_bytes()
        for path in sorted(data_dir.rglob("*"))
        if path.is_file() and path.relative_to(data_dir).parts[0] not in own
    }


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    stack = RunningStack(tmp_path_factory.mktemp("held-data"))
    yield stack
    stack.stop()


def test_a_second_stack_on_a_held_data_dir_exits_with_one_line_and_touches_nothing(
    running: RunningStack,
) -> None:
    # Given a running stack, and a photo file no row names placed in its data dir since it
    # started (what a start's orphan sweep removes)
    orphan = running.data_dir / ORPHAN
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(images.jpeg_bytes())
    before = files_of(running.data_dir)

    # When a second stack starts on the same data dir (on a free port of its own)
    second = second_stack(running.data_dir)

    # Then it exits 1 with one line naming the running stack and a way to start another
    assert second.returncode == 1, second.stdout + second.stderr
    assert second.stdout == ""
    lines = second.stderr.splitlines()
    assert len(lines) == 1, second.stderr
    port = running.url.rsplit(":", 1)[1]
    expected = (
        rf"a local stack already runs on {re.escape(running.url)} with"
        rf" {re.escape(shown(running.data_dir))}; stop it, or start another with"
        rf" PORT=(\d+) DEV_DATA_DIR=(\S+)"
    )
    found = re.fullmatch(expected, lines[0])
    assert found, lines[0]
    assert int(found.group(1)) > int(port)
    assert found.group(2) != shown(running.data_dir)
    assert "Traceback" not in second.stderr
    # and the running stack's data dir is as it was: the orphan kept, nothing written
    assert orphan.read_bytes() == images.jpeg_bytes()
    assert files_of(running.data_dir) == before
    # and the running stack still answers
    token = make_token("twice-user", "twice")
    uploaded = running.post(
        UPLOAD,
        headers={"Authorization": f"Bearer {token}"},
        files={"file": ("me.jpg", images.jpeg_bytes(), "image/jpeg")},
    )
    assert uploaded.status_code == 201, uploaded.text
    served = requests.get(uploaded.json()["data"]["uploadUrl"], timeout=30)
    assert served.content == images.jpeg_bytes()


def test_the_suggested_port_and_data_dir_start_a_second_stack(
    running: RunningStack, tmp_path: Path
) -> None:
    # Given the refusal of a second stack on the running stack's data dir
    refused = second_stack(running.data_dir)
    assert refused.returncode == 1
    found = re.search(r"PORT=(\d+) DEV_DATA_DIR=(\S+)$", refused.stderr.strip())
    assert found, refused.stderr
    suggested = Path(found.group(2))
    assert suggested.parent == running.data_dir.parent
    assert suggested != running.data_dir

    # When a stack starts with what it suggests (the data dir moved under tmp_path, which
    # the test owns; the port as suggested)
    other = RunningStack(tmp_path / suggested.name, {"PORT": found.group(1)})
    try:
        # Then it starts and answers on that port beside the first
        assert other.url.endswith(f":{found.group(1)}")
        assert requests.get(f"{other.url}/openapi.json", timeout=30).status_code == 200
        assert requests.get(f"{running.url}/openapi.json", timeout=30).status_code == 200
    finally:
        assert other.stop() == 0


def test_a_second_stack_on_a_taken_port_exits_with_one_line_and_creates_nothing(
    running: RunningStack, tmp_path: Path
) -> None:
    # Given a running stack, and a data dir of its own for a second one
    data_dir = tmp_path / "other-data"
    port = running.url.rsplit(":", 1)[1]

    # When the second starts on the first one's port
    second = second_stack(data_dir, port)

    # Then it exits 1 with one line naming the port and how to choose another
    assert second.returncode == 1, second.stdout + second.stderr
    assert second.stdout == ""
    assert re.fullmatch(
        rf"port {port} on 127\.0\.0\.1 is already in use by another program; stop it, or"
        r" choose another port: PORT=\d+\n",
        second.stderr,
    ), second.stderr
    # and nothing of its data dir was created
    assert not data_dir.exists()


def test_make_dev_twice_in_a_row(tmp_path: Path) -> None:
    # Given `make dev` running on a port and a data dir, with a photo file no row names
    # placed in its data dir after it started
    data_dir = tmp_path / "data"
    env = stack_env(data_dir, free_port()) | {"LOG_LEVEL": "INFO"}
    first = make_dev(env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert first.stdout is not None
        url = ""
        deadline = time.time() + 120
        while not url and time.time() < deadline:
            line = first.stdout.readline()
            if not line:
                break
            if line.startswith("Ready on "):
                url = line.split()[2]
        assert url, "the first `make dev` did not start"
        orphan = data_dir / ORPHAN
        orphan.parent.mkdir(parents=True, exist_ok=True)
        orphan.write_bytes(images.jpeg_bytes())
        before = files_of(data_dir)

        # When `make dev` runs again, with the same environment
        second = make_dev(env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = second.communicate(timeout=120)

        # Then it fails with the stack's one line (and make's own note that the recipe
        # failed), no traceback, and before the second stack listened or touched anything
        assert second.returncode != 0
        assert "Traceback" not in out + err
        assert "Ready on" not in out
        refusal = [line for line in err.splitlines() if not line.startswith("make")]
        assert len(refusal) == 1, err
        assert refusal[0].startswith(
            f"a local stack already runs on {url} with {shown(data_dir)}; stop it, or start"
            " another with PORT="
        ), err
        assert files_of(data_dir) == before
        # and the first still answers
        assert requests.get(f"{url}/openapi.json", timeout=30).status_code == 200
    finally:
        with_group = os.getpgid(first.pid)
        os.killpg(with_group, signal.SIGINT)  # Ctrl-C in the terminal: make and the stack
        try:
            first.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(with_group, signal.SIGKILL)
            first.wait(timeout=30)
