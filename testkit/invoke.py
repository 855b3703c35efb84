"""Calling a function's handler in process, as Lambda would, and reading its HTTP answer.

Used by the integration tests and the bench: `invoke(handler, event)` hands the handler the
event and a `devstack.worker.LambdaContext`, and returns the API Gateway proxy response as an
`HttpResult` (the body decoded from base64 when the response says so; the header names lower
case, `multiValueHeaders` joined with ", " as a client would see them).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from devkit.context import LambdaContext

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


@dataclass
class HttpResult:
    status: int
    headers: dict[str, str]
    body: bytes
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)  # as returned

    def json(self) -> Any:
        return json.loads(self.body)


def as_http(response: dict[str, Any]) -> HttpResult:
    """A handler's API Gateway proxy response, as a client sees it."""
    body = response.get("body") or ""
    raw = base64.b64decode(body) if response.get("isBase64Encoded") else body.encode()
    headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
    for name, values in (response.get("multiValueHeaders") or {}).items():
        headers[name.lower()] = ", ".join(values)
    return HttpResult(response["statusCode"], headers, raw, response)


def invoke(handler: Handler, event: dict[str, Any], context: Any = None) -> HttpResult:
    """`handler(event, context)` (default context: request id `test-request`), as HTTP."""
    response = handler(event, LambdaContext("test-request") if context is None else context)
    return as_http(response)
