"""`make redrive ENV=local` against the running local stack: a poisoned photo makes retention
fail for one user until the stream mapping gives up (the batch lands in the local failure
file); redriving before the fix keeps it, fixing the item and redriving converges."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from devkit.token import make_token
from testkit import images
from tests.e2e.conftest import ROOT, RunningStack

USER = "ops-user"
LIMIT = 5
UPLOAD = "/api/storage/profile-photo/upload"
QUEUE = "RetentionFailureQueue"
BROKEN_ASSET = "00000000-0000-4000-8000-00000000dead"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    running = RunningStack(tmp_path_factory.mktemp("redrive-data"))
    yield running
    running.stop()


def eventually(check: Callable[[], Any], timeout: float = 60.0) -> Any:
    deadline = time.time() + timeout
    while True:
        try:
            return check()
        except AssertionError:
            if time.time() > deadline:
                raise
            time.sleep(0.2)


def dynamodb(stack: RunningStack) -> Any:
    runtime = json.loads((stack.data_dir / "devstack.json").read_text())
    return boto3.client(
        "dynamodb",
        endpoint_url=runtime["dynamodb"],
        region_name="eu-west-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def active_photos(stack: RunningStack) -> list[str]:
    items = dynamodb(stack).query(
        TableName="PhotosTable",
        IndexName="active-by-user",
        KeyConditionExpression="userId = :u",
        ExpressionAttributeValues={":u": {"S": USER}},
    )["Items"]
    return sorted(item["assetId"]["S"] for item in items)


def retention_records(stack: RunningStack) -> int:
    """The stream records the retention function has processed: the sum of its
    `StreamRecordsProcessed` metric, one EMF line per finished invocation in the stack's log
    (only photo writes that set `retentionDue` reach it: template.yaml's filter)."""
    total = 0.0
    for line in list(stack.output):
        _, found, document = line.partition("RetentionFunction: ")
        if found and '"StreamRecordsProcessed"' in document:
            value = json.loads(document)["StreamRecordsProcessed"]
            total += sum(value) if isinstance(value, list) else value
    return int(total)


def upload(stack: RunningStack) -> str:
    response = stack.post(
        UPLOAD,
        headers={"Authorization": f"Bearer {make_token(USER, 'Ops')}"},
        files={"file": ("p.png", images.png_bytes(), "image/png")},
    )
    assert response.status_code == 201, response.text
    return response.json()["data"]["assetId"]


def failure_entries(
    stack: RunningStack, queue: str = "RetentionFailureQueue"
) -> list[dict[str, Any]]:
    """The failure file's entries for `queue` (the renditions consumer has its own queue)."""
    path = stack.data_dir / "stream-failures.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    entries = [json.loads(line) for line in lines if line.strip()]
    return [e for e in entries if e["destination"].endswith(f":{queue}/Arn")]


def redrive(stack: RunningStack) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_"))}
    env |= {"DEV_DATA_DIR": str(stack.data_dir)}
    return subprocess.run(
        ["make", "-s", "redrive", f"QUEUE={QUEUE}", "ENV=local"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_poisoned_batch_is_kept_until_fixed_then_redriven_to_convergence(
    stack: RunningStack,
) -> None:
    # Given a user with LIMIT active photos, retention healthy and done: the oldest of
    # LIMIT + 1 archived, and every one of their INSERTs processed by the retention function
    # (its StreamRecordsProcessed metric). The archive alone does not say so: the retention
    # run of an early INSERT sees every photo already uploaded and archives the oldest while
    # the last INSERTs still wait in the stream, and one of those would join the poisoned
    # batch below.
    first = [upload(stack) for _ in range(LIMIT + 1)]
    eventually(lambda: _assert_equal(active_photos(stack), sorted(first[1:])))
    eventually(lambda: _assert_equal(retention_records(stack), LIMIT + 1))
    assert failure_entries(stack) == []

    # When a photo item that cannot be read (size stored as a string) is written for them,
    # and they upload one more photo
    dynamodb(stack).put_item(
        TableName="PhotosTable",
        Item={
            "userId": {"S": USER},
            "assetId": {"S": BROKEN_ASSET},
            "bucket": {"S": "user-assets"},
            "fileKey": {"S": f"users/{USER}/profile-picture/{BROKEN_ASSET}.png"},
            "fileName": {"S": "broken.png"},
            "contentType": {"S": "image/png"},
            "size": {"S": "not-a-number"},
            "sha256": {"S": "0" * 64},
            "assetContext": {"S": "PROFILE_PICTURE"},
            "uploadedAt": {"S": "2000-01-01T00:00:00.000Z"},
            "activeSortKey": {"S": f"2000-01-01T00:00:00.000Z#{BROKEN_ASSET}"},
            "archived": {"BOOL": False},
            "retentionDue": {"BOOL": True},  # as the service writes a new photo
        },
    )
    eventually(lambda: _assert_equal(len(failure_entries(stack)), 1))
    # (it is no photo for the renditions consumer either: its INSERT fails there too)
    poisoned = eventually(lambda: _entries(stack, 1, "RenditionsFailureQueue"))
    assert poisoned[0]["records"][0]["dynamodb"]["Keys"]["assetId"]["S"] == BROKEN_ASSET
    latest = upload(stack)

    # Then retention fails for the user every time: both batches land in the failure file,
    # with their records, and the oldest photo is not archived
    entries = eventually(lambda: _entries(stack, 2))
    assert [r["dynamodb"]["Keys"]["assetId"]["S"] for e in entries for r in e["records"]] == [
        BROKEN_ASSET,
        latest,
    ]
    assert {e["destination"] for e in entries} == {
        "arn:aws:local:eu-west-1:RetentionFailureQueue/Arn"
    }
    assert [len(e["records"]) for e in entries] == [e["batchSize"] for e in entries]
    assert latest in active_photos(stack)
    assert len(active_photos(stack)) == LIMIT + 2  # the broken one included

    # When redriven before the fix: still failing, nothing removed
    before = redrive(stack)
    assert before.returncode != 0, before.stdout + before.stderr  # make: 2 for a failed recipe
    assert "still failing" in before.stdout
    assert "2 batches: 0 records succeeded, 2 still failing; 0 removed, 2 kept" in before.stdout
    assert failure_entries(stack) == entries

    # When the broken item is fixed (removed: a REMOVE never triggers retention) and redriven
    dynamodb(stack).delete_item(
        TableName="PhotosTable", Key={"userId": {"S": USER}, "assetId": {"S": BROKEN_ASSET}}
    )
    assert len(active_photos(stack)) == LIMIT + 1  # nothing ran retention on its own
    after = redrive(stack)

    # Then both batches converge and leave the file, and the user has the LIMIT newest
    assert after.returncode == 0, after.stdout + after.stderr
    assert "2 batches: 2 records succeeded, 0 still failing; 2 removed, 0 kept" in after.stdout
    assert "on the running stack" in after.stdout
    assert failure_entries(stack) == []
    assert active_photos(stack) == sorted([*first[2:], latest])

    # And the stack saved the redrive's writes (asked to by the redrive)
    snapshot = stack.data_dir / "dynamodb.json"
    eventually(lambda: _assert_archived(snapshot, first[1]), timeout=10)


def _assert_equal(actual: Any, expected: Any) -> None:
    assert actual == expected


def _entries(
    stack: RunningStack, count: int, queue: str = "RetentionFailureQueue"
) -> list[dict[str, Any]]:
    entries = failure_entries(stack, queue)
    assert len(entries) == count
    return entries


def _assert_archived(snapshot: Path, asset_id: str) -> None:
    items = json.loads(snapshot.read_text())["tables"]["PhotosTable"]
    (item,) = [i for i in items if i["assetId"]["S"] == asset_id]
    assert item.get("archived") == {"BOOL": True}
