"""Lambda: profile photo uploads (JWT).

- `POST /api/storage/profile-photo/upload`: multipart/form-data, the file in `file`.
- `POST /api/storage/profile-photo/upload-url`: announce a direct upload (JSON), get a PUT URL.
- `POST /api/storage/profile-photo/complete`: register a direct upload (JSON `fileKey`).

Each honours `Idempotency-Key`: a retry with the same key returns the first answer.
"""

import functools
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from profile_photos.auth import Identity, authenticate
from profile_photos.idempotency import Recall, Work, fingerprint, run_once
from profile_photos.multipart import BODY_PREFIX, parse_form, single_file, single_text
from profile_photos.observability import logger, metrics, tracer
from profile_photos.settings import Settings, get_settings
from profile_photos.storage import get_storage
from profile_photos.uploads import (
    UploadedFile,
    complete_direct_upload,
    create_direct_upload,
    recall_direct_upload,
    recall_upload,
    remembered,
    upload_photo,
)
from profile_photos.web import (
    install_error_handlers,
    json_body,
    json_response,
    public_base_url,
    raw_body,
)

PREFIX = "/api/storage/profile-photo"

app = APIGatewayRestResolver()
install_error_handlers(app)


@app.post(f"{PREFIX}/upload")
def upload() -> Response:
    settings, identity = _caller()
    event = app.current_event
    fields = parse_form(raw_body(event, BODY_PREFIX), event.headers.get("content-type"))
    part = single_file(fields, "file")
    context = single_text(fields, "assetContext")
    work = functools.partial(
        upload_photo,
        identity,
        UploadedFile(part.data, part.file_name, part.content_type),
        context,
        **_services(settings),
    )
    outcome = _once(
        settings,
        identity,
        "upload",
        lambda: fingerprint(part.data, part.file_name, part.content_type, context),
        work,
        functools.partial(recall_upload, identity, **_links(settings)),
    )
    metrics.add_metric(name="PhotoUploaded", unit=MetricUnit.Count, value=1)
    return created(outcome)


@app.post(f"{PREFIX}/upload-url")
def upload_url() -> Response:
    settings, identity = _caller()
    body = json_body(app.current_event)
    fields = (body.get("fileName"), body.get("contentType"), body.get("size"))
    work = functools.partial(create_direct_upload, identity, *fields, **_services(settings))
    recall = functools.partial(recall_direct_upload, identity, **_services(settings))
    outcome = _once(
        settings, identity, "upload-url", lambda: fingerprint(*map(str, fields)), work, recall
    )
    metrics.add_metric(name="DirectUploadStarted", unit=MetricUnit.Count, value=1)
    return created(outcome)


@app.post(f"{PREFIX}/complete")
def complete() -> Response:
    settings, identity = _caller()
    file_key = json_body(app.current_event).get("fileKey")
    work = functools.partial(complete_direct_upload, identity, file_key, **_services(settings))
    recall = functools.partial(recall_upload, identity, **_links(settings))
    outcome = _once(
        settings, identity, "complete", lambda: fingerprint(str(file_key)), work, recall
    )
    metrics.add_metric(name="PhotoUploaded", unit=MetricUnit.Count, value=1)
    return created(outcome)


def created(outcome: dict[str, Any]) -> Response:
    """201 with the contract's envelope, and the rate-limit headers when a budget was spent."""
    return json_response(201, {"success": True, "data": outcome["data"]}, outcome.get("rateLimit"))


def _caller() -> tuple[Settings, Identity]:
    settings = get_settings()
    return settings, authenticate(app.current_event.headers.get("authorization"), settings)


def _links(settings: Settings) -> dict[str, Any]:
    return {"base_url": public_base_url(app.current_event, settings), "settings": settings}


def _services(settings: Settings) -> dict[str, Any]:
    return _links(settings) | {"storage": get_storage(settings)}


def _once(
    settings: Settings,
    identity: Identity,
    operation: str,
    digest: Callable[[], str],
    work: Work,
    recall: Recall,
) -> Any:
    """`work()`, once per `Idempotency-Key` when the client sent one (the request's
    fingerprint is computed only then)."""
    key = app.current_event.headers.get("idempotency-key")
    if key is None:
        return work()
    return run_once(
        settings,
        user_id=identity.user_id,
        operation=operation,
        key=key,
        fingerprint=digest(),
        work=work,
        remember=remembered,
        recall=recall,
        lambda_context=app.lambda_context,
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
