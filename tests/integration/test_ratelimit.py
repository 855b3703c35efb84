"""The rate limiter against moto's DynamoDB: atomic charges, both windows or neither.

The table is template.yaml's own RateLimitsTable. Each user's minute and hour counters share
one item per hour (`units` and the slot `mNN`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from pynamodb.exceptions import GetError

from devkit.defaults import DEV_ENV
from devkit.template import create_tables, load_template
from profile_photos import ratelimit
from profile_photos.errors import DependencyUnavailable, RateLimited
from profile_photos.ratelimit import (
    HOUR,
    MIB,
    MINUTE,
    charge,
    cost_of,
    counter_key,
    minute_slot,
)
from profile_photos.settings import load_settings
from profile_photos.store import rate_limits
from profile_photos.store.models import bind_tables

TABLE = "test-rate-limits"
T0 = 1_699_999_200  # the first second of an hour
NOW = T0 + 43  # 17 s before the minute resets


class Counters:
    def __init__(self, client: Any) -> None:
        self.client = client

    def item(self, user_id: str, now: float) -> dict[str, Any] | None:
        """The raw hour item holding `user_id`'s counters at `now`."""
        key = {"pk": {"S": counter_key(user_id, now)}}
        return self.client.get_item(TableName=TABLE, Key=key, ConsistentRead=True).get("Item")

    def units(self, window: ratelimit.Window, user_id: str, now: float) -> int:
        """Units spent in the hour (`units`) or the minute (its `mNN` slot) of `now`."""
        item = self.item(user_id, now) or {}
        value = item.get("units" if window is HOUR else minute_slot(now))
        return int(value["N"]) if value else 0

    def all(self) -> list[dict[str, Any]]:
        return self.client.scan(TableName=TABLE)["Items"]


@pytest.fixture
def counters() -> Iterator[Counters]:
    with mock_aws():
        client = boto3.client("dynamodb")
        create_tables(client, {"RateLimitsTable": TABLE}, template=load_template())
        bind_tables(load_settings(DEV_ENV | {"RATE_LIMITS_TABLE": TABLE}))
        yield Counters(client)


@pytest.fixture
def sent(counters: Counters) -> Iterator[list[str]]:
    """The DynamoDB operations the limiter sends, one entry per HTTP request (retries too)."""
    operations: list[str] = []

    def record(event_name: str, **_: Any) -> None:
        operations.append(event_name.rsplit(".", 1)[-1])  # before-send.dynamodb.<Operation>

    # First, ahead of moto's own before-send hook, which answers and ends the chain.
    events = rate_limits.counters().connection.client.meta.events
    events.register_first("before-send.dynamodb", record)
    yield operations
    events.unregister("before-send.dynamodb", record)


def test_the_snippet_table_has_ttl_on_expires_at(counters: Counters) -> None:
    ttl = counters.client.describe_time_to_live(TableName=TABLE)["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "expiresAt")


def test_the_sixth_unit_of_five_per_minute_is_refused_and_not_counted(
    counters: Counters,
) -> None:
    # Given five 1-unit charges that pass
    remaining = [
        charge("alice", 1, per_minute=5, per_hour=100, now=NOW + i).remaining for i in range(5)
    ]
    assert remaining == [4, 3, 2, 1, 0]
    # When the sixth comes in the same minute
    with pytest.raises(RateLimited) as caught:
        charge("alice", 1, per_minute=5, per_hour=100, now=NOW + 5)
    # Then it waits for the minute to reset and nothing more was counted
    assert caught.value.retry_after == 12
    assert 1 <= caught.value.retry_after <= 60
    assert caught.value.message == (
        "Rate limit exceeded: 5 units per minute (this upload costs 1); retry in 12 s"
    )
    assert counters.units(MINUTE, "alice", NOW) == 5
    assert counters.units(HOUR, "alice", NOW) == 5


def test_a_3_mib_upload_costs_3_units(counters: Counters) -> None:
    allowance = charge("alice", cost_of(3 * MIB), per_minute=100, per_hour=1000, now=NOW)
    assert (allowance.cost, allowance.limit, allowance.remaining) == (3, 100, 97)
    assert allowance.window == "minute"
    assert allowance.reset_after == 17
    assert counters.units(MINUTE, "alice", NOW) == 3
    assert counters.units(HOUR, "alice", NOW) == 3


def test_an_hour_refusal_leaves_the_minute_uncharged(counters: Counters) -> None:
    # Given an hour budget smaller than the minute's, already at 4 of 5
    allowance = charge("alice", 4, per_minute=10, per_hour=5, now=NOW)
    assert (allowance.window, allowance.limit, allowance.remaining) == ("hour", 5, 1)
    # When the next minute would admit 2 more units but the hour would not
    later = NOW + 60
    with pytest.raises(RateLimited) as caught:
        charge("alice", 2, per_minute=10, per_hour=5, now=later)
    # Then the hour refused, and the minute (a fresh window) was not charged either
    assert "5 units per hour" in caught.value.message
    assert caught.value.retry_after == HOUR.reset_after(later) == 3600 - 103
    item = counters.item("alice", later)
    assert item is not None
    assert minute_slot(later) == "m01"
    assert "m01" not in item  # never written, not even as 0
    assert counters.units(MINUTE, "alice", NOW) == 4
    assert counters.units(HOUR, "alice", later) == 4


def test_a_new_minute_admits_again_while_the_hour_keeps_counting(counters: Counters) -> None:
    for i in range(5):
        charge("alice", 1, per_minute=5, per_hour=8, now=NOW + i)
    with pytest.raises(RateLimited):
        charge("alice", 1, per_minute=5, per_hour=8, now=NOW + 10)

    allowance = charge("alice", 1, per_minute=5, per_hour=8, now=NOW + 60)

    assert counters.units(MINUTE, "alice", NOW + 60) == 1
    assert counters.units(HOUR, "alice", NOW + 60) == 6
    assert (allowance.window, allowance.remaining) == ("hour", 2)
    # Then both minutes and the hour are one item: the old minute's slot stays as it was
    [item] = counters.all()
    assert {name: item[name]["N"] for name in ("units", "m00", "m01")} == {
        "units": "6",
        "m00": "5",
        "m01": "1",
    }


def test_the_hour_item_expires_after_its_hour(counters: Counters) -> None:
    charge("alice", 1, per_minute=5, per_hour=10, now=NOW)
    charge("alice", 1, per_minute=5, per_hour=10, now=T0 + 3599)
    item = counters.item("alice", NOW)
    assert item is not None
    assert item["pk"]["S"] == f"user#alice#h#{T0 // 3600}"
    assert int(item["expiresAt"]["N"]) == T0 + 3600 + ratelimit.EXPIRY_MARGIN_SECONDS
    assert (item["units"]["N"], item["m00"]["N"], item["m59"]["N"]) == ("2", "1", "1")


def test_a_cost_above_the_limit_stores_nothing(counters: Counters) -> None:
    with pytest.raises(RateLimited, match="can never be admitted"):
        charge("alice", 6, per_minute=5, per_hour=100, now=NOW)
    assert counters.all() == []


def test_users_do_not_share_budgets(counters: Counters) -> None:
    for i in range(5):
        charge("alice", 1, per_minute=5, per_hour=100, now=NOW + i)

    allowance = charge("bob", 1, per_minute=5, per_hour=100, now=NOW + 5)

    assert allowance.remaining == 4
    assert counters.units(MINUTE, "alice", NOW) == 5
    assert counters.units(MINUTE, "bob", NOW) == 1
    assert counters.units(HOUR, "bob", NOW) == 1


def test_racing_charges_admit_exactly_the_limit(counters: Counters) -> None:
    # Given 20 threads charging 1 unit each at once, against 7 per minute
    barrier = threading.Barrier(20)
    outcomes: list[str] = []
    lock = threading.Lock()

    def upload() -> None:
        barrier.wait()
        try:
            charge("alice", 1, per_minute=7, per_hour=100, now=NOW)
            outcome = "admitted"
        except RateLimited:
            outcome = "refused"
        except Exception as exc:  # any other error fails the test below, with its name
            outcome = type(exc).__name__
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=upload) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # Then exactly 7 were admitted, and the counters hold exactly 7
    assert sorted(outcomes) == ["admitted"] * 7 + ["refused"] * 13
    assert counters.units(MINUTE, "alice", NOW) == 7
    assert counters.units(HOUR, "alice", NOW) == 7


def test_dynamodb_failures_are_unavailable(counters: Counters) -> None:
    # Given the table does not exist (a misconfigured or unreachable table)
    counters.client.delete_table(TableName=TABLE)
    with pytest.raises(DependencyUnavailable):
        charge("alice", 1, per_minute=5, per_hour=100, now=NOW)


def test_an_admitted_charge_is_one_request(counters: Counters, sent: list[str]) -> None:
    # When a charge is admitted (first of its hour, then into an existing item)
    first = charge("alice", 2, per_minute=5, per_hour=100, now=NOW)
    assert sent == ["UpdateItem"]
    second = charge("alice", 1, per_minute=5, per_hour=100, now=NOW + 1)
    # Then each was one UpdateItem, whose returned counts gave the headers
    assert sent == ["UpdateItem", "UpdateItem"]
    assert (first.remaining, second.remaining) == (3, 2)


def test_a_refusal_is_one_update_and_one_read(counters: Counters, sent: list[str]) -> None:
    for i in range(5):
        charge("alice", 1, per_minute=5, per_hour=100, now=NOW + i)
    sent.clear()

    with pytest.raises(RateLimited, match="5 units per minute"):
        charge("alice", 1, per_minute=5, per_hour=100, now=NOW + 5)

    assert sent == ["UpdateItem", "GetItem"]


def test_a_cost_above_the_limit_sends_nothing(counters: Counters, sent: list[str]) -> None:
    with pytest.raises(RateLimited, match="can never be admitted"):
        charge("alice", 6, per_minute=5, per_hour=100, now=NOW)
    assert sent == []


def test_both_windows_full_waits_for_the_hour(counters: Counters) -> None:
    for i in range(5):
        charge("alice", 1, per_minute=5, per_hour=5, now=NOW + i)
    with pytest.raises(RateLimited) as caught:
        charge("alice", 1, per_minute=5, per_hour=5, now=NOW + 5)
    assert "5 units per hour" in caught.value.message
    assert caught.value.retry_after == 3600 - 48


def test_a_refusal_whose_read_fails_still_refuses(
    counters: Counters, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a full hour, and the read that names the refusing window fails
    charge("alice", 5, per_minute=10, per_hour=5, now=NOW)

    def unavailable(*args: Any, **kwargs: Any) -> dict[str, Any]:
        raise GetError("read failed")

    monkeypatch.setattr(rate_limits.counters(), "get_item", unavailable)
    # When the next upload comes, then it is refused with the minute's (shortest) wait
    with pytest.raises(RateLimited) as caught:
        charge("alice", 1, per_minute=10, per_hour=5, now=NOW + 1)
    assert caught.value.retry_after == MINUTE.reset_after(NOW + 1) == 16
    assert caught.value.message == ("Rate limit exceeded (this upload costs 1); retry in 16 s")
    assert counters.units(HOUR, "alice", NOW) == 5
