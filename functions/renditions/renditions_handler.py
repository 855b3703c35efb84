"""Lambda: the photos table's stream (INSERT) -> the SMALL, MEDIUM and LARGE WebP renditions
of each new photo; and, invoked by signed fetch for a size asked for first,
`{"render": {userId, assetId, until}}` -> `{"rendered": bool}` (rendered under the render
lease signed fetch took, given back when done; the stream's render takes the lease itself and
skips a photo whose lease is live). Partial batch failures, as retention."""

import time
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from renditions_stream import photo_of, render_request

from profile_photos.api.streams import process_stream
from profile_photos.observability import entry_point, metrics
from profile_photos.renditions import render_new_photo, render_photo
from profile_photos.services import services


def rendered(record: DynamoDBRecord) -> None:
    if render_new_photo(services(), photo_of(record), int(time.time())):
        metrics.add_metric(name="PhotoRendered", unit=MetricUnit.Count, value=1)


def process(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if "Records" in event:
        return process_stream(event, rendered, context)
    metrics.add_metric(name="RenditionOnDemand", unit=MetricUnit.Count, value=1)
    return {"rendered": render_photo(services(), *render_request(event))}


@entry_point()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process(event, context)
