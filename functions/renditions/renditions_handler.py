"""Lambda: the photos table's stream (INSERT) -> the SMALL, MEDIUM and LARGE WebP renditions
of each new photo; and, invoked by signed fetch for a size asked for first,
`{"render": {userId, assetId}}` -> `{"rendered": bool}`. Partial batch failures, as retention."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from renditions_stream import photo_of, render_request

from profile_photos.observability import entry_point, metrics
from profile_photos.renditions import make_renditions, render_photo
from profile_photos.services import services

# A batch whose every record failed is reported, not raised: Lambda retries the records all
# the same, and the function's Errors metric (which rolls a deploy back) counts only real
# crashes, not a transient failure such as the index lagging behind a one-record batch.
processor = BatchProcessor(
    event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False
)


def rendered(record: DynamoDBRecord) -> None:
    if make_renditions(services(), photo_of(record)):
        metrics.add_metric(name="PhotoRendered", unit=MetricUnit.Count, value=1)


def process(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if "Records" in event:
        return process_partial_response(event, rendered, processor, context)
    metrics.add_metric(name="RenditionOnDemand", unit=MetricUnit.Count, value=1)
    return {"rendered": render_photo(services(), *render_request(event))}


@entry_point()
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return process(event, context)
