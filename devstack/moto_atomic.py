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

What moto keeps is bounded here too, because the local stack is also the self-hosted LOCAL
deployment and runs for weeks (issue 24, item 11: its RSS went 192 -> 1,108 MB over 100 ->
400 uploads, each upload slower than the last):

- moto's `BaseModel.__new__` appends every model object it ever makes to its class's
  `instances_tracked` list, for its `/moto-api/` dashboard and nothing else: every item
  version (moto copies an item for each update, condition check and transaction), every
  stream record and every shard iterator stayed alive after the table, the stream and the
  iterator dict had let go of it (~60 KB per upload), and in R2 emulation every S3 object
  with its bytes. Here models are not tracked (`_untracked_models`), so an object lives
  as long as moto itself uses it; the dashboard, which the local stack does not serve to
  anyone, lists no instances.
- moto backs up every table a TransactWriteItems touches with `copy.deepcopy` (every item
  and every stream record the table ever had), so each upload's transaction cost grew with
  the table's history. Here a transaction keeps copies of only the items it names and the
  stream's length, and a cancelled one puts those back (`_transact_write_items`): what
  DynamoDB's all-or-nothing promises, at a cost independent of the table's size.
- moto keeps every shard iterator it ever handed out, each pinning the stream shard it
  read. DynamoDB expires an iterator after 15 minutes; here at most `MAX_SHARD_ITERATORS`
  newest are kept (a reader here takes a fresh one for every read, `devstack.streams`).
- moto keeps every stream record for ever; DynamoDB keeps them 24 hours. The local event
  source mappings trim what every one of them has read (`trim_stream`), which is all the
  local stack ever reads again (it starts reading at the stream's end after a restart).
"""

from __future__ import annotations

import contextlib
import copy
import functools
import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import moto.dynamodb.models as dynamodb_models
from moto.core.common_models import BaseModel
from moto.core.model_instances import reset_model_data
from moto.dynamodb.models import DynamoDBBackend, dynamodb_backends
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler
from moto.dynamodbstreams.models import DynamoDBStreamsBackend
from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

_LOCK = threading.RLock()
TOKEN_SECONDS = 600  # how long DynamoDB remembers a ClientRequestToken
# token -> (when, SHA-256 of the request body, response), oldest first: ten minutes of
# transactions, so the request is kept as its digest, not its body
_tokens: dict[str, tuple[float, bytes, Any]] = {}
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
    """Idempotent: wraps both handlers' `call_action` in one process-wide lock, and bounds
    what moto keeps (see the module docstring)."""
    _untracked_models()
    for handler in (DynamoHandler, DynamoDBStreamsHandler):
        original = handler.call_action
        if getattr(original, "_atomic", False):
            continue
        handler.call_action = _locked(original)  # type: ignore[method-assign]
    transact = DynamoDBBackend.transact_write_items
    if not getattr(transact, "_item_backups", False):
        DynamoDBBackend.transact_write_items = _item_backups(transact)  # type: ignore[method-assign]
        # moto's backup of each table becomes the table itself; `_item_backups` restores
        dynamodb_models.copy = _TablesUncopied  # type: ignore[assignment]
    for method in ("get_shard_iterator", "get_records"):
        original = getattr(DynamoDBStreamsBackend, method)
        if not getattr(original, "_bounded", False):
            setattr(DynamoDBStreamsBackend, method, _bounded_iterators(original))


# --- bounded memory ---------------------------------------------------------------------------

MAX_SHARD_ITERATORS = 2000  # ~5 MB; a local reader uses each iterator once, at once


def _untracked_models() -> None:
    """Every moto model, of every service and of classes defined later too, is made
    without being appended to its class's `instances_tracked` (moto's dashboard list, the
    one reference that kept each object alive for ever); what was tracked is let go."""
    if getattr(BaseModel.__new__, "_untracked", False):
        return

    def __new__(cls: type[BaseModel], *args: Any, **kwargs: Any) -> BaseModel:
        # what moto's own __new__ does, minus `cls.instances_tracked.append(instance)`
        instance: BaseModel = super(BaseModel, cls).__new__(cls)
        return instance

    __new__._untracked = True  # type: ignore[attr-defined]
    BaseModel.__new__ = __new__  # type: ignore[method-assign]
    reset_model_data()  # empties every class's list; the models stay registered


class _TablesUncopied:
    """`copy` as moto's DynamoDB backend sees it: a table is not deep-copied (a transaction
    backs up only its own items, `_item_backups`); anything else is."""

    @staticmethod
    def deepcopy(value: Any, memo: dict[int, Any] | None = None) -> Any:
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)


Backup = tuple[Table, Any, Any, Any]  # (table, hash key, range key, the item or None)


def _item_backups(original: Any) -> Any:
    """TransactWriteItems that puts back the items it named, and cuts the stream records
    it appended, when it is cancelled or fails (moto restored whole-table copies)."""

    @functools.wraps(original)
    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        backups = [b for item in transact_items if (b := _backup(self, item)) is not None]
        streams = {
            id(table): (table.stream_shard, len(table.stream_shard.items))
            for table, *_ in backups
            if table.stream_shard is not None
        }
        try:
            original(self, transact_items)
        except BaseException:
            for table, hash_key, range_key, item in reversed(backups):
                _put_back(table, hash_key, range_key, item)
            for shard, length in streams.values():
                del shard.items[length:]
            raise

    transact_write_items._item_backups = True  # type: ignore[attr-defined]
    return transact_write_items


def _backup(backend: DynamoDBBackend, transact_item: dict[str, Any]) -> Backup | None:
    """The item one transaction operation names, copied; None when the operation names no
    valid key (moto then refuses it without writing)."""
    try:
        ((kind, operation),) = transact_item.items()
        table = backend.get_table(operation["TableName"])
        if kind == "Put":
            names = [table.hash_key_attr] + ([table.range_key_attr] if table.has_range_key else [])
            keys = {name: operation["Item"][name] for name in names}
        else:
            keys = operation["Key"]
        hash_key, range_key = backend.get_keys_value(table, keys)
        current = table.get_item(hash_key, range_key)
    except Exception:  # moto answers the malformed operation itself
        return None
    return table, hash_key, range_key, copy.deepcopy(current)


def _put_back(table: Table, hash_key: Any, range_key: Any, item: Any) -> None:
    if range_key is not None:
        if item is None:
            table.items[hash_key].pop(range_key, None)
        else:
            table.items[hash_key][range_key] = item
    elif item is None:
        table.items.pop(hash_key, None)
    else:
        table.items[hash_key] = item


def _bounded_iterators(original: Any) -> Any:
    """Keep only the `MAX_SHARD_ITERATORS` newest iterators (moto kept them all)."""

    @functools.wraps(original)
    def method(self: DynamoDBStreamsBackend, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        iterators = self.shard_iterators
        while len(iterators) > MAX_SHARD_ITERATORS:
            del iterators[next(iter(iterators))]  # the oldest (dicts keep insertion order)
        return result

    method._bounded = True  # type: ignore[attr-defined]
    return method


def trim_stream(stream_arn: str, through: int) -> int:
    """Forget the stream records of `stream_arn` up to sequence number `through` (every
    reader has read them); the number dropped. Sequence numbers stay as they were."""
    _, _, _, region, account, resource = stream_arn.split(":", 5)
    table_name = resource.split("/")[1]
    with _LOCK:
        table = dynamodb_backends[account][region].tables.get(table_name)
        shard = table.stream_shard if table is not None else None
        if shard is None:
            return 0
        drop = min(len(shard.items), through - shard.starting_sequence_number + 1)
        if drop <= 0:
            return 0
        del shard.items[:drop]
        shard.starting_sequence_number += drop
        return drop


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
                remembered = _remembered(token, _digest(self.raw_body))
                if remembered is not None:
                    return remembered
            status, headers, body = original(self, *args, **kwargs)
            if status == 200 and token is not None:
                answer = (status, headers, body)
                _tokens[token] = (time.monotonic(), _digest(self.raw_body), answer)
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


def _digest(body: str | bytes) -> bytes:
    return hashlib.sha256(body.encode() if isinstance(body, str) else body).digest()


def _remembered(token: str, request: bytes) -> Any:
    """The answer of the transaction that used `token` before (`request`: the digest of
    this one's body), or a mismatch error."""
    now = time.monotonic()
    while _tokens:
        oldest = next(iter(_tokens))
        if now - _tokens[oldest][0] <= TOKEN_SECONDS:
            break
        del _tokens[oldest]
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
