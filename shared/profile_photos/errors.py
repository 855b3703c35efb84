"""Domain errors: what went wrong, in a message written for the client developer.

Adapters wrap SDK failures in one of these (`raise DependencyUnavailable(...) from exc`);
nobody matches on message text. The edges map them: HTTP statuses and envelope codes in
`profile_photos.api.web`, GraphQL `extensions.code` in the GraphQL function.
"""

from __future__ import annotations


class ServiceError(Exception):
    """Base class: anything the client may be told about."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ValidationFailed(ServiceError):
    """The request is malformed or breaks a documented limit (400)."""


class UnsupportedMediaType(ServiceError):
    """The file is not an allowed image, or its type, name and bytes disagree (415)."""


class Unauthorized(ServiceError):
    """No verified identity (401)."""


class Forbidden(ServiceError):
    """A signed URL token that does not grant this request (403)."""


class NotFound(ServiceError):
    """The addressed object does not exist (404)."""


class Conflict(ServiceError):
    """The request conflicts with the current state (409)."""


class IdempotencyKeyReused(ServiceError):
    """An `Idempotency-Key` sent again with a different request (422)."""


class RateLimited(ServiceError):
    """The caller spent their budget (429); `retry_after` is in whole seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class DependencyUnavailable(ServiceError):
    """A backing service (DynamoDB, object storage, the JWKS endpoint) failed (503)."""


class RenderPending(DependencyUnavailable):
    """Another request is making the asked photo size right now (503); `retry_after` is in
    whole seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
