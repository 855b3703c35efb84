"""Issue 24, item 10: the local stack answers only `Host` names no outside DNS decides.

DNS rebinding: a page on `evil.example` makes the developer's browser resolve that name to
127.0.0.1, then calls the stack with it. The browser still sends `Host: evil.example`, so
each of the stack's servers (the API with `/dev/token`, Lambda's Invoke API, the embedded
DynamoDB, which checks no signature) refuses such a request before doing anything, and
keeps answering localhost, IP literals (the Android emulator's 10.0.2.2 included) and the
name it was configured to listen on. In process, over real HTTP on loopback.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from devstack.dynamo import EmbeddedDynamo
from devstack.functions import LocalFunction, load_functions
from devstack.hosts import allowed_host
from devstack.lambda_api import LambdaApi
from devstack.server import LocalApi

REBOUND = ["evil.example", "evil.example:3000", "localhost.evil.example", "127.0.0.1.nip.io"]
LOOPBACK = ["localhost:3000", "127.0.0.1:3000", "[::1]:3000", "10.0.2.2:3000", "LOCALHOST"]
REFUSED = {
    "code": "FORBIDDEN",
    "message": "Host not allowed: the local stack answers only localhost, IP addresses and its"
    " HOST (DNS rebinding protection)",
}


class Api:
    """The local API with a stand-in for the functions that records every invocation."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.invoked: list[str] = []
        self.api = LocalApi((host, 0), load_functions(), self.answer, dev_tokens=True)
        self.url = f"http://127.0.0.1:{self.api.server_address[1]}"
        threading.Thread(target=self.api.serve_forever, daemon=True).start()

    def answer(self, function: LocalFunction, event: dict[str, Any], request_id: str) -> Any:
        self.invoked.append(function.name)
        return {"statusCode": 200, "headers": {}, "body": "{}", "isBase64Encoded": False}

    def close(self) -> None:
        self.api.shutdown()
        self.api.server_close()


@pytest.fixture
def api() -> Iterator[Api]:
    server = Api()
    yield server
    server.close()


@pytest.mark.parametrize("host", REBOUND)
def test_a_rebound_name_gets_no_dev_token_and_reaches_no_function(api: Api, host: str) -> None:
    # When a page whose name resolves to loopback asks for a token, and calls a route
    token = requests.post(f"{api.url}/dev/token", json={}, headers={"Host": host}, timeout=10)
    upload = requests.post(
        f"{api.url}/api/storage/profile-photo/upload",
        files={"file": ("a.jpg", b"\xff\xd8\xff", "image/jpeg")},
        headers={"Host": host},
        timeout=10,
    )

    # Then both are refused in the contract's envelope, and no function ran
    for response in (token, upload):
        assert response.status_code == 403
        assert response.json() == {"success": False, "error": REFUSED}
    assert "token" not in token.text
    assert api.invoked == []


@pytest.mark.parametrize("host", LOOPBACK)
def test_loopback_names_and_addresses_keep_working(api: Api, host: str) -> None:
    token = requests.post(f"{api.url}/dev/token", json={}, headers={"Host": host}, timeout=10)
    upload = requests.post(
        f"{api.url}/api/storage/profile-photo/upload", data=b"x", headers={"Host": host}, timeout=10
    )

    assert token.status_code == 200, token.text
    assert token.json()["data"]["token"]
    assert upload.status_code == 200
    assert api.invoked == ["UploadFunction"]


def test_the_name_the_stack_was_told_to_listen_on_is_answered() -> None:
    # Given a stack exposed on purpose under a name (HOST=devbox.lan, with its own secrets);
    # bound here to loopback, as the name would resolve on that machine
    server = Api(host="127.0.0.1")
    server.api.configured_host = "devbox.lan"
    try:
        named = requests.get(
            f"{server.url}/openapi.json", headers={"Host": "devbox.lan:3000"}, timeout=10
        )
        other = requests.get(
            f"{server.url}/openapi.json", headers={"Host": "other.lan:3000"}, timeout=10
        )
    finally:
        server.close()

    assert named.status_code == 200
    assert other.status_code == 403


def test_lambdas_invoke_api_refuses_a_rebound_name() -> None:
    invoked: list[str] = []
    api = LambdaApi({"RenditionsFunction"}, lambda name, event: invoked.append(name) or {})
    threading.Thread(target=api.serve_forever, daemon=True).start()
    url = f"{api.endpoint}/2015-03-31/functions/RenditionsFunction/invocations"
    try:
        rebound = requests.post(url, json={}, headers={"Host": "evil.example"}, timeout=10)
        local = requests.post(url, json={}, timeout=10)
    finally:
        api.shutdown()
        api.server_close()

    assert rebound.status_code == 403
    assert local.status_code == 200
    assert invoked == ["RenditionsFunction"]


def test_the_embedded_dynamodb_refuses_a_rebound_name(tmp_path: Path) -> None:
    dynamo = EmbeddedDynamo(tmp_path)
    dynamo.start()
    try:
        scan = {"TableName": next(iter(dynamo.tables.values()))}
        headers = {
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": "DynamoDB_20120810.Scan",
            "Authorization": "AWS4-HMAC-SHA256 Credential=x/20260101/eu-west-1/dynamodb/"
            "aws4_request",
        }
        rebound = requests.post(
            dynamo.endpoint, json=scan, headers=headers | {"Host": "evil.example"}, timeout=10
        )
        local = requests.post(dynamo.endpoint, json=scan, headers=headers, timeout=10)
    finally:
        dynamo.stop()

    assert rebound.status_code == 403
    assert "Items" not in rebound.json()
    assert local.status_code == 200
    assert "Items" in local.json()


@pytest.mark.parametrize(
    ("header", "allowed"),
    [
        (None, True),  # HTTP/1.0: no browser's request
        ("localhost.", True),
        ("app.localhost:5173", True),
        ("[::1]", True),
        ("::1", False),  # an IPv6 address must be bracketed
        ("127.0.0.1:port", False),
        ("[::1]x", False),
        ("", False),
    ],
)
def test_host_header_forms(header: str | None, allowed: bool) -> None:
    assert allowed_host(header) is allowed
