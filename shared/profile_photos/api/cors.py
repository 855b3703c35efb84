"""CORS: which headers answer a browser on another origin (`CORS_ALLOWED_ORIGINS`).

Pure functions of the request's `Origin` and the configured origins, shared by the REST
functions (`profile_photos.api.web`), the local stack's own answers (devstack.server) and
the tests. Nothing here imports Powertools: the local stack's server process uses it too.

- No origins configured (the default): no CORS header at all, as API Gateway without CORS.
- An allowed `Origin`: `Access-Control-Allow-Origin` echoes it (`*` only when `*` is the
  configured value), the headers a client reads are exposed, and `Vary: Origin` tells caches
  the answer depends on the origin. Credentials are never allowed: callers authenticate with
  a bearer token in `Authorization`, which a browser sends only when the page's code does.
- Any other origin: only `Vary: Origin`, no allow header: the browser refuses the response.
- A preflight (`OPTIONS` with `Access-Control-Request-Method`) from an allowed origin also
  gets the route's methods, the request headers clients send, and a max age.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

ALLOWED_REQUEST_HEADERS = ("Authorization", "Content-Type", "Idempotency-Key", "If-None-Match")
EXPOSED_HEADERS = (
    "ETag",
    "Retry-After",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
)
# How long a browser may reuse a preflight's answer (Chromium caps it at 7200 s).
PREFLIGHT_MAX_AGE = 600


def request_origin(headers: Mapping[str, str] | None) -> str | None:
    """The request's `Origin` header, whatever its case (API Gateway keeps the client's)."""
    for name, value in (headers or {}).items():
        if name.lower() == "origin":
            return value
    return None


def allowed_origin(origin: str | None, allowed: Iterable[str]) -> str | None:
    """The `Access-Control-Allow-Origin` value for `origin`, or None when it is not allowed."""
    if not origin:
        return None
    allowed = tuple(allowed)
    if origin.rstrip("/").lower() in allowed:
        return origin
    return "*" if "*" in allowed else None


def cors_headers(origin: str | None, allowed: Iterable[str]) -> dict[str, str]:
    """The headers every response (success, error, platform error) carries."""
    allowed = tuple(allowed)
    if not allowed:
        return {}
    answer = allowed_origin(origin, allowed)
    headers = {"Vary": "Origin"}
    if answer is not None:
        headers["Access-Control-Allow-Origin"] = answer
        headers["Access-Control-Expose-Headers"] = ", ".join(EXPOSED_HEADERS)
    return headers


def preflight_headers(
    origin: str | None, allowed: Iterable[str], methods: Iterable[str]
) -> dict[str, str]:
    """The answer to a preflight for a route accepting `methods` (OPTIONS added)."""
    allowed = tuple(allowed)
    listed = ", ".join(sorted({*(m.upper() for m in methods), "OPTIONS"}))
    headers = {"Allow": listed}  # plain HTTP: which methods the route has
    cors = cors_headers(origin, allowed)
    headers |= cors
    if "Access-Control-Allow-Origin" in cors:
        headers |= {
            "Access-Control-Allow-Methods": listed,
            "Access-Control-Allow-Headers": ", ".join(ALLOWED_REQUEST_HEADERS),
            "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE),
        }
    return headers


def merge_vary(existing: str | None, value: str) -> str:
    """`Vary` with `value` added once (a response may already vary on something else)."""
    parts = [part.strip() for part in (existing or "").split(",") if part.strip()]
    if value.lower() not in (part.lower() for part in parts):
        parts.append(value)
    return ", ".join(parts)
