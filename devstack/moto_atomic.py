"""Make moto's DynamoDB apply one request at a time, as DynamoDB's own API guarantees.

DynamoDB evaluates a condition expression and applies the write atomically, and a
transaction's conditions and writes are all-or-nothing. moto 5.2.5 checks and writes
without a lock, so two threads can both pass a condition that only one of them should. The
service relies on those guarantees (the current-photo pointer, retention's archive writes,
the rate limiter), so the local stack and the tests serialise moto's DynamoDB requests.

DynamoDB Streams reads take the same lock: when a transaction is cancelled, moto restores
deep copies of the tables it touched, so a stream read in the middle of one could see a
record that then never existed.

moto 5.2.5 also ignores a transaction's `ClientRequestToken`, with which DynamoDB makes a
retried TransactWriteItems succeed again without applying it twice (for 10 minutes; the
same token with other parameters is `IdempotentParameterMismatchException`). The service
relies on it (a retry after a timeout must not fail its own conditions), so it is emulated
here.

Writes also pass a second gate, `writes_held`, which the snapshot holds while it reads the
tables (its reads go through the server, so it cannot hold the request lock itself), and a
write that succeeded is handed to the journal (`devstack.journal`) before its answer leaves.
"""

from __future__ import annotations

import contextlib
import functools
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from moto.dynamodb.responses import DynamoHandler
from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

_LOCK = threading.RLock()
TOKEN_SECONDS = 600  # how long DynamoDB remembers a ClientRequestToken
_tokens: dict[str, tuple[float, bytes, Any]] = {}  # token -> (when, request body, response)
_WRITES = threading.Lock()
_WRITE_ACTIONS = frozenset(
    {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
)
# Called with (X-Amz-Target, region, body) after each write that succeeded.
_on_write: Callable[[str, str, str], None] | None = None


def journal_writes(hook: Callable[[str, str, str], None] | None) -> None:
    """Hand every successful DynamoDB write to `hook` (None: stop)."""
    global _on_write
    _on_write = hook


@contextlib.contextmanager
def writes_held() -> Iterator[None]:
    """No DynamoDB write starts until the block ends (reads go on)."""
    with _WRITES:
        yield


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
        target = self.headers.get("X-Amz-Target", "") if self.headers else ""
        if target.rpartition(".")[2] not in _WRITE_ACTIONS:
            with _LOCK:
                return original(self, *args, **kwargs)
        with _WRITES, _LOCK:
            token = _token(self, target)
            if token is not None:
                remembered = _remembered(token, self.raw_body)
                if remembered is not None:
                    return remembered
            status, headers, body = original(self, *args, **kwargs)
            if status == 200 and token is not None:
                _tokens[token] = (time.monotonic(), self.raw_body, (status, headers, body))
            if status == 200 and _on_write is not None:
                _on_write(target, self.region, self.raw_body)
            return status, headers, body

    call_action._atomic = True  # type: ignore[attr-defined]
    return call_action


def _token(handler: Any, target: str) -> str | None:
    if not target.endswith(".TransactWriteItems"):
        return None
    try:
        token = json.loads(handler.raw_body).get("ClientRequestToken")
    except (ValueError, AttributeError):
        return None
    return token if isinstance(token, str) else None


def _remembered(token: str, request: bytes) -> Any:
    """The answer of the transaction that used `token` before, or a mismatch error."""
    now = time.monotonic()
    for old in [t for t, (when, _, _) in _tokens.items() if now - when > TOKEN_SECONDS]:
        del _tokens[old]
    seen = _tokens.get(token)
    if seen is None:
        return None
    if seen[1] != request:
        message = "The request uses the same client token as a previous, but non-identical request."
        body = json.dumps(
            {
                "__type": "com.amazonaws.dynamodb.v20120810#IdempotentParameterMismatchException",
                "message": message,
            }
        )
        return 400, {"status": 400}, body
    return seen[2]
