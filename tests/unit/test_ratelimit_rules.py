"""The rate limiter's pure rules: costs, window keys and resets, refusals, header values."""

from __future__ import annotations

import pytest

from profile_photos.api.web import rate_limit_headers
from profile_photos.errors import RateLimited
from profile_photos.ratelimit import (
    EXPIRY_MARGIN_SECONDS,
    HOUR,
    MIB,
    MINUTE,
    Allowance,
    charge,
    check_admissible,
    cost_of,
    counter_key,
    expires_at,
    limits_of,
    minute_slot,
    refusal,
    tightest,
)

T0 = 1_699_999_200  # 2023-11-14T22:00:00Z: the first second of an hour (and of a minute)


@pytest.mark.parametrize(
    ("size", "cost"),
    [
        (0, 1),
        (1, 1),
        (MIB - 1, 1),
        (MIB, 1),
        (MIB + 1, 2),
        (3 * MIB, 3),
        (5_000_000, 5),  # "a 5 MB file costs 5"
        (5 * MIB, 5),
        (5 * MIB + 1, 6),
    ],
)
def test_cost_is_one_unit_per_started_mib(size: int, cost: int) -> None:
    assert cost_of(size) == cost


def test_negative_size_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="size_bytes"):
        cost_of(-1)


@pytest.mark.parametrize(
    ("offset", "minute_start", "hour_start"),
    [
        (0, 0, 0),
        (59.999, 0, 0),
        (60, 60, 0),
        (3599.5, 3540, 0),
        (3600, 3600, 3600),
    ],
)
def test_windows_are_fixed_and_aligned_to_the_epoch(
    offset: float, minute_start: int, hour_start: int
) -> None:
    now = T0 + offset
    assert MINUTE.start(now) == T0 + minute_start
    assert MINUTE.end(now) == T0 + minute_start + 60
    assert HOUR.start(now) == T0 + hour_start
    assert HOUR.end(now) == T0 + hour_start + 3600


def test_one_item_per_user_and_epoch_hour() -> None:
    assert counter_key("alice", T0 + 30) == f"user#alice#h#{T0 // 3600}"
    # Same hour, same item (whatever the minute); next hour, next item; other user, other item.
    assert counter_key("alice", T0) == counter_key("alice", T0 + 3599.9)
    assert counter_key("alice", T0 + 3600) != counter_key("alice", T0)
    assert counter_key("bob", T0) != counter_key("alice", T0)


@pytest.mark.parametrize(
    ("offset", "slot"),
    [
        (0, "m00"),
        (59.999, "m00"),
        (60, "m01"),
        (9 * 60 + 1, "m09"),
        (3599.999, "m59"),
        (3600, "m00"),  # the next hour's item starts over at m00
    ],
)
def test_each_minute_is_a_slot_of_its_hour_item(offset: float, slot: str) -> None:
    assert minute_slot(T0 + offset) == slot


def test_the_last_instant_of_an_hour_is_its_m59() -> None:
    now = float(T0) - 2.0**-22  # the last representable instant before T0
    assert now < T0
    assert counter_key("alice", now) == f"user#alice#h#{T0 // 3600 - 1}"
    assert minute_slot(now) == "m59"


def test_items_expire_after_their_hour() -> None:
    assert expires_at(T0 + 10) == T0 + 3600 + EXPIRY_MARGIN_SECONDS
    assert expires_at(T0 + 3599) == T0 + 3600 + EXPIRY_MARGIN_SECONDS
    assert expires_at(T0 + 3600) == T0 + 7200 + EXPIRY_MARGIN_SECONDS


@pytest.mark.parametrize(
    ("offset", "minute_wait"),
    [
        (0, 60),  # first instant of a window: the whole window to wait
        (0.001, 60),  # rounded up, never down
        (43, 17),
        (59, 1),
        (59.999, 1),  # never 0, however close the reset
        (60, 60),  # the next window's first instant
    ],
)
def test_reset_after_is_whole_seconds_between_1_and_the_window(
    offset: float, minute_wait: int
) -> None:
    assert MINUTE.reset_after(T0 + offset) == minute_wait
    assert HOUR.reset_after(T0 + offset) == 3600 - int(offset)
    assert HOUR.reset_after(T0 + 3599.999) == 1


def test_refusal_names_the_limit_cost_and_wait() -> None:
    limits = limits_of(per_minute=100, per_hour=1000)
    error = refusal([MINUTE], 5, limits, T0 + 43)
    assert error.retry_after == 17
    assert error.message == (
        "Rate limit exceeded: 100 units per minute (this upload costs 5); retry in 17 s"
    )


def test_when_both_windows_refuse_the_wait_is_the_later_reset() -> None:
    limits = limits_of(per_minute=100, per_hour=1000)
    now = T0 + 43
    error = refusal([MINUTE, HOUR], 5, limits, now)
    assert error.retry_after == 3600 - 43
    assert "1000 units per hour" in error.message


def test_a_cost_under_both_limits_is_admissible() -> None:
    check_admissible(5, limits_of(per_minute=5, per_hour=5), T0)


@pytest.mark.parametrize(
    ("per_minute", "per_hour", "named"),
    [
        (4, 1000, "4 units per minute"),
        (100, 4, "4 units per hour"),
        (3, 4, "3 units per minute"),
    ],
)
def test_a_cost_above_a_limit_can_never_be_admitted(
    per_minute: int, per_hour: int, named: str
) -> None:
    with pytest.raises(RateLimited) as caught:
        check_admissible(5, limits_of(per_minute=per_minute, per_hour=per_hour), T0 + 43)
    assert named in caught.value.message
    assert "can never be admitted" in caught.value.message
    assert caught.value.retry_after >= 1


def test_a_cost_above_a_limit_is_refused_before_any_request() -> None:
    # No table, no moto: a request would fail with something other than RateLimited.
    with pytest.raises(RateLimited, match="can never be admitted"):
        charge("alice", 6, per_minute=5, per_hour=100, now=T0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cost": 0}, "cost"),
        ({"per_minute": 0}, "per_minute"),
        ({"per_hour": 0}, "per_hour"),
    ],
)
def test_nonsense_arguments_are_programming_errors(kwargs: dict[str, int], message: str) -> None:
    arguments = {"cost": 1, "per_minute": 5, "per_hour": 10} | kwargs
    with pytest.raises(ValueError, match=message):
        charge("alice", arguments.pop("cost"), now=T0, **arguments)


def test_headers_report_the_window_with_fewest_units_left() -> None:
    limits = limits_of(per_minute=100, per_hour=1000)
    # Given 10 spent this minute and 950 this hour, the hour is tighter (50 left vs 90).
    allowance = tightest({MINUTE: 10, HOUR: 950}, limits, 5, T0 + 43)
    assert allowance == Allowance(
        limit=1000, remaining=50, reset_after=HOUR.reset_after(T0 + 43), window="hour", cost=5
    )
    assert rate_limit_headers(allowance) == {
        "X-RateLimit-Limit": "1000",
        "X-RateLimit-Remaining": "50",
        "X-RateLimit-Reset": str(HOUR.reset_after(T0 + 43)),
    }


def test_headers_usually_report_the_minute() -> None:
    allowance = tightest({MINUTE: 5, HOUR: 5}, limits_of(per_minute=100, per_hour=1000), 5, T0)
    assert (allowance.window, allowance.limit, allowance.remaining) == ("minute", 100, 95)


def test_on_a_tie_headers_report_the_window_that_resets_later() -> None:
    allowance = tightest({MINUTE: 7, HOUR: 7}, limits_of(per_minute=7, per_hour=7), 1, T0 + 43)
    assert (allowance.window, allowance.remaining) == ("hour", 0)
