"""The local API: an HTTP server whose routes come from the template's Api events.

Each request becomes the API Gateway REST proxy event Lambda would get (built by
`devkit.apigw`, the same builder as the sample events: base64 body, headers, query string,
path parameters, a request context with a fresh request id), and the function's response
goes back as HTTP. Like API Gateway with the template's `GatewayResponses`: an unknown route
is 404 NOT_FOUND, a function error 502 SERVICE_UNAVAILABLE and (LOCAL_EMULATE_LAMBDA_LIMITS)
a request over Lambda's payload limit 413 PAYLOAD_TOO_LARGE, each in the contract's envelope
with the template's own message.

CORS (`CORS_ALLOWED_ORIGINS`): the functions answer their routes' preflights and add their
headers themselves (profile_photos.api.web), as on AWS; the server adds the same headers to
its own answers. Unlike API Gateway, whose gateway responses can only echo the request's
Origin, it checks the origin against the list.

Besides the template's routes, the stack serves what a developer opens in a browser:
`/` and `/web/<file>` (the browser page, clients/web), `/openapi.json` (openapi.yaml),
`/docs` (Swagger UI over that document, its files under `/docs/`; devstack.swagger), and
`POST /dev/token` (a token for any user, only while the stack verifies tokens with its
development default secret; devkit.token).

Every request puts one line in the log at INFO (method, path, status, milliseconds, and the
function that answered, or what the stack answered instead): the console's line per request
(devstack.console).

Every request, the stack's own routes included, is answered only when its `Host` header is
one no outside DNS decides (`devstack.hosts`: DNS rebinding); any other is refused with 403
FORBIDDEN in the contract's envelope before its body is read or anything is invoked.
"""

from __future__ import annotations

import base64
import json
import logging
import mimetypes
import os
import re
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

from devkit.apigw import proxy_event
from devkit.defaults import DEV_JWT_SECRET
from devkit.template import ROOT, load_template
from devkit.token import make_token
from devstack.console import REQUEST, request_failed
from devstack.functions import ApiRoute, LocalFunction
from devstack.hosts import MISDIRECTED, allowed_host
from devstack.pool import FunctionError
from devstack.swagger import CONTENT_SECURITY_POLICY, MISSING, PAGE, asset, installed
from profile_photos.api.cors import cors_headers, preflight_headers, request_origin
from profile_photos.api.web import ErrorCode
from profile_photos.settings import parse_origins

log = logging.getLogger("devstack.http")
# Lambda's synchronous payload limit, for the request event and for the response.
LAMBDA_PAYLOAD_LIMIT = 6_291_456
# Hop-by-hop headers that API Gateway does not pass on, nor return from the integration.
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "upgrade", "te", "trailer"}

Invoke = Callable[[LocalFunction, dict[str, Any], str], Any]
WEB_DIR = ROOT / "clients" / "web"
OPENAPI = ROOT / "openapi.yaml"
WEB_FILE = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}")
USER_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
DEV_TOKEN_BODY_LIMIT = 4096
# the stack's own routes (not the template's): path -> methods
LOCAL_ROUTES = {
    "/": ("GET", "HEAD"),
    "/openapi.json": ("GET", "HEAD"),
    "/docs": ("GET", "HEAD"),
    "/favicon.ico": ("GET", "HEAD"),  # what a browser asks for by itself: the page's icon
    "/dev/token": ("POST",),
}


def gateway_responses(
    template: dict[str, Any] | None = None,
) -> dict[str, tuple[int | None, bytes]]:
    """The template's `GatewayResponses`: response type -> (status, envelope bytes)."""
    api = (template or load_template())["Resources"]["ProfilePhotosApi"]["Properties"]
    found: dict[str, tuple[int | None, bytes]] = {}
    for kind, spec in api.get("GatewayResponses", {}).items():
        status = int(spec["StatusCode"]) if "StatusCode" in spec else None
        found[kind] = (status, spec["ResponseTemplates"]["application/json"].encode())
    return found


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
        cors_origins: tuple[str, ...] | None = None,
        dev_tokens: bool | None = None,
        bind_and_activate: bool = True,
    ) -> None:
        super().__init__(address, RequestHandler, bind_and_activate)
        self.configured_host = address[0]  # HOST as given: a name stays a name
        # the functions' CORS_ALLOWED_ORIGINS (the stack's environment, as their settings)
        self.cors_origins = (
            parse_origins(os.environ.get("CORS_ALLOWED_ORIGINS", ""))
            if cors_origins is None
            else cors_origins
        )
        # `POST /dev/token` only while tokens are verified with the public development secret
        self.dev_tokens = (
            not os.environ.get("JWT_JWKS_URL")
            and (os.environ.get("JWT_SECRET") or DEV_JWT_SECRET) == DEV_JWT_SECRET
            if dev_tokens is None
            else dev_tokens
        )
        self.gateway = gateway_responses()
        self.routes: list[tuple[ApiRoute, LocalFunction]] = [
            (route, function) for function in functions for route in function.routes
        ]
        # static paths before greedy ones, like API Gateway's most-specific match
        self.routes.sort(key=lambda pair: ("{" in pair[0].path, "+}" in pair[0].path))
        self.invoke = invoke
        self.stage = stage
        self.emulate_lambda_limits = emulate_lambda_limits

    def platform_error(self, kind: str, status: int | None = None) -> tuple[int, bytes]:
        """API Gateway's answer of this type, as the template's GatewayResponses make it."""
        configured, body = self.gateway[kind]
        return configured or status or 500, body

    def handle_error(self, request: Any, client_address: Any) -> None:
        request_failed(log, client_address)

    def find(self, method: str, path: str) -> tuple[ApiRoute, LocalFunction, dict[str, str]]:
        for route, function in self.routes:
            params = route.match(method, path)
            if params is not None:
                return route, function, params
        raise LookupError(path)


class RequestHandler(BaseHTTPRequestHandler):
    server: LocalApi
    protocol_version = "HTTP/1.1"
    status: int | None = None  # of the answer sent (the request's log line)
    answered_by = ""  # the function, or what the stack answered instead

    def do_request(self) -> None:
        """Answer the request, then log its one line (whatever happened in between)."""
        started = time.perf_counter()
        self.status = None
        self.answered_by = "(no answer)"
        try:
            self.answer()
        finally:
            log.info(
                "%s %s %s %.0f ms %s",
                self.command.upper(),
                urlsplit(self.path).path,
                self.status if self.status is not None else "-",
                (time.perf_counter() - started) * 1000,
                self.answered_by,
                extra={REQUEST: True},
            )

    def answer(self) -> None:
        url = urlsplit(self.path)
        method = self.command.upper()
        if not allowed_host(self.headers.get("Host"), self.server.configured_host):
            self.close_connection = True  # its body stays unread
            self.answered_by = f"(Host {self.headers['Host']!r} refused)"
            self.envelope(403, ErrorCode.FORBIDDEN, MISDIRECTED)
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        try:
            route, function, params = self.server.find(method, url.path)
        except LookupError:
            if not self.local_route(method, url.path, body):
                # no API Gateway authorizer: "Missing Authentication Token" means no route
                self.answered_by = "(no such route)"
                self.platform_error("MISSING_AUTHENTICATION_TOKEN")
            return
        self.answered_by = function.name
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
            self.answered_by = "(event over Lambda's 6 MB limit)"
            self.platform_error("REQUEST_TOO_LARGE")
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
            status, payload = self.server.platform_error("DEFAULT_5XX", 502)
            out_headers = {"Content-Type": "application/json", **self.cors()}
        self.send(status, out_headers, payload)

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

    # -- the stack's own answers ---------------------------------------------------------------

    def cors(self) -> dict[str, str]:
        return cors_headers(request_origin(dict(self.headers.items())), self.server.cors_origins)

    def platform_error(self, kind: str) -> None:
        status, body = self.server.platform_error(kind)
        headers = {"Content-Type": "application/json", **self.cors()}
        if kind == "THROTTLED":
            headers["Retry-After"] = "1"
        self.send(status, headers, body)

    def envelope(self, status: int, code: ErrorCode, message: str) -> None:
        body = {"success": False, "error": {"code": code, "message": message}}
        self.send_json(status, body)

    def send_json(self, status: int, body: Any) -> None:
        payload = json.dumps(body, separators=(",", ":")).encode()
        self.send(status, {"Content-Type": "application/json", **self.cors()}, payload)

    def local_route(self, method: str, path: str, body: bytes | None) -> bool:
        """Answer one of the stack's own routes; False when `path` is none of them."""
        if path.startswith(("/web/", "/docs/")):
            methods: tuple[str, ...] = ("GET", "HEAD")
        elif path in LOCAL_ROUTES:
            methods = LOCAL_ROUTES[path]
        else:
            return False
        self.answered_by = "(local stack)"
        if method == "OPTIONS":
            headers = preflight_headers(
                request_origin(dict(self.headers.items())), self.server.cors_origins, methods
            )
            self.send(204, headers, b"")
        elif method not in methods:
            return False
        elif path == "/dev/token":
            self.dev_token(body)
        elif path == "/openapi.json":
            self.openapi()
        elif path == "/docs" or path.startswith("/docs/"):
            self.docs(path.removeprefix("/docs").removeprefix("/"))
        elif path == "/favicon.ico":
            self.web_file("favicon.svg")
        else:
            self.web_file("index.html" if path == "/" else path.removeprefix("/web/"))
        return True

    def web_file(self, name: str) -> None:
        file = WEB_DIR / name
        if not WEB_FILE.fullmatch(name) or not file.is_file() or file.parent != WEB_DIR:
            self.envelope(404, ErrorCode.NOT_FOUND, "File not found")
            return
        kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
        if kind.startswith("text/") or kind == "application/javascript":
            kind += "; charset=utf-8"
        headers = {
            "Content-Type": kind,
            "Cache-Control": "no-cache",
            "X-Content-Type-Options": "nosniff",
            **self.cors(),
        }
        self.send(200, headers, file.read_bytes())

    def document(self) -> dict[str, Any]:
        spec: dict[str, Any] = yaml.safe_load(OPENAPI.read_text())
        host = self.headers.get("Host") or "{}:{}".format(*self.server.server_address[:2])
        spec["servers"] = [{"url": f"http://{host}", "description": "this local stack"}]
        return spec

    def openapi(self) -> None:
        if not OPENAPI.is_file():
            self.envelope(404, ErrorCode.NOT_FOUND, "openapi.yaml not found")
            return
        self.send_json(200, self.document())

    def docs(self, name: str) -> None:
        """Swagger UI's page (`name` empty) or one of its files; the page reads /openapi.json."""
        if not installed():
            self.envelope(404, ErrorCode.NOT_FOUND, MISSING)
            return
        found = ("text/html; charset=utf-8", PAGE.encode()) if not name else asset(name)
        if found is None:
            self.envelope(404, ErrorCode.NOT_FOUND, "File not found")
            return
        headers = {
            "Content-Type": found[0],
            "Cache-Control": "no-cache",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": CONTENT_SECURITY_POLICY,
            **self.cors(),
        }
        self.send(200, headers, found[1])

    def dev_token(self, body: bytes | None) -> None:
        if not self.server.dev_tokens:
            self.envelope(
                404, ErrorCode.NOT_FOUND, "Dev tokens are off: this stack verifies real tokens"
            )
            return
        if body and len(body) > DEV_TOKEN_BODY_LIMIT:
            self.envelope(400, ErrorCode.VALIDATION_FAILED, "Request body is too large")
            return
        try:
            request = json.loads(body) if body and body.strip() else {}
        except (ValueError, UnicodeDecodeError):
            request = None
        if not isinstance(request, dict):
            self.envelope(400, ErrorCode.VALIDATION_FAILED, "Request body must be a JSON object")
            return
        # nothing asked: the banner's demo user
        user_id = request.get("userId", "demo-user")
        username = request.get("username", None if "userId" in request else "demo")
        if not isinstance(user_id, str) or not USER_ID.fullmatch(user_id):
            self.envelope(
                400,
                ErrorCode.VALIDATION_FAILED,
                "userId must be 1 to 128 characters of A-Z, a-z, 0-9, _ and -",
            )
            return
        if username is not None and (not isinstance(username, str) or len(username) > 128):
            self.envelope(
                400, ErrorCode.VALIDATION_FAILED, "username must be a string of at most 128"
            )
            return
        token = make_token(user_id, username or None)
        self.send_json(200, {"success": True, "data": {"token": token}})

    def send(self, status: int, headers: dict[str, str], payload: bytes) -> None:
        self.status = status
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
    do_TRACE = do_CONNECT = do_request  # unknown to the API: its envelope, not a 501 page

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per request is logged by do_request


def payload_size(payload: Any) -> int:
    """Bytes of a Lambda payload as serialised JSON (binary bodies are already base64)."""
    return len(json.dumps(payload, separators=(",", ":")))
