"""Lambda: `GET|HEAD|PUT /api/storage/signed/{bucket}/{filePath+}?token=...` (no JWT).

GET/HEAD serve a file to the holder of a GET token; PUT receives a LOCAL direct upload for
the holder of a PUT token (R2 direct uploads go straight to R2). Reads the token and the
object store, nothing else: no DynamoDB.
"""

import time

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from profile_photos.delivery import Delivery, accept_signed_put, deliver_signed
from profile_photos.observability import logger, metrics, tracer
from profile_photos.settings import get_settings
from profile_photos.storage import get_storage
from profile_photos.web import install_error_handlers, raw_body

app = APIGatewayRestResolver()
install_error_handlers(app)


@app.route("/api/storage/signed/<bucket>/.+", method=["GET", "HEAD"])
def signed_fetch(bucket: str) -> Response:
    event = app.current_event
    settings = get_settings()
    head = event.http_method.upper() == "HEAD"
    delivery = deliver_signed(
        bucket,
        event.path_parameters.get("filePath", ""),  # API Gateway's {filePath+}
        event.query_string_parameters.get("token"),
        head=head,
        if_none_match=event.headers.get("if-none-match"),
        settings=settings,
        storage=get_storage(settings),
        now=int(time.time()),
    )
    metrics.add_metric(name="PhotoServed", unit=MetricUnit.Count, value=1)
    return file_response(delivery, head=head)


@app.put("/api/storage/signed/<bucket>/.+")
def signed_put(bucket: str) -> Response:
    event = app.current_event
    settings = get_settings()
    stored = accept_signed_put(
        bucket,
        event.path_parameters.get("filePath", ""),
        event.query_string_parameters.get("token"),
        raw_body(event),
        event.headers.get("content-type"),
        settings=settings,
        storage=get_storage(settings),
        now=int(time.time()),
    )
    metrics.add_metric(name="DirectUploadReceived", unit=MetricUnit.Count, value=1)
    return Response(status_code=200, headers={"ETag": stored.etag}, body="")


def file_response(delivery: Delivery, *, head: bool) -> Response:
    file = delivery.file
    headers = {
        "Cache-Control": f"private, max-age={delivery.max_age}",
        "ETag": file.etag,
        "X-Content-Type-Options": "nosniff",
    }
    if file.not_modified:
        return Response(status_code=304, headers=headers, body="")
    if delivery.redirect_url:
        return Response(status_code=302, headers={**headers, "Location": delivery.redirect_url})
    headers["Content-Length"] = str(file.size)
    return Response(
        status_code=200,
        content_type=file.content_type,
        headers=headers,
        body=b"" if head else file.body,
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
