"""The renditions function's edge: which photo a stream record or a direct request names."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from profile_photos.errors import ValidationFailed
from profile_photos.store.photos import photo_of_image
from profile_photos.store.records import Photo


def photo_of(record: DynamoDBRecord) -> Photo:
    """The new photo a stream record (an INSERT) carries."""
    image = record.dynamodb.new_image if record.dynamodb else None
    photo = photo_of_image(image or {})
    if photo is None:
        raise ValidationFailed("the record carries no photo item")  # retried, then the queue
    return photo


RENDER_FIELDS = frozenset({"userId", "assetId", "until"})
MAX_UNTIL = 10**10  # epoch seconds (the year 2286): a larger one is no lease signed fetch took


def render_request(event: dict[str, Any]) -> tuple[str, str, int]:
    """(user id, asset id, the caller's render lease) of a synchronous request from signed
    fetch: the render gives back exactly that lease (`until`, epoch seconds), so a request
    without one, or with anything else, is refused before anything is read."""
    request = event.get("render")
    if not isinstance(request, dict):
        raise ValidationFailed("expected a stream batch or {'render': {userId, assetId, until}}")
    if set(request) != RENDER_FIELDS:
        raise ValidationFailed("render takes exactly userId, assetId and until")
    user_id, asset_id, until = request["userId"], request["assetId"], request["until"]
    if not isinstance(user_id, str) or not isinstance(asset_id, str):
        raise ValidationFailed("render needs userId and assetId strings")
    if type(until) is not int or not 0 < until < MAX_UNTIL:
        raise ValidationFailed("render needs until, the lease's end in epoch seconds")
    return user_id, asset_id, until
