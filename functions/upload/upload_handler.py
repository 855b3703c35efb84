"""Lambda: POST /api/storage/profile-photo/{upload,upload-url,complete}, JWT, Idempotency-Key."""

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext
from upload_api import caller

from profile_photos import uploads
from profile_photos.api.multipart import upload_form
from profile_photos.api.web import json_body, rest_app
from profile_photos.observability import REST, entry_point

app = rest_app()


@app.post("/api/storage/profile-photo/upload")
def upload() -> Response[str]:
    call = caller(app)  # authenticated before the body is read
    form = upload_form(app.current_event)
    return call.once("upload", uploads.upload_photo, *form.fields, digest=form.digest)


@app.post("/api/storage/profile-photo/upload-url")
def upload_url() -> Response[str]:
    call, body = caller(app), json_body(app.current_event)
    fields = (body.get("fileName"), body.get("contentType"), body.get("size"), body.get("crop"))
    return call.once("upload-url", uploads.create_direct_upload, *fields)


@app.post("/api/storage/profile-photo/complete")
def complete() -> Response[str]:
    call, body = caller(app), json_body(app.current_event)
    return call.once("complete", uploads.complete_direct_upload, body.get("fileKey"))


@entry_point(REST)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
