"""Per-user upload rate limits: a minute and an hour window, shared through DynamoDB.

An upload costs `cost_of(size)` units: 1 per started MiB, at least 1; a GraphQL mutation or
export page costs 1 from the same budget (see functions/graphql). Each user has two fixed
windows aligned to the epoch (a minute starts at a multiple of 60 s, an hour at a multiple of
3600 s). Minutes nest exactly in hours (3600 % 60 == 0), so both windows live in ONE item per
user and hour in the rate-limits table (hash key `pk` (S), TTL on `expiresAt`; see
RateLimitsTable in template.yaml):

    pk        = user#<userId>#h#<epochHour>
    units     (N) units spent in that hour
    m00..m59  (N) units spent in each minute of that hour (minute-of-hour of the epoch minute)
    expiresAt (N) the hour's end + 300 s, epoch seconds

`charge()` is ONE UpdateItem: `ADD units :c, mNN :c SET expiresAt = :exp`, guarded by
`(attribute_not_exists(units) OR units <= :hourLimit - :c) AND (attribute_not_exists(mNN) OR
mNN <= :minuteLimit - :c)`, returning UPDATED_NEW. DynamoDB evaluates the condition and applies
the update atomically, so concurrent uploads (on any number of function instances) can never
together exceed a limit, and a refusal by either window writes nothing. The new counts of both
windows come back in the same response, so the headers need no further read. A cost above a
limit itself is refused before any request, since a fresh counter would otherwise admit it.

Only a refusal pays a second request: one strongly consistent GetItem of the hour item, to
name the window(s) that refused (message and `retry_after`). Counts only grow within a window,
so the read sees at least what refused the update. If that read fails, or finds nothing over
(an item removed out of band), the refusal still stands, with the minute's reset as
`retry_after` (the shortest honest wait: a retry then learns the real window).

A charged upload that then fails (storage down, validation after charging) still costs: there
is no refund. Charge after the cheap request checks, right before storing; a refund would be
one more write that can itself fail, and the budget is a ceiling, not a bill.

Header values (`Allowance`): `limit` and `remaining` are those of the tightest window, the one
with the fewest units left after this charge (on a tie, the one that resets later, since that
is the longer wait); `reset_after` is the whole seconds until that window starts over. The
counts are those the update returned, so they include concurrent charges by the same user
that DynamoDB applied first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from profile_photos.errors import RateLimited

MIB = 1024 * 1024
EXPIRY_MARGIN_SECONDS = 300  # counters outlive their hour a little (clock skew between hosts)
UPLOAD = "this upload"  # what a refusal message says was charged: an upload (the default)
REQUEST = "this request"  # ... or a GraphQL mutation or export page


@dataclass(frozen=True, slots=True)
class Window:
    """A fixed window kind. All times are epoch seconds."""

    name: str  # in messages: "minute", "hour"
    seconds: int

    def index(self, now: float) -> int:
        """Which window `now` falls in: the epoch minute or epoch hour.

        Integer division of the whole second: minutes nest in hours exactly, so a minute's
        slot always lands in its own hour's item.
        """
        return math.floor(now) // self.seconds

    def start(self, now: float) -> int:
        return self.index(now) * self.seconds

    def end(self, now: float) -> int:
        """When the window that holds `now` resets (its first second no longer counts)."""
        return self.start(now) + self.seconds

    def reset_after(self, now: float) -> int:
        """Whole seconds until the window resets: 1..`seconds` (rounded up, never 0)."""
        return max(1, math.ceil(self.end(now) - now))


MINUTE = Window("minute", 60)
HOUR = Window("hour", 3600)
WINDOWS = (MINUTE, HOUR)


def counter_key(user_id: str, now: float) -> str:
    """The hash key of the item holding `user_id`'s counters for the hour of `now`."""
    return f"user#{user_id}#h#{HOUR.index(now)}"


def minute_slot(now: float) -> str:
    """The attribute counting the minute of `now` in its hour's item: `m00`..`m59`."""
    return f"m{MINUTE.index(now) % (HOUR.seconds // MINUTE.seconds):02d}"


def expires_at(now: float) -> int:
    """The item's TTL: after its hour, plus a margin."""
    return HOUR.end(now) + EXPIRY_MARGIN_SECONDS


@dataclass(frozen=True, slots=True)
class Allowance:
    """What is left after a charge, for `X-RateLimit-*` headers (see the module docstring)."""

    limit: int  # X-RateLimit-Limit: units per `window`
    remaining: int  # X-RateLimit-Remaining: units left in `window`
    reset_after: int  # X-RateLimit-Reset: seconds until `window` starts over
    window: str  # "minute" or "hour"
    cost: int  # units this request was charged


def cost_of(size_bytes: int) -> int:
    """Units an upload of `size_bytes` costs: 1 per started MiB, and at least 1.

    0 bytes costs 1 (every charged request costs something; an empty file is refused by
    validation anyway). A negative size is a programming error.
    """
    if size_bytes < 0:
        raise ValueError(f"size_bytes must be >= 0, got {size_bytes}")
    return max(1, math.ceil(size_bytes / MIB))


def limits_of(*, per_minute: int, per_hour: int) -> dict[Window, int]:
    for name, value in (("per_minute", per_minute), ("per_hour", per_hour)):
        if value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")
    return {MINUTE: per_minute, HOUR: per_hour}


def refusal(
    refused: list[Window],
    cost: int,
    limits: dict[Window, int],
    now: float,
    what: str = UPLOAD,
) -> RateLimited:
    """The 429 for windows that refused `cost`: retry when the last of them resets.

    `what` names the charged thing in the message ("this upload", "this request").
    """
    window = max(refused, key=lambda w: (w.reset_after(now), w.seconds))
    retry = window.reset_after(now)
    return RateLimited(
        f"Rate limit exceeded: {limits[window]} units per {window.name} "
        f"({what} costs {cost}); retry in {retry} s",
        retry,
    )


def check_admissible(cost: int, limits: dict[Window, int], now: float, what: str = UPLOAD) -> None:
    """Refuse a cost that no window could ever admit, before any request is made.

    Still a 429 (the budget, not the request, is the problem: the same file is fine under a
    higher limit); `retry_after` is the reset of the smallest limit's window, as for any
    refusal, but the message says that waiting will not help.
    """
    too_big = [window for window in WINDOWS if cost > limits[window]]
    if not too_big:
        return
    window = min(too_big, key=lambda w: (limits[w], w.seconds))
    raise RateLimited(
        f"Rate limit exceeded: {what} costs {cost} units, more than the limit of "
        f"{limits[window]} units per {window.name}, so it can never be admitted",
        window.reset_after(now),
    )


def tightest(
    counts: dict[Window, int], limits: dict[Window, int], cost: int, now: float
) -> Allowance:
    """The window with the fewest units left (a tie goes to the one that resets later)."""
    window = min(WINDOWS, key=lambda w: (limits[w] - counts[w], -w.reset_after(now), -w.seconds))
    return Allowance(
        limit=limits[window],
        remaining=max(0, limits[window] - counts[window]),
        reset_after=window.reset_after(now),
        window=window.name,
        cost=cost,
    )


def charge(
    user_id: str,
    cost: int,
    *,
    per_minute: int,
    per_hour: int,
    now: float,
    what: str = UPLOAD,
) -> Allowance:
    """Spend `cost` units of `user_id`'s minute and hour budgets, or spend nothing.

    `what` names the charged thing in refusal messages: uploads keep the default
    ("this upload"); GraphQL mutations and export pages pass `REQUEST` ("this request").

    Raises `RateLimited` (429) when either window would go over its limit, and
    `DependencyUnavailable` (503) when DynamoDB fails. `now` is epoch seconds (`time.time()`).
    One UpdateItem when admitted; UpdateItem + GetItem when refused.
    """
    if cost < 1:
        raise ValueError(f"cost must be >= 1, got {cost}")
    limits = limits_of(per_minute=per_minute, per_hour=per_hour)
    check_admissible(cost, limits, now, what)
    key, slot = counter_key(user_id, now), minute_slot(now)
    from profile_photos.store import rate_limits  # pynamodb: only where a budget is read

    spent = rate_limits.spend(
        key,
        slot,
        cost,
        hour_limit=limits[HOUR],
        minute_limit=limits[MINUTE],
        expires_at=expires_at(now),
    )
    if spent is None:
        raise _refusal_of(key, slot, cost, limits, now, what) from None
    return tightest({MINUTE: spent[0], HOUR: spent[1]}, limits, cost, now)


def check(
    user_id: str,
    cost: int,
    *,
    per_minute: int,
    per_hour: int,
    now: float,
    what: str = UPLOAD,
) -> None:
    """Refuse, spending nothing, a `cost` that `user_id`'s budgets cannot take right now.

    One consistent GetItem, for work that must not run for a user over the limit even
    though it is charged only once it succeeds (an upload's decode check: refused input costs
    nothing, yet a user over the limit must not make the service decode). A check is not a
    reservation: concurrent requests may all pass it, and `charge` still decides atomically.
    """
    limits = limits_of(per_minute=per_minute, per_hour=per_hour)
    check_admissible(cost, limits, now, what)
    from profile_photos.store import rate_limits

    minute, hour = rate_limits.spent(counter_key(user_id, now), minute_slot(now))
    counts = {MINUTE: minute, HOUR: hour}
    refused = [window for window in WINDOWS if counts[window] + cost > limits[window]]
    if refused:
        raise refusal(refused, cost, limits, now, what)


def _refusal_of(
    key: str, slot: str, cost: int, limits: dict[Window, int], now: float, what: str = UPLOAD
) -> RateLimited:
    """Nothing was written: read the item once to name the window(s) that refused."""
    from profile_photos.store import rate_limits

    minute, hour = rate_limits.counts(key, slot) or (0, 0)  # unknown: the refusal stands
    counts = {MINUTE: minute, HOUR: hour}
    refused = [window for window in WINDOWS if counts[window] + cost > limits[window]]
    if refused:
        return refusal(refused, cost, limits, now, what)
    retry = MINUTE.reset_after(now)
    return RateLimited(f"Rate limit exceeded ({what} costs {cost}); retry in {retry} s", retry)


@dataclass(frozen=True, slots=True)
class Limiter:
    """The configured budgets (`RATE_LIMIT_PER_MINUTE`, `RATE_LIMIT_PER_HOUR`)."""

    per_minute: int
    per_hour: int

    def check(self, user_id: str, cost: int, now: float, what: str = UPLOAD) -> None:
        check(user_id, cost, per_minute=self.per_minute, per_hour=self.per_hour, now=now, what=what)

    def charge(self, user_id: str, cost: int, now: float, what: str = UPLOAD) -> Allowance:
        return charge(
            user_id, cost, per_minute=self.per_minute, per_hour=self.per_hour, now=now, what=what
        )
