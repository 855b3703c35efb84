"""The local API: an HTTP server whose routes come from the template's Api events.

Each request becomes the API Gateway REST proxy event Lambda would get (built by
`devstack.apigw`, the same builder as the sample events: base64 body, headers, query string,
path parameters, a request context with a fresh request id), and the function's response
goes back as HTTP. Like API Gateway: an unknown route is 403 `Missing Authentication Token`,
and a function error is 502 `Internal server error`.
"""

from __future__ import annotations

import base64
import json
import logging
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from devstack.apigw import proxy_event
from devstack.functions import ApiRoute, LocalFunction
from devstack.pool import FunctionError

log = logging.getLogger("devstack.http")
# Lambda's synchronous payload limit, for the request event and for the response.
LAMBDA_PAYLOAD_LIMIT = 6_291_456
# Hop-by-hop headers that API Gateway does not pass on, nor return from the integration.
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "upgrade", "te", "trailer"}

Invoke = Callable[[LocalFunction, dict[str, Any], str], Any]


class LocalApi(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        functions: list[LocalFunction],
        invoke: Invoke,
        stage: str = "dev",
        emulate_lambda_limits: bool = False,
    ) -> None:
        super().__init__(address, RequestHandler)
        self.routes: list[tuple[ApiRoute, LocalFunction]] = [
            (route, function) for function in functions for route in function.routes
        ]
        # static paths before greedy ones, like API Gateway's most-specific match
        self.routes.sort(key=lambda pair: ("{" in pair[0].path, "+}" in pair[0].path))
        self.invoke = invoke
        self.stage = stage
        self.emulate_lambda_limits = emulate_lambda_limits

    def find(self, method: str, path: str) -> tuple[ApiRoute, LocalFunction, dict[str, str]]:
        for route, function in self.routes:
            params = route.match(method, path)
            if params is not None:
                return route, function, params
        raise LookupError(path)


class RequestHandler(BaseHTTPRequestHandler):
    server: LocalApi
    protocol_version = "HTTP/1.1"

    def do_request(self) -> None:
        started = time.perf_counter()
        url = urlsplit(self.path)
        method = self.command.upper()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        try:
            route, function, params = self.server.find(method, url.path)
        except LookupError:
            missing = b'{"message":"Missing Authentication Token"}'
            self.send(403, {"Content-Type": "application/json"}, missing)
            return
        headers = dict(self.headers.items())
        # what API Gateway adds in front of every integration
        headers.setdefault("X-Forwarded-For", self.client_address[0])
        headers.setdefault("X-Forwarded-Proto", "http")
        headers.setdefault("X-Forwarded-Port", str(self.server.server_address[1]))
        request_id = str(uuid.uuid4())
        event = proxy_event(
            method,
            url.path,
            resource=route.path,
            path_parameters={name: unquote(value) for name, value in params.items()},
            headers=headers,
            query=parse_qs(url.query, keep_blank_values=True),
            body=body,
            stage=self.server.stage,
            request_id=request_id,
            source_ip=self.client_address[0],
        )
        if self.server.emulate_lambda_limits and payload_size(event) > LAMBDA_PAYLOAD_LIMIT:
            # what API Gateway answers when Lambda refuses the request payload
            self.send(413, {"Content-Type": "application/json"}, b'{"message":"Request Too Long"}')
            log.info("%s %s -> 413 (event over Lambda's 6 MB limit)", method, url.path)
            return
        try:
            response = self.server.invoke(function, event, request_id)
            if self.server.emulate_lambda_limits and payload_size(response) > LAMBDA_PAYLOAD_LIMIT:
                raise ValueError("response over Lambda's 6 MB limit")
            status, out_headers, payload = self.translate(response)
        except Exception as exc:  # the function's failure, never the server's
            if isinstance(exc, FunctionError | ValueError):
                log.error("%s %s -> %s failed: %s", method, url.path, function.name, exc)
            else:
                log.exception("%s %s -> %s failed", method, url.path, function.name)
            status, out_headers, payload = (
                502,
                {"Content-Type": "application/json"},
                b'{"message": "Internal server error"}',
            )
        self.send(status, out_headers, payload)
        log.info(
            "%s %s -> %s %d (%.0f ms)",
            method,
            url.path,
            function.name,
            status,
            (time.perf_counter() - started) * 1000,
        )

    @staticmethod
    def translate(response: Any) -> tuple[int, dict[str, str], bytes]:
        """A Lambda proxy response as status, headers and body bytes."""
        if not isinstance(response, dict) or "statusCode" not in response:
            raise ValueError("malformed Lambda proxy response")
        headers = {str(k): str(v) for k, v in (response.get("headers") or {}).items()}
        for name, values in (response.get("multiValueHeaders") or {}).items():
            headers[str(name)] = ", ".join(str(v) for v in values)
        body = response.get("body") or ""
        payload = base64.b64decode(body) if response.get("isBase64Encoded") else body.encode()
        return int(response["statusCode"]), headers, payload

    def send(self, status: int, headers: dict[str, str], payload: bytes) -> None:
        self.send_response(status)
        lowered = {name.lower() for name in headers}
        for name, value in headers.items():
            if name.lower() in HOP_BY_HOP or name.lower() == "content-length":
                continue
            self.send_header(name, value)
        if "content-type" not in lowered and payload:
            self.send_header("Content-Type", "application/json")
        head_length = headers.get("Content-Length") or headers.get("content-length")
        if self.command == "HEAD" and head_length:
            self.send_header("Content-Length", head_length)
        else:
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD" and status != 304:
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_request

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per request is logged by do_request


def payload_size(payload: Any) -> int:
    """Bytes of a Lambda payload as serialised JSON (binary bodies are already base64)."""
    return len(json.dumps(payload, separators=(",", ":")))
