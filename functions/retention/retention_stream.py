"""The retention function's edge: what a batch of photos-table stream records says."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord


def new_images(records: Iterable[DynamoDBRecord]) -> Iterator[dict[str, Any] | None]:
    """Each record's new item image, deserialised (None: the record carries no item image)."""
    for record in records:
        try:
            yield record.dynamodb.new_image if record.dynamodb else None
        except (AttributeError, TypeError):  # not an item image DynamoDB would write
            yield None


def user_of(record: DynamoDBRecord) -> str:
    """The user whose photo the record is about (the photos table's partition key)."""
    return str(record.dynamodb.keys["userId"])  # type: ignore[union-attr]
