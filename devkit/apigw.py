"""API Gateway REST proxy events, and Lambda function URL events, shaped exactly as Lambda
receives them.

One builder serves the sample events in `events/` (for `sam local invoke -e` and the tests)
and the local HTTP server, so a request reaches a handler the same way on every path. The
function URL builder makes what CloudFront's misses hand signed fetch with EnableCdn
(payload format 2.0), so the tests can hold both ways in to one answer.
"""

from __future__ import annotations

import base64
import time
import uuid
from typing import Any
from urllib.parse import urlencode

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


def function_url_event(
    method: str,
    raw_path: str,
    *,
    headers: dict[str, str] | None = None,
    query: dict[str, list[str]] | None = None,
    body: bytes | None = None,
    url_id: str = "abcdefghijklmnopqrstuvwxyz012345",
    region: str = "eu-west-1",
    request_id: str | None = None,
    source_ip: str = "127.0.0.1",
    now: float | None = None,
) -> dict[str, Any]:
    """A Lambda function URL event (payload format 2.0). `raw_path` is the path as it came
    (still percent-encoded): a function URL has no path parameters. Header names arrive in
    lower case, a repeated query parameter's values comma-joined; an AWS_IAM URL names its
    caller under `requestContext.authorizer.iam`, whose fields are left empty here (no
    handler reads them)."""
    headers = {name.lower(): value for name, value in (headers or {}).items()}
    query = query or {}
    moment = time.time() if now is None else now
    request_id = request_id or str(uuid.uuid4())
    domain = f"{url_id}.lambda-url.{region}.on.aws"
    headers.setdefault("host", domain)
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": raw_path,
        "rawQueryString": urlencode([(k, v) for k, values in query.items() for v in values]),
        "headers": headers,
        "queryStringParameters": {k: ",".join(v) for k, v in query.items()} or None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": url_id,
            "authentication": None,
            "authorizer": {
                "iam": {
                    "accessKey": None,
                    "accountId": None,
                    "callerId": None,
                    "cognitoIdentity": None,
                    "principalOrgId": None,
                    "userArn": None,
                    "userId": None,
                }
            },
            "domainName": domain,
            "domainPrefix": url_id,
            "http": {
                "method": method,
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": headers.get("user-agent", "Amazon CloudFront"),
            },
            "requestId": request_id,
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(moment)),
            "timeEpoch": int(moment * 1000),
        },
        "body": None if body is None else base64.b64encode(body).decode("ascii"),
        "pathParameters": None,
        "isBase64Encoded": body is not None,
        "stageVariables": None,
    }
