"""The local stack's stream poller against moto: every record reaches the function, also
after moto replaces a table's stream (it restores copies when a transaction is cancelled)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from devstack.functions import StreamTrigger
from devstack.streams import StreamPoller


def trigger() -> StreamTrigger:
    return StreamTrigger(
        table="T",
        batch_size=100,
        starting_position="LATEST",
        filters=[],
        maximum_retry_attempts=0,
        bisect_on_error=False,
        report_item_failures=True,
        on_failure=None,
    )


def put(client: Any, key: str) -> None:
    client.put_item(TableName="t", Item={"k": {"S": key}})


def cancelled_transaction(client: Any) -> None:
    with pytest.raises(ClientError, match="TransactionCanceled"):
        client.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": "t", "Item": {"k": {"S": "ghost"}}}},
                {
                    "Put": {
                        "TableName": "t",
                        "Item": {"k": {"S": "a"}},
                        "ConditionExpression": "attribute_not_exists(k)",
                    }
                },
            ]
        )


def test_records_after_a_cancelled_transaction_still_arrive(tmp_path: Path) -> None:
    with mock_aws():
        client = boto3.client("dynamodb")
        arn = client.create_table(
            TableName="t",
            AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )["TableDescription"]["LatestStreamArn"]
        put(client, "before-start")  # history: must not be delivered
        delivered: list[str] = []

        def invoke(event: dict[str, Any]) -> dict[str, Any]:
            delivered.extend(r["dynamodb"]["Keys"]["k"]["S"] for r in event["Records"])
            return {"batchItemFailures": []}

        poller = StreamPoller(
            boto3.client("dynamodbstreams"),
            arn,
            trigger(),
            invoke,
            tmp_path / "failures.jsonl",
            threading.Event(),
        )
        poller.start_iterators()

        put(client, "a")
        poller.poll_once()
        cancelled_transaction(client)  # moto swaps in a copy of the table and its stream
        put(client, "b")
        put(client, "c")
        poller.poll_once()

        assert delivered == ["a", "b", "c"]
