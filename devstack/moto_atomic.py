"""Make moto's DynamoDB apply one request at a time, as DynamoDB's own API guarantees.

DynamoDB evaluates a condition expression and applies the write atomically, and a
transaction's conditions and writes are all-or-nothing. moto 5.2.5 checks and writes
without a lock, so two threads can both pass a condition that only one of them should. The
service relies on those guarantees (the current-photo pointer, retention's archive writes,
the rate limiter), so the local stack and the tests serialise moto's DynamoDB requests.

DynamoDB Streams reads take the same lock: when a transaction is cancelled, moto restores
deep copies of the tables it touched, so a stream read in the middle of one could see a
record that then never existed.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

from moto.dynamodb.responses import DynamoHandler
from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

_LOCK = threading.RLock()


def make_dynamodb_atomic() -> None:
    """Idempotent: wraps both handlers' `call_action` in one process-wide lock."""
    for handler in (DynamoHandler, DynamoDBStreamsHandler):
        original = handler.call_action
        if getattr(original, "_atomic", False):
            continue
        handler.call_action = _locked(original)  # type: ignore[method-assign]


def _locked(original: Any) -> Any:
    @functools.wraps(original)
    def call_action(self: Any, *args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            return original(self, *args, **kwargs)

    call_action._atomic = True  # type: ignore[attr-defined]
    return call_action
