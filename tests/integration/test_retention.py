"""Retention under moto: uploads through the handler, then the photos table's real stream
records (through the template's FilterCriteria) delivered to the retention handler."""

from __future__ import annotations

import random
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest
import retention_handler
import upload_handler

from devkit.context import LambdaContext
from profile_photos import profiles
from profile_photos.auth import Identity
from testkit.events import file_upload, user_token
from testkit.images import jpeg_bytes
from testkit.invoke import invoke
from tests.integration.conftest import Stack, stream_records

LIMIT = 5


def upload(user: str = "demo-user") -> dict[str, Any]:
    event = file_upload(
        "retention", jpeg_bytes(), "p.jpg", "image/jpeg", token=user_token(sub=user)
    )
    result = invoke(upload_handler.lambda_handler, event)
    assert result.status == 201, result.body
    return result.json()["data"]


def upload_sequentially(count: int, user: str = "demo-user") -> list[str]:
    ids = []
    for _ in range(count):
        ids.append(upload(user)["assetId"])
        time.sleep(0.002)  # distinct millisecond timestamps: a well-defined "newest"
    return ids


def deliver(records: list[dict[str, Any]]) -> dict[str, Any]:
    return retention_handler.lambda_handler({"Records": records}, LambdaContext())


def photos(stack: Stack, user: str = "demo-user") -> list[dict[str, Any]]:
    return [p for p in stack.items("PHOTOS_TABLE") if p["userId"]["S"] == user]


def active_ids(stack: Stack, user: str = "demo-user") -> set[str]:
    return {
        p["assetId"]["S"]
        for p in photos(stack, user)
        if "activeSortKey" in p and not p["archived"]["BOOL"]
    }


def archived_ids(stack: Stack, user: str = "demo-user") -> set[str]:
    return {
        p["assetId"]["S"]
        for p in photos(stack, user)
        if p["archived"]["BOOL"] and "activeSortKey" not in p and "archivedAt" in p
    }


def current_id(stack: Stack, user: str = "demo-user") -> str:
    (record,) = [u for u in stack.items("USERS_TABLE") if u["id"]["S"] == user]
    return record["currentAssetId"]["S"]


def newest(stack: Stack, count: int, user: str = "demo-user") -> set[str]:
    ranked = sorted(
        (p for p in photos(stack, user) if "activeSortKey" in p),
        key=lambda p: p["activeSortKey"]["S"],
        reverse=True,
    )
    return {p["assetId"]["S"] for p in ranked[:count]}


def test_seven_uploads_leave_the_five_newest_active_and_archive_the_rest(stack: Stack) -> None:
    ids = upload_sequentially(7)

    response = deliver(stream_records(stack))

    assert response == {"batchItemFailures": []}
    assert active_ids(stack) == set(ids[-LIMIT:])
    assert archived_ids(stack) == set(ids[:2])
    assert current_id(stack) == ids[-1]
    assert stack.objects().__len__() == 7  # archived photos keep their bytes


def test_one_record_per_batch_in_order_converges_the_same(stack: Stack) -> None:
    ids = upload_sequentially(7)

    for record in stream_records(stack):
        assert deliver([record]) == {"batchItemFailures": []}

    assert active_ids(stack) == set(ids[-LIMIT:])


def test_duplicate_delivery_changes_nothing_more(stack: Stack) -> None:
    ids = upload_sequentially(7)
    records = stream_records(stack)
    deliver(records)
    first = {p["assetId"]["S"]: p.get("archivedAt") for p in photos(stack)}

    deliver(records + records)

    assert {p["assetId"]["S"]: p.get("archivedAt") for p in photos(stack)} == first
    assert active_ids(stack) == set(ids[-LIMIT:])


def test_out_of_order_batches_converge_the_same(stack: Stack) -> None:
    ids = upload_sequentially(8)
    records = stream_records(stack)
    random.Random(7).shuffle(records)

    for start in range(0, len(records), 3):
        deliver(records[start : start + 3])

    assert active_ids(stack) == set(ids[-LIMIT:])
    assert archived_ids(stack) == set(ids[:3])


def test_batch_failing_half_way_reports_those_records_and_converges_on_retry(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    a_ids = upload_sequentially(7, "user-a")
    b_ids = upload_sequentially(7, "user-b")
    records = stream_records(stack)

    # Given retention for user-b fails the first time (say, DynamoDB throttles)
    from profile_photos import retention

    real = retention.enforce_retention
    failed_once: set[str] = set()

    def flaky(user_id: str, limit: int, expected: dict[str, str] | None = None) -> list[str]:
        if user_id == "user-b" and user_id not in failed_once:
            failed_once.add(user_id)
            raise RuntimeError("throttled")
        return real(user_id, limit, expected)

    monkeypatch.setattr(retention, "enforce_retention", flaky)

    # When the batch is delivered
    response = deliver(records)

    # Then exactly user-b's records are reported, and user-a has converged
    b_sequences = {
        r["dynamodb"]["SequenceNumber"]
        for r in records
        if r["dynamodb"]["Keys"]["userId"]["S"] == "user-b"
    }
    assert {f["itemIdentifier"] for f in response["batchItemFailures"]} == b_sequences
    assert active_ids(stack, "user-a") == set(a_ids[-LIMIT:])
    assert len(active_ids(stack, "user-b")) == 7

    # When Lambda retries from the lowest failed sequence number
    lowest = min(int(s) for s in b_sequences)
    retry = [r for r in records if int(r["dynamodb"]["SequenceNumber"]) >= lowest]
    assert deliver(retry) == {"batchItemFailures": []}

    # Then both users hold exactly their five newest
    assert active_ids(stack, "user-a") == set(a_ids[-LIMIT:])
    assert active_ids(stack, "user-b") == set(b_ids[-LIMIT:])


def test_concurrent_uploads_for_one_user_converge(stack: Stack) -> None:
    # Given eight uploads for one user racing through the handler
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: upload(), range(8)))

    # When their stream records arrive in small batches
    records = stream_records(stack)
    assert len(records) == 8
    for start in range(0, len(records), 3):
        deliver(records[start : start + 3])

    # Then exactly the five newest stay active, and the newest is the current photo
    assert len({r["assetId"] for r in results}) == 8
    assert active_ids(stack) == newest(stack, LIMIT)
    assert len(archived_ids(stack)) == 3
    assert current_id(stack) in newest(stack, 1)


def test_restored_photo_becomes_current_and_retention_archives_the_oldest_instead(
    stack: Stack,
) -> None:
    ids = upload_sequentially(7)
    deliver(stream_records(stack))
    oldest_active = ids[2]
    seen = len(stream_records(stack))

    restored = profiles.restore_photo(Identity("demo-user", "demo"), ids[0])
    fresh = stream_records(stack)[seen:]

    assert [r["eventName"] for r in fresh] == ["MODIFY"]  # archive writes are filtered out
    deliver(fresh)
    assert restored.asset_id == ids[0]
    assert current_id(stack) == ids[0]
    assert active_ids(stack) == {ids[0], *ids[-4:]}
    assert oldest_active in archived_ids(stack)


def test_archive_writes_do_not_trigger_retention(stack: Stack) -> None:
    upload_sequentially(7)
    before = len(stream_records(stack))

    deliver(stream_records(stack))

    assert len(stream_records(stack)) == before  # the two archive MODIFYs were filtered out


def test_archived_at_is_a_utc_timestamp(stack: Stack) -> None:
    upload_sequentially(6)
    deliver(stream_records(stack))

    (archived,) = [p for p in photos(stack) if p["archived"]["BOOL"]]
    moment = datetime.fromisoformat(archived["archivedAt"]["S"])
    assert moment.tzinfo == UTC
    assert abs((datetime.now(UTC) - moment).total_seconds()) < 60


# every record of the batch failed: Powertools raises so that Lambda retries it (logged)
@pytest.mark.error_log_expected
def test_a_lagging_index_fails_the_records_instead_of_converging_on_a_stale_view(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from profile_photos.store import photos

    ids = upload_sequentially(7)
    records = stream_records(stack)

    # Given the index does not show the newest photo yet (DynamoDB GSIs are eventually
    # consistent; moto's never lag, so the Query's answer is held back here)
    real_query = photos.active_photos

    def lagging(user_id: str) -> list[Any]:
        return [p for p in real_query(user_id) if p.asset_id != ids[-1]]

    monkeypatch.setattr(photos, "active_photos", lagging)

    # When the batch arrives, every record (all this user's) is reported failed, so Lambda
    # retries them all (without the invocation counting as a function error); nothing is
    # archived meanwhile
    failed = deliver(records)["batchItemFailures"]
    assert [item["itemIdentifier"] for item in failed] == [
        record["dynamodb"]["SequenceNumber"] for record in records
    ]
    assert archived_ids(stack) == set()

    # And once the index has caught up, the retry converges
    monkeypatch.setattr(photos, "active_photos", real_query)
    assert deliver(records) == {"batchItemFailures": []}
    assert active_ids(stack) == set(ids[-LIMIT:])
