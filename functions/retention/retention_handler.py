"""Lambda: the photos table's stream -> keep each user's newest active photos, archive the rest.

Powertools' BatchProcessor reports partial batch failures, so one bad record is retried
alone instead of the whole batch. A batch costs one Query per user, however many of its
records are about that user: the first record of a user runs retention on the table's
current state, which already includes every later record of the batch.
"""

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from profile_photos.models import bind_tables
from profile_photos.observability import logger, metrics, tracer
from profile_photos.retention import enforce_retention
from profile_photos.settings import get_settings

processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


class BatchRun:
    """Retention once per user per batch; a user's failure fails all of its records."""

    def __init__(self, limit: int, event: dict) -> None:
        self.limit = limit
        self.outcomes: dict[str, Exception | None] = {}
        self.expected = expected_active(event)

    def handle(self, record: DynamoDBRecord) -> None:
        user_id = record.dynamodb.keys["userId"]  # type: ignore[union-attr]
        if user_id not in self.outcomes:
            try:
                archived = enforce_retention(user_id, self.limit, self.expected.get(user_id))
                self.outcomes[user_id] = None
                if archived:
                    metrics.add_metric(
                        name="PhotosArchived", unit=MetricUnit.Count, value=len(archived)
                    )
            except Exception as exc:
                self.outcomes[user_id] = exc
        failure = self.outcomes[user_id]
        if failure is not None:
            raise failure


def expected_active(event: dict) -> dict[str, dict[str, str]]:
    """user id -> {asset id: activeSortKey} of the active photos the batch's records show."""
    expected: dict[str, dict[str, str]] = {}
    for raw in event.get("Records") or []:
        image = raw.get("dynamodb", {}).get("NewImage") or {}
        try:
            user_id, asset_id = image["userId"]["S"], image["assetId"]["S"]
            sort_key = image["activeSortKey"]["S"]
        except (KeyError, TypeError):
            continue
        expected.setdefault(user_id, {})[asset_id] = sort_key
    return expected


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    settings = get_settings()
    bind_tables(settings)
    run = BatchRun(settings.retention_active_limit, event)
    records = len(event.get("Records") or [])
    metrics.add_metric(name="StreamRecordsProcessed", unit=MetricUnit.Count, value=records)
    return process_partial_response(
        event=event, record_handler=run.handle, processor=processor, context=context
    )
