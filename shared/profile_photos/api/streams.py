"""The edge of the stream consumers (retention, renditions): a DynamoDB Streams batch through
Powertools' BatchProcessor, each record's failure reported on its own (partial batch
responses), so Lambda retries from the first failed record.

A batch whose every record failed is reported too, not raised: Lambda retries the records
all the same, and the function's Errors metric (which rolls a deploy back) counts only real
crashes, not a transient failure such as the index lagging behind a one-record batch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

_processor = BatchProcessor(
    event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False
)


def process_stream(
    event: dict[str, Any], handle: Callable[[DynamoDBRecord], None], context: LambdaContext
) -> dict[str, Any]:
    """`handle` each record of the batch `event`; the partial batch response."""
    return dict(process_partial_response(event, handle, _processor, context))
