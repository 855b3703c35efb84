"""Make moto's DynamoDB apply one request at a time, as DynamoDB's own API guarantees.

DynamoDB evaluates a condition expression and applies the write atomically, and a
transaction's conditions and writes are all-or-nothing. moto 5.2.5 checks and writes
without a lock, so two threads can both pass a condition that only one of them should. The
service relies on those guarantees (the current-photo pointer, retention's archive writes,
the rate limiter), so the local stack and the tests serialise moto's DynamoDB requests.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

from moto.dynamodb.responses import DynamoHandler

_LOCK = threading.RLock()


def make_dynamodb_atomic() -> None:
    """Idempotent: wraps `DynamoHandler.call_action` in one process-wide lock."""
    original = DynamoHandler.call_action
    if getattr(original, "_atomic", False):
        return

    @functools.wraps(original)
    def call_action(self: DynamoHandler, *args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            return original(self, *args, **kwargs)

    call_action._atomic = True  # type: ignore[attr-defined]
    DynamoHandler.call_action = call_action  # type: ignore[method-assign]
