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


def render_request(event: dict[str, Any]) -> tuple[str, str]:
    """(user id, asset id) of a synchronous request from signed fetch."""
    request = event.get("render")
    if not isinstance(request, dict):
        raise ValidationFailed("expected a stream batch or {'render': {userId, assetId}}")
    user_id, asset_id = request.get("userId"), request.get("assetId")
    if not isinstance(user_id, str) or not isinstance(asset_id, str):
        raise ValidationFailed("render needs userId and assetId strings")
    return user_id, asset_id
