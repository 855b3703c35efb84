"""The rate-limits table: one item per user and epoch hour (see `profile_photos.ratelimit`).

`spend` is the one conditional UpdateItem that charges both windows; `counts` is the
consistent read that names the window which refused. The minute slot's attribute name is
chosen at run time (`m00`..`m59`), so both go through a low-level table connection.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pynamodb.attributes import NumberAttribute
from pynamodb.connection import TableConnection
from pynamodb.exceptions import PynamoDBException, UpdateError

from profile_photos.errors import DependencyUnavailable
from profile_photos.store.models import RateLimitModel, hash_key_table
from profile_photos.store.users import refused_by_condition

CONDITION_FAILED = "ConditionalCheckFailedException"  # UpdateItem: a window refused
UNAVAILABLE = "Rate limits are unavailable, retry later"


def counters() -> TableConnection:
    """The connection to the bound rate-limits table (botocore hooks attach to its client)."""
    return hash_key_table(RateLimitModel.Meta.table_name, "pk")


def spend(
    key: str, slot: str, cost: int, *, hour_limit: int, minute_limit: int, expires_at: int
) -> tuple[int, int] | None:
    """Add `cost` to the hour's `units` and the minute's `slot` if both stay within their
    limits: the new (minute, hour) counts, or None when a window refused (nothing written)."""
    minute = NumberAttribute(attr_name=slot)
    try:
        response = counters().update_item(
            key,
            actions=[
                RateLimitModel.units.add(cost),
                minute.add(cost),
                RateLimitModel.expires_at.set(datetime.fromtimestamp(expires_at, tz=UTC)),
            ],
            condition=(
                RateLimitModel.units.does_not_exist() | (RateLimitModel.units <= hour_limit - cost)
            )
            & (minute.does_not_exist() | (minute <= minute_limit - cost)),
            return_values="UPDATED_NEW",
        )
    except UpdateError as exc:
        if not refused_by_condition(exc):
            raise DependencyUnavailable(UNAVAILABLE) from exc
        return None
    except PynamoDBException as exc:
        raise DependencyUnavailable(UNAVAILABLE) from exc
    updated = response.get("Attributes", {})
    return _number(updated, slot, cost), _number(updated, "units", cost)


def spent(key: str, slot: str) -> tuple[int, int]:
    """The (minute, hour) counts of the item (one consistent GetItem); `DependencyUnavailable`
    if it failed (the charge that follows would fail too)."""
    found = counts(key, slot)
    if found is None:
        raise DependencyUnavailable(UNAVAILABLE)
    return found


def counts(key: str, slot: str) -> tuple[int, int] | None:
    """The (minute, hour) counts of the item (one consistent GetItem); None if it failed."""
    try:
        item = counters().get_item(key, consistent_read=True, attributes_to_get=["units", slot])
    except PynamoDBException:
        return None
    found = item.get("Item", {})
    return _number(found, slot, 0), _number(found, "units", 0)


def _number(attributes: dict[str, Any], name: str, default: int) -> int:
    """A number from a raw DynamoDB attribute map (`{"units": {"N": "3"}}`)."""
    value = attributes.get(name)
    return int(value["N"]) if value else default
