"""The one exception the SDK raises: the service's error envelope, a GraphQL error, or a
network failure that outlasted the retries."""

from __future__ import annotations

from typing import Any

# codes for answers that do not carry the contract's envelope (a proxy's or an old
# gateway's own error page), from the HTTP status alone
STATUS_CODES = {
    400: "VALIDATION_FAILED",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "VALIDATION_FAILED",
    429: "RATE_LIMITED",
}
NETWORK_ERROR = "NETWORK_ERROR"


class ProfilePhotosError(Exception):
    """What went wrong: `status` (the HTTP status; None when no answer came), `code` (the
    envelope's `error.code`, or a GraphQL error's `extensions.code`), `message` (the
    service's message, written for the developer), `retry_after` (seconds, when the service
    said when to come back)."""

    def __init__(
        self,
        status: int | None,
        code: str,
        message: str,
        *,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after

    def __str__(self) -> str:
        # a GraphQL error comes with HTTP 200: the status says nothing there, the code does
        if self.status is not None and 200 <= self.status < 300:
            return f"{self.code}: {self.message}"
        where = f"HTTP {self.status}" if self.status is not None else "no answer"
        return f"{self.code} ({where}): {self.message}"

    def __repr__(self) -> str:
        return f"ProfilePhotosError({self.status!r}, {self.code!r}, {self.message!r})"


class ServiceUnreachable(ProfilePhotosError):
    """No connection to the service could be opened (refused, unknown host, connect timeout):
    nothing was sent, so nothing happened. `url` is the service's URL as configured, without
    credentials. A `ProfilePhotosError` with code `NETWORK_ERROR`, so code that switches on
    the code alone keeps working."""

    def __init__(self, url: str) -> None:
        super().__init__(None, NETWORK_ERROR, f"cannot reach {url}: is the service running?")
        self.url = url

    def __repr__(self) -> str:
        return f"ServiceUnreachable({self.url!r})"


def from_envelope(
    status: int, body: Any, reason: str, retry_after: float | None
) -> ProfilePhotosError:
    """The error of a non-2xx REST answer: the envelope `{"success": false, "error": {code,
    message}}` when the body is one, else a code from the status and whatever message the
    body has (API Gateway's own `{"message": ...}`)."""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and isinstance(error.get("code"), str):
        message = error.get("message")
        return ProfilePhotosError(
            status,
            error["code"],
            message if isinstance(message, str) else reason,
            retry_after=retry_after,
        )
    code = STATUS_CODES.get(status, "SERVICE_UNAVAILABLE" if status >= 500 else "HTTP_ERROR")
    message = body.get("message") if isinstance(body, dict) else None
    text = message if isinstance(message, str) and message else reason or f"HTTP {status}"
    return ProfilePhotosError(status, code, text, retry_after=retry_after)
