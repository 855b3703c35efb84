"""Issue 24, item 11: what the local stack's embedded DynamoDB keeps stays bounded.

The stack's main process grew 192 -> 1,108 MB RSS over 100 -> 400 uploads, each upload
slower than the last: moto kept every stream record for ever, every shard iterator it ever
handed out (two per poll of every event source mapping, each pinning its shard), and deep-
copied each table (all its items and all its stream records) for every TransactWriteItems.
Bounding those left it gaining ~60 KB per upload: moto's `BaseModel` also appends every
object it makes to its class's `instances_tracked` list (for its dashboard), so every item
version, stream record and shard iterator stayed alive after moto itself let go of it.
Here a hundred writes and transactions each go through the stack's own embedded DynamoDB with
its event source mappings running (a stand-in function), and what moto retains is counted.
`make load SOAK=2000` measures the whole stack (RSS and time per upload).
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.dynamo_type import Item
from moto.dynamodb.models.table import StreamRecord, Table
from moto.dynamodbstreams.models import ShardIterator, dynamodbstreams_backends

from devstack import moto_atomic
from devstack.dynamo import EmbeddedDynamo
from devstack.functions import load_functions
from devstack.streams import start_pollers

WRITES = 100  # a leak of one object per write shows as 100, against a bound of 10
REGION = "eu-west-1"


@pytest.fixture
def dynamo(tmp_path: Path) -> Iterator[EmbeddedDynamo]:
    embedded = EmbeddedDynamo(tmp_path)
    embedded.start()
    yield embedded
    embedded.stop()


@pytest.fixture
def delivered(dynamo: EmbeddedDynamo, tmp_path: Path) -> Iterator[list[dict[str, Any]]]:
    """The stack's event source mappings on `dynamo`, delivering to a stand-in function."""
    records: list[dict[str, Any]] = []
    lock = threading.Lock()

    def invoker(function: Any) -> Any:
        def invoke(event: dict[str, Any]) -> dict[str, Any]:
            with lock:
                records.extend(event["Records"])
            return {"batchItemFailures": []}

        return invoke

    stop = threading.Event()
    pollers = start_pollers(
        dynamo, load_functions(), invoker, tmp_path / "stream-failures.jsonl", stop
    )
    yield records
    stop.set()
    for poller in pollers:
        poller.join(timeout=5)


def photos_table(dynamo: EmbeddedDynamo) -> Table:
    (account,) = [a for a, regions in dynamodb_backends.items() if REGION in regions]
    return dynamodb_backends[account][REGION].tables[dynamo.tables["PhotosTable"]]


def photo(user: str, asset: str, size: int = 1) -> dict[str, Any]:
    return {"userId": {"S": user}, "assetId": {"S": asset}, "size": {"N": str(size)}}


def test_stream_records_are_kept_only_until_every_mapping_read_them(
    dynamo: EmbeddedDynamo, delivered: list[dict[str, Any]]
) -> None:
    client = dynamo.client()
    table = dynamo.tables["PhotosTable"]

    # When a few hundred photos are written, one after another
    for n in range(WRITES):
        client.put_item(TableName=table, Item=photo("soak", f"a-{n:04d}"))
    deadline = time.monotonic() + 30
    inserts = 0
    while time.monotonic() < deadline and inserts < WRITES:
        time.sleep(0.2)
        inserts = len({r["dynamodb"]["Keys"]["assetId"]["S"] for r in delivered})

    # Then every record reached the functions, and the stream keeps only what is unread
    assert inserts == WRITES
    time.sleep(1)  # one more poll of every mapping
    assert len(photos_table(dynamo).stream_shard.items) < 10


def alive(kind: type) -> int:
    """How many objects of `kind` exist in this process (held by anything at all)."""
    gc.collect()
    return sum(1 for o in gc.get_objects() if type(o) is kind)


def test_moto_keeps_no_item_version_or_stream_record_it_has_let_go(
    dynamo: EmbeddedDynamo, delivered: list[dict[str, Any]]
) -> None:
    client = dynamo.client()
    table = dynamo.tables["PhotosTable"]
    key = {"userId": {"S": "soak"}, "assetId": {"S": "current"}}
    # an active photo whose writes are due for retention: its mapping reads every change
    active = photo("soak", "current") | {
        "activeSortKey": {"S": "active"},
        "retentionDue": {"BOOL": True},
    }
    client.put_item(TableName=table, Item=active)
    items_before, records_before = alive(Item), alive(StreamRecord)

    # When one active photo's item is changed a few hundred times (moto copies an item for
    # each write and appends a stream record, which the mappings read and the stream forgets)
    for n in range(WRITES):
        client.update_item(
            TableName=table,
            Key=key,
            UpdateExpression="SET #size = :s",
            ConditionExpression="attribute_exists(userId)",
            ExpressionAttributeNames={"#size": "size"},
            ExpressionAttributeValues={":s": {"N": str(n)}},
        )
    deadline = time.monotonic() + 30
    changes = 0
    while time.monotonic() < deadline and changes < WRITES:
        time.sleep(0.2)
        changes = sum(r["eventName"] == "MODIFY" for r in delivered)
    assert changes == WRITES
    time.sleep(1)  # one more poll of every mapping: the stream is trimmed

    # Then what is alive is what the table and the stream hold, not a copy per write
    shard = photos_table(dynamo).stream_shard
    assert alive(Item) - items_before < 10
    assert alive(StreamRecord) - records_before <= len(shard.items) + 1


def test_shard_iterators_are_bounded(
    dynamo: EmbeddedDynamo, monkeypatch: pytest.MonkeyPatch
) -> None:
    bound = 200  # the stack's is 2,000: the same code holds any bound, this one sooner
    monkeypatch.setattr(moto_atomic, "MAX_SHARD_ITERATORS", bound)
    streams = dynamo.client("dynamodbstreams")
    arn = dynamo.client().describe_table(TableName=dynamo.tables["PhotosTable"])["Table"][
        "LatestStreamArn"
    ]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]

    # When a reader takes more iterators than the bound (a poller takes two per poll)
    for _ in range(bound + 300):
        streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="LATEST")

    # Then moto holds no more than the bound, and the newest still reads
    held = sum(
        len(b.shard_iterators) for r in dynamodbstreams_backends.values() for b in r.values()
    )
    assert held <= bound
    # ...and none it dropped lives on elsewhere (a few may be mid-request in a poller)
    assert alive(ShardIterator) <= bound + 10
    newest = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="LATEST")
    assert streams.get_records(ShardIterator=newest["ShardIterator"])["Records"] == []


def test_a_transaction_copies_no_table_and_a_cancelled_one_changes_nothing(
    dynamo: EmbeddedDynamo, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = dynamo.client()
    table = dynamo.tables["PhotosTable"]
    for n in range(WRITES):
        client.put_item(TableName=table, Item=photo("many", f"p-{n:04d}"))
    moto_table = photos_table(dynamo)
    copies: list[str] = []
    monkeypatch.setattr(
        Table, "__deepcopy__", lambda self, memo: copies.append(self.name), raising=False
    )
    records_before = len(moto_table.stream_shard.items)

    # When one transaction commits and one is cancelled by its condition
    client.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": table, "Item": photo("tx", "new", 5)}},
            {
                "Update": {
                    "TableName": table,
                    "Key": {"userId": {"S": "many"}, "assetId": {"S": "p-0000"}},
                    "UpdateExpression": "SET #size = :s",
                    "ExpressionAttributeNames": {"#size": "size"},
                    "ExpressionAttributeValues": {":s": {"N": "7"}},
                }
            },
        ]
    )
    with pytest.raises(client.exceptions.TransactionCanceledException):
        client.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": table, "Item": photo("tx", "never", 1)}},
                {
                    "Update": {
                        "TableName": table,
                        "Key": {"userId": {"S": "many"}, "assetId": {"S": "p-0001"}},
                        "UpdateExpression": "SET #size = :s",
                        "ExpressionAttributeNames": {"#size": "size"},
                        "ExpressionAttributeValues": {":s": {"N": "9"}},
                    }
                },
                {
                    "Delete": {
                        "TableName": table,
                        "Key": {"userId": {"S": "tx"}, "assetId": {"S": "new"}},
                        "ConditionExpression": "#size = :big",
                        "ExpressionAttributeNames": {"#size": "size"},
                        "ExpressionAttributeValues": {":big": {"N": "1000"}},
                    }
                },
            ]
        )

    # Then no table was copied, the first transaction's writes are there, the cancelled one
    # left no item, no change and no stream record
    assert copies == []
    assert photos_table(dynamo) is moto_table

    def get(user: str, asset: str) -> dict[str, Any] | None:
        key = {"userId": {"S": user}, "assetId": {"S": asset}}
        return client.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")

    assert get("tx", "new") == photo("tx", "new", 5)
    assert get("many", "p-0000")["size"] == {"N": "7"}  # type: ignore[index]
    assert get("many", "p-0001")["size"] == {"N": "1"}  # type: ignore[index]
    assert get("tx", "never") is None
    assert len(moto_table.stream_shard.items) == records_before + 2


def test_a_client_request_token_is_remembered_by_digest_and_still_answers_a_retry(
    dynamo: EmbeddedDynamo,
) -> None:
    client = dynamo.client()
    table = dynamo.tables["PhotosTable"]
    put = [{"Put": {"TableName": table, "Item": photo("tok", "once", 2)}}]
    client.transact_write_items(TransactItems=put, ClientRequestToken="t-1")

    # A retry with the same token and request succeeds without applying it again...
    client.transact_write_items(TransactItems=put, ClientRequestToken="t-1")
    # ...and the same token with another request is refused, as DynamoDB does
    other = [{"Put": {"TableName": table, "Item": photo("tok", "twice", 3)}}]
    with pytest.raises(client.exceptions.IdempotentParameterMismatchException):
        client.transact_write_items(TransactItems=other, ClientRequestToken="t-1")

    from devstack.moto_atomic import _tokens

    assert all(len(digest) == 32 for _, digest, _ in _tokens.values())
    key = {"userId": {"S": "tok"}, "assetId": {"S": "twice"}}
    assert "Item" not in client.get_item(TableName=table, Key=key, ConsistentRead=True)
