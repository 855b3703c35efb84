"""API Gateway REST proxy events, shaped exactly as Lambda receives them.

One builder serves the sample events in `events/` (for `sam local invoke -e` and the tests)
and the local HTTP server, so a request reaches a handler the same way on every path.
"""

from __future__ import annotations

import base64
import time
import uuid
from typing import Any

TEXT_TYPES = ("application/json", "application/graphql", "text/")


def proxy_event(
    method: str,
    path: str,
    *,
    resource: str,
    path_parameters: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    query: dict[str, list[str]] | None = None,
    body: bytes | None = None,
    binary: bool = True,
    stage: str = "dev",
    request_id: str | None = None,
    source_ip: str = "127.0.0.1",
    now: float | None = None,
) -> dict[str, Any]:
    """A REST API (v1) proxy event. With `*/*` among the API's binary media types (see
    template.yaml) API Gateway base64-encodes every request body, so `binary` defaults on."""
    headers = dict(headers or {})
    query = query or {}
    moment = time.time() if now is None else now
    request_id = request_id or str(uuid.uuid4())
    encoded = body is not None and binary
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": headers or None,
        "multiValueHeaders": {name: [value] for name, value in headers.items()} or None,
        "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
        "multiValueQueryStringParameters": dict(query) or None,
        "pathParameters": path_parameters or None,
        "stageVariables": None,
        "requestContext": {
            "resourceId": "local",
            "resourcePath": resource,
            "httpMethod": method,
            "extendedRequestId": request_id,
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(moment)),
            "path": f"/{stage}{path}",
            "accountId": "123456789012",
            "protocol": "HTTP/1.1",
            "stage": stage,
            "domainPrefix": "localhost",
            "requestTimeEpoch": int(moment * 1000),
            "requestId": request_id,
            "identity": {"sourceIp": source_ip, "userAgent": headers.get("User-Agent")},
            "domainName": headers.get("Host", "localhost"),
            "apiId": "local",
        },
        "body": (
            None
            if body is None
            else base64.b64encode(body).decode("ascii")
            if encoded
            else body.decode("utf-8")
        ),
        "isBase64Encoded": encoded,
    }
