"""The SDK and the CLI never show a signed URL's token or signature when the network fails.

A stub stands in for the service on loopback: its upload grants and export pages hand out
signed URLs (LOCAL's `?token=`, R2's presigned `X-Amz-Signature`) that point at a closed
port, at a peer that drops every connection, at one that never answers, or that requests
refuses outright. Whatever fails, the error names the method and the URL without its query,
and neither its message nor its traceback carries the secret.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import traceback
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from profile_photos_client import ProfilePhotosClient, ProfilePhotosError, RetryPolicy

from testkit import images

CLI = Path(sys.executable).with_name("profile-photos")
FAST = RetryPolicy(attempts=2, base=0.01, cap=0.02)
TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1In0.c2lnbmVkLXVybC1zZWNyZXQ"
SIGNATURE = "5ec7e75f0b1c0d3e9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f"
SECRETS = (TOKEN, SIGNATURE, "AKIDSTUB")
QUERIES = {
    "LOCAL": f"token={TOKEN}",
    "R2": "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDSTUB%2F20261207%2Fauto"
    f"%2Fs3%2Faws4_request&X-Amz-Date=20261207T000000Z&X-Amz-Expires=900"
    f"&X-Amz-SignedHeaders=host&X-Amz-Signature={SIGNATURE}",
}
KEY = "users/u/profile-picture/0b5c7a36-3f4e-4c39-9d0e-2f6a4c1e9a01.png"


def closed_port() -> str:
    """A loopback address nothing listens on: connections are refused."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        return f"http://127.0.0.1:{listener.getsockname()[1]}"


@contextlib.contextmanager
def peer(answer: bool) -> Iterator[str]:
    """A loopback peer that accepts each connection, reads the request's first bytes, then
    resets it (`answer=False`: a dropped connection) or holds it open without a word (a
    read timeout for the client)."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []

    def serve() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            with contextlib.suppress(OSError):
                connection.recv(65536)
            if answer:
                held.append(connection)
                continue
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
            connection.close()

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()
        for connection in held:
            connection.close()


@contextlib.contextmanager
def target(kind: str) -> Iterator[str]:
    """Where the signed URLs point: `refused`, `dropped`, `silent`, or `invalid` (a port
    requests cannot parse, so it refuses the URL before connecting)."""
    if kind == "refused":
        yield closed_port()
    elif kind == "invalid":
        yield "http://127.0.0.1:99999"
    else:
        with peer(answer=kind == "silent") as url:
            yield url


class Service(BaseHTTPRequestHandler):
    """The API's answers the SDK needs to reach a signed URL: an upload grant, an export
    page with one photo. `signed` is the URL both hand out."""

    signed = ""

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
        if self.path.endswith("/upload-url"):
            data = {"uploadUrl": self.signed, "method": "PUT", "headers": {}, "fileKey": KEY}
            self.reply(201, {"success": True, "data": data})
        elif self.path == "/graphql" and "exportProfilePhotos" in body["query"]:
            item = {
                "assetId": "0b5c7a36-3f4e-4c39-9d0e-2f6a4c1e9a01",
                "fileKey": KEY,
                "url": self.signed,
                "contentType": "image/png",
                "size": 10,
                "fileName": "me.png",
                "uploadedAt": "2026-12-07T00:00:00Z",
                "archived": False,
                "archivedAt": None,
            }
            page = {
                "count": 1,
                "expiresAt": "2026-12-07T00:15:00Z",
                "items": [item],
                "pageInfo": {"hasNextPage": False, "endCursor": None},
            }
            self.reply(200, {"data": {"exportProfilePhotos": page}})
        else:
            self.reply(404, {"success": False, "error": {"code": "NOT_FOUND", "message": "?"}})

    def reply(self, status: int, payload: Any) -> None:
        raw = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def service(signed_url: str) -> Iterator[str]:
    handler = type("Stub", (Service,), {"signed": signed_url})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def signed(base: str, provider: str) -> str:
    if provider == "LOCAL":
        return f"{base}/api/storage/signed/user-assets/{KEY}?{QUERIES[provider]}"
    return f"{base}/test-user-assets/{KEY}?{QUERIES[provider]}"


def shown(error: BaseException) -> str:
    """Everything a user can be shown of an error: its text, repr, and full traceback."""
    return "\n".join([str(error), repr(error), *traceback.format_exception(error)])


def leaked(text: str) -> list[str]:
    return [secret for secret in SECRETS if secret in text]


@pytest.mark.parametrize("provider", ["LOCAL", "R2"])
@pytest.mark.parametrize("kind", ["refused", "dropped", "silent", "invalid"])
@pytest.mark.parametrize("operation", ["upload", "export"])
def test_sdk_errors_name_the_signed_url_without_its_secret(
    tmp_path: Path, provider: str, kind: str, operation: str
) -> None:
    # Given signed URLs that cannot be reached (or used)
    with target(kind) as base, service(signed(base, provider)) as api:
        sdk = ProfilePhotosClient(api, "a-bearer-jwt", retry=FAST, timeout=(2.0, 0.5))
        photo = tmp_path / "me.png"
        photo.write_bytes(images.png_bytes())

        sdk.multipart_limit = 0  # every file goes through the direct upload's signed PUT

        # When the SDK PUTs the file to one (upload) or downloads one (export)
        act = (
            (lambda: sdk.upload(photo))
            if operation == "upload"
            else (lambda: sdk.export(tmp_path / "out"))
        )
        with pytest.raises(ProfilePhotosError) as failure:
            act()

    # Then it is a network error naming where it failed, without the URL's query
    error = failure.value
    assert (error.status, error.code) == (None, "NETWORK_ERROR")
    path = signed(base, provider).split("?")[0].split("/", 3)[3]
    assert path in error.message or "me.png" in error.message  # a download names the file
    assert leaked(shown(error)) == []
    assert "Traceback" not in error.message


def run_cli(*args: str, url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROFILE_PHOTOS_")}
    env |= {"PROFILE_PHOTOS_URL": url, "PROFILE_PHOTOS_TOKEN": "a-bearer-jwt"}
    return subprocess.run(
        [str(CLI), "--quiet", *args], env=env, capture_output=True, text=True, timeout=120, cwd=cwd
    )


@pytest.mark.parametrize(
    ("provider", "kind", "operation"),
    [
        ("LOCAL", "refused", "export"),
        ("R2", "refused", "upload"),
        ("LOCAL", "dropped", "upload"),
        ("R2", "dropped", "export"),
        ("LOCAL", "invalid", "upload"),
    ],
)
def test_the_cli_prints_network_errors_without_the_secret(
    tmp_path: Path, provider: str, kind: str, operation: str
) -> None:
    # Given signed URLs that cannot be reached (or used), and a file bigger than a
    # multipart upload may carry, so the CLI takes the direct upload's signed PUT
    photo = tmp_path / "big.png"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(4_500_000))
    with target(kind) as base, service(signed(base, provider)) as api:
        # When the CLI uploads or exports
        args = ("upload", str(photo)) if operation == "upload" else ("export", "out")
        done = run_cli(*args, url=api, cwd=tmp_path)

    # Then it reports a network error (exit 3) that names no secret, without a traceback
    assert done.returncode == 3, done.stderr
    assert done.stderr.startswith("profile-photos: NETWORK_ERROR (no answer): ")
    assert leaked(done.stdout + done.stderr) == []
    assert "Traceback" not in done.stderr
