"""Domain errors, and the one table that turns them into HTTP statuses and envelope codes.

Each error carries a message written for the client developer. Adapters wrap SDK failures in
one of these (`raise StorageUnavailable(...) from exc`); handlers never match on message text.
"""

from __future__ import annotations

from typing import Any


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


# error class -> (HTTP status, envelope code). Looked up along the MRO, so subclasses inherit.
HTTP_STATUS: dict[type[ServiceError], tuple[int, str]] = {
    ValidationFailed: (400, "VALIDATION_FAILED"),
    UnsupportedMediaType: (415, "VALIDATION_FAILED"),
    Unauthorized: (401, "UNAUTHORIZED"),
    Forbidden: (403, "FORBIDDEN"),
    NotFound: (404, "NOT_FOUND"),
    Conflict: (409, "CONFLICT"),
    IdempotencyKeyReused: (422, "IDEMPOTENCY_KEY_REUSED"),
    RateLimited: (429, "RATE_LIMITED"),
    DependencyUnavailable: (503, "SERVICE_UNAVAILABLE"),
}
INTERNAL_ERROR = (500, "INTERNAL_ERROR")
INTERNAL_ERROR_MESSAGE = "Internal server error"


def status_and_code(error: BaseException) -> tuple[int, str]:
    for cls in type(error).__mro__:
        if cls in HTTP_STATUS:
            return HTTP_STATUS[cls]
    return INTERNAL_ERROR


def error_envelope(code: str, message: str) -> dict[str, Any]:
    return {"success": False, "error": {"code": code, "message": message}}


# error class -> GraphQL `extensions.code`, for the GraphQL function's error formatter.
GRAPHQL_CODE: dict[type[ServiceError], str] = {
    ValidationFailed: "BAD_USER_INPUT",
    UnsupportedMediaType: "BAD_USER_INPUT",
    Unauthorized: "UNAUTHENTICATED",
    Forbidden: "FORBIDDEN",
    NotFound: "NOT_FOUND",
    Conflict: "CONFLICT",
    IdempotencyKeyReused: "BAD_USER_INPUT",
    RateLimited: "RATE_LIMITED",
    DependencyUnavailable: "SERVICE_UNAVAILABLE",
}


def graphql_code(error: BaseException) -> str:
    for cls in type(error).__mro__:
        if cls in GRAPHQL_CODE:
            return GRAPHQL_CODE[cls]
    return "INTERNAL_SERVER_ERROR"
