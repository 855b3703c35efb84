"""Lambda's `Invoke` API on loopback, for the functions that invoke another one.

Signed fetch invokes the renditions function synchronously (a size asked for before the
stream made it). Pointing the SDK at this server (`AWS_ENDPOINT_URL_LAMBDA`) runs that call
through the same warm workers as every other invocation, as Lambda's RequestResponse would:
200 with the function's result; 200 with `X-Amz-Function-Error: Unhandled` and the error
payload when the function failed; 404 `ResourceNotFoundException` for an unknown function.
Only `POST /2015-03-31/functions/{name}/invocations` is served; a qualifier (`:live`, an
alias ARN) names the same local function. A request whose `Host` is a name some DNS
decides is refused (403, `devstack.hosts`: DNS rebinding from a browser).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

from devstack.console import request_failed
from devstack.hosts import MISDIRECTED, allowed_host
from devstack.pool import FunctionError

log = logging.getLogger("devstack.lambda")
INVOKE_PATH = re.compile(r"/2015-03-31/functions/(?P<name>[^/]+)/invocations")

Invoke = Callable[[str, Any], Any]  # (function name, event) -> result; FunctionError


def function_name(identifier: str) -> str:
    """`RenditionsFunction`, `RenditionsFunction:live` or an ARN -> `RenditionsFunction`."""
    name = identifier.split(":function:", 1)[-1]
    return name.split(":", 1)[0]


class LambdaApi(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, functions: set[str], invoke: Invoke) -> None:
        super().__init__(("127.0.0.1", 0), InvokeHandler)
        self.functions = functions
        self.invoke = invoke

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def handle_error(self, request: Any, client_address: Any) -> None:
        request_failed(log, client_address)  # a caller that gave up waiting: one line


class InvokeHandler(BaseHTTPRequestHandler):
    server: LambdaApi
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        if not allowed_host(self.headers.get("Host")):
            self.close_connection = True  # its body stays unread
            self.reply(403, {"Type": "User", "message": MISDIRECTED})
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        match = INVOKE_PATH.fullmatch(urlsplit(self.path).path)
        name = function_name(unquote(match["name"])) if match else ""
        if name not in self.server.functions:
            error = {"Type": "User", "message": f"Function not found: {name or self.path}"}
            self.reply(404, error, {"x-amzn-ErrorType": "ResourceNotFoundException"})
            return
        try:
            event = json.loads(body or b"{}")
            self.reply(200, self.server.invoke(name, event))
        except FunctionError as exc:
            log.error("Invoke %s failed: %s", name, exc)
            self.reply(200, exc.payload, {"X-Amz-Function-Error": "Unhandled"})
        except ValueError:
            error = {"Type": "User", "message": "Could not parse request body into json"}
            self.reply(400, error, {"x-amzn-ErrorType": "InvalidRequestContentException"})

    def reply(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **(headers or {})}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        return None
