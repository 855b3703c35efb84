"""The upload function's edge: who is calling, their `Idempotency-Key` scope, and the 201
data objects of the contract (camelCase) made from the domain's typed results."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.metrics import MetricUnit

from profile_photos import uploads
from profile_photos.api.idempotency import Idempotency, idempotent, text_fingerprint
from profile_photos.api.web import created, public_base_url
from profile_photos.auth import Identity, authenticate
from profile_photos.observability import metrics
from profile_photos.services import Services, services
from profile_photos.times import iso_ms
from profile_photos.uploads import DirectUpload, StoredPhoto

Result = StoredPhoto | DirectUpload


@dataclass(frozen=True, slots=True)
class Call:
    """One request: the services (signing for its base URL), the verified caller, and its
    idempotency scope."""

    services: Services
    identity: Identity
    scope: Idempotency[Result]

    def once(
        self,
        operation: str,
        use_case: Callable[..., Result],
        *args: Any,
        digest: Callable[[], str] | None = None,
    ) -> Response[str]:
        """`use_case(services, identity, *args)`, once per `Idempotency-Key`, as its 201.
        The request's fingerprint is `digest()`, by default that of the arguments' text."""
        digest = digest or text_fingerprint(*args)
        result = idempotent(
            self.scope, operation, digest, lambda: use_case(self.services, self.identity, *args)
        )
        if isinstance(result, StoredPhoto):
            metrics.add_metric(name="PhotoUploaded", unit=MetricUnit.Count, value=1)
            return created(photo_data(result), result.allowance)
        metrics.add_metric(name="DirectUploadStarted", unit=MetricUnit.Count, value=1)
        return created(upload_url_data(result), result.allowance)


def caller(app: APIGatewayRestResolver) -> Call:
    event, root = app.current_event, services()
    identity = authenticate(event.headers.get("authorization"), root.settings)
    here = root.at(public_base_url(event, root.settings))
    scope = Idempotency[Result](
        table=root.settings.idempotency_table,
        client=root.open_dynamodb,
        user_id=identity.user_id,
        key=event.headers.get("idempotency-key"),
        lambda_context=app.lambda_context,
        remember=uploads.remembered,
        recall=lambda record: uploads.recall(here, identity, record),
    )
    return Call(here, identity, scope)


def photo_data(stored: StoredPhoto) -> dict[str, Any]:
    """The seed's 201 data object of an upload (and of a completed direct upload)."""
    photo = stored.photo
    return {
        "fileKey": photo.file_key,
        "uploadUrl": stored.url.url,
        "fileName": photo.file_name,
        "contentType": photo.content_type,
        "size": photo.size,
        "assetId": photo.asset_id,
        "uploadedAt": photo.uploaded_at,
        "expiresAt": iso_ms(datetime.fromtimestamp(stored.url.expires_at, UTC)),
    }


def upload_url_data(upload: DirectUpload) -> dict[str, Any]:
    """The 201 data object of `upload-url`: one PUT, its headers, until when."""
    return {
        "uploadUrl": upload.upload_url,
        "method": "PUT",
        "headers": upload.headers,
        "fileKey": upload.grant.file_key,
        "expiresAt": iso_ms(datetime.fromtimestamp(upload.expires_at, UTC)),
    }
