"""Crash safety of the local stack: a photo the stack acknowledged survives `kill -9`.

The stack (and its workers) is killed with SIGKILL, at a random moment, while clients are
uploading; then it starts again on the same data directory. Every upload that was answered
201 must be listed to its owner and served, and after a clean stop every photo row names a
file on disk and every file under a user's prefix is named by a row (the start's cleanup
removes what a write cut short left behind).
"""

from __future__ import annotations

import json
import os
import random
import signal
import threading
import time
from pathlib import Path

import requests

from devkit.token import make_token
from testkit import images
from tests.e2e.conftest import RunningStack, processes_using

UPLOAD = "/api/storage/profile-photo/upload"
ROUNDS = 4
CLIENTS = 2
SEED = 20261203


def auth(user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token(user, user)}"}


class Uploader(threading.Thread):
    """Uploads one photo after another, each for a new user, until the stack dies."""

    def __init__(self, stack: RunningStack, name: str, photo: bytes) -> None:
        super().__init__(daemon=True)
        self.stack, self.prefix, self.photo = stack, name, photo
        self.acknowledged: list[tuple[str, str, dict]] = []  # (user, stack URL, 201's data)
        self.first = threading.Event()

    def run(self) -> None:
        for n in range(10_000):
            user = f"{self.prefix}-{n}"
            try:
                response = self.stack.post(
                    UPLOAD, headers=auth(user), files={"file": ("me.jpg", self.photo, "image/jpeg")}
                )
            except requests.RequestException:
                return  # the stack is gone: this upload was never acknowledged
            if response.status_code == 201:
                self.acknowledged.append((user, self.stack.url, response.json()["data"]))
                self.first.set()


def kill_stack(stack: RunningStack) -> None:
    """SIGKILL to the stack and every worker of it (its own process group)."""
    os.killpg(stack.process.pid, signal.SIGKILL)
    stack.process.wait(timeout=30)
    deadline = time.time() + 10
    while processes_using(stack.data_dir) and time.time() < deadline:
        time.sleep(0.05)


def replayed_writes(stack: RunningStack) -> int:
    """The banner's count of journaled writes replayed on start (0 when none)."""
    lines = [line for line in stack.output if "Recovery   replayed" in line]
    return sum(int(line.split("replayed ")[1].split()[0]) for line in lines)


def active_asset_ids(stack: RunningStack, user: str) -> list[str]:
    query = {"query": "{ me { profilePhotos { assetId } } }"}
    answer = requests.post(f"{stack.url}/graphql", json=query, headers=auth(user), timeout=30)
    assert answer.status_code == 200, answer.text
    return [photo["assetId"] for photo in answer.json()["data"]["me"]["profilePhotos"]]


def test_acknowledged_uploads_survive_kill_9_and_leave_no_orphans(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    photo = images.jpeg_bytes()
    acknowledged: list[tuple[str, str, dict]] = []
    replayed = 0

    # Given clients uploading while the stack is killed at a random moment, round after round
    for round_ in range(ROUNDS):
        stack = RunningStack(tmp_path)
        replayed += replayed_writes(stack)
        clients = [Uploader(stack, f"crash-{round_}-{c}", photo) for c in range(CLIENTS)]
        for client in clients:
            client.start()
        assert clients[0].first.wait(timeout=60), stack.banner
        time.sleep(rng.uniform(0.05, 1.5))
        kill_stack(stack)
        for client in clients:
            client.join(timeout=60)
            acknowledged += client.acknowledged

    # When it starts again on the same data directory
    stack = RunningStack(tmp_path)
    try:
        replayed += replayed_writes(stack)
        # Then every acknowledged upload is its owner's photo and its URL serves it
        assert len(acknowledged) >= ROUNDS
        for user, url_then, data in acknowledged:
            assert active_asset_ids(stack, user) == [data["assetId"]], user
            url = data["uploadUrl"].replace(url_then, stack.url)
            served = requests.get(url, timeout=30)
            assert served.status_code == 200, (user, served.text)
            assert served.content[:2] == b"\xff\xd8"
    finally:
        assert stack.stop(signal.SIGTERM) == 0

    # And the journal, not only the snapshot, carried writes across the kills
    assert replayed > 0
    # And every row names a file, and every file under a user's prefix is named by a row
    tables = json.loads((tmp_path / "dynamodb.json").read_text())["tables"]
    named = {item["fileKey"]["S"] for item in tables["PhotosTable"]}
    stems = {key.rpartition(".")[0] for key in named}
    bucket = tmp_path / "object-storage" / "user-assets"
    on_disk = {
        str(path.relative_to(bucket))
        for path in bucket.glob("users/*/profile-picture/*")
        if path.is_file()
    }
    originals = {key for key in on_disk if key.count(".") == 1}
    renditions = on_disk - originals
    assert named == originals
    assert {key.split(".")[0] for key in renditions} <= stems, renditions
