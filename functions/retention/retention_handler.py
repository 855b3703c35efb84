"""Lambda: the photos table's stream -> keep each user's newest active photos, archive the
rest. Partial batch failures: a failing user's records are retried alone (RetentionBatch)."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from retention_stream import new_images, user_of

from profile_photos.api.streams import process_stream
from profile_photos.observability import entry_point, metrics
from profile_photos.retention import RetentionBatch, expected_active
from profile_photos.services import services


def process(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    records = list(DynamoDBStreamEvent(event).records)
    limit = services().settings.retention_active_limit
    batch = RetentionBatch(limit, expected_active(new_images(records)))

    def handle(record: DynamoDBRecord) -> None:
        batch.run_for(user_of(record))

    metrics.add_metric(name="StreamRecordsProcessed", unit=MetricUnit.Count, value=len(records))
    response = process_stream(event, handle, context)
    if batch.archived:
        metrics.add_metric(name="PhotosArchived", unit=MetricUnit.Count, value=len(batch.archived))
    return response


@entry_point()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process(event, context)
