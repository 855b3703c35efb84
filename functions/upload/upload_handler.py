"""Lambda: `POST /api/storage/profile-photo/upload` (multipart/form-data, JWT)."""

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from profile_photos.auth import authenticate
from profile_photos.multipart import parse_form, single_file, single_text
from profile_photos.observability import logger, metrics, tracer
from profile_photos.settings import get_settings
from profile_photos.storage import get_storage
from profile_photos.uploads import UploadedFile, upload_photo
from profile_photos.web import install_error_handlers, json_response, public_base_url, raw_body

app = APIGatewayRestResolver()
install_error_handlers(app)


@app.post("/api/storage/profile-photo/upload")
@tracer.capture_method
def upload() -> Response:
    event = app.current_event
    settings = get_settings()
    identity = authenticate(event.headers.get("authorization"), settings)
    fields = parse_form(raw_body(event), event.headers.get("content-type"))
    part = single_file(fields, "file")
    data = upload_photo(
        identity,
        UploadedFile(part.data, part.file_name, part.content_type),
        single_text(fields, "assetContext"),
        base_url=public_base_url(event, settings),
        settings=settings,
        storage=get_storage(settings),
    )
    metrics.add_metric(name="PhotoUploaded", unit=MetricUnit.Count, value=1)
    return json_response(201, {"success": True, "data": data})


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
