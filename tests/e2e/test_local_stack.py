"""The local stack over real HTTP: uploads, every error, signed URLs, restart, shutdown."""

from __future__ import annotations

import base64
import http.client
import json
import shlex
import signal
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import jwt
import pytest
import requests

from devkit.defaults import DEV_STORAGE_SECRET
from devkit.token import make_token
from testkit import images
from tests.e2e.conftest import RunningStack, processes_using

UPLOAD = "/api/storage/profile-photo/upload"
ALLOWED = "jpg, jpeg, png, gif, webp, heic, heif"


def auth(user: str = "e2e-user", name: str | None = "e2e") -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token(user, name)}"}


def upload(
    stack: RunningStack,
    data: bytes,
    name: str = "photo.jpg",
    mime: str = "image/jpeg",
    headers: dict[str, str] | None = None,
    **fields: str,
) -> requests.Response:
    return stack.post(
        UPLOAD,
        headers=auth() if headers is None else headers,
        files={"file": (name, data, mime)},
        data=fields,
    )


def envelope(response: requests.Response) -> dict:
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["success"] is False
    assert set(body) == {"success", "error"}
    return body["error"]


@pytest.mark.parametrize(
    ("name", "mime", "data"),
    [
        ("me.jpg", "image/jpeg", images.jpeg_bytes()),
        ("me.jpeg", "image/jpeg", images.jpeg_bytes()),
        ("me.png", "image/png", images.png_bytes()),
        ("me.gif", "image/gif", images.gif_bytes()),
        ("me.webp", "image/webp", images.webp_bytes()),
        ("me.heic", "image/heic", images.heic_bytes()),
        ("me.heif", "image/heif", images.heif_bytes()),
    ],
)
def test_each_allowed_type_uploads_and_its_url_serves_it(
    stack: RunningStack, name: str, mime: str, data: bytes
) -> None:
    response = upload(stack, data, name, mime)

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["success"] is True
    photo = body["data"]
    assert photo["contentType"] == mime
    assert photo["size"] == len(data)
    assert photo["uploadUrl"].startswith(f"{stack.url}/api/storage/signed/user-assets/")

    served = requests.get(photo["uploadUrl"], timeout=10)
    assert served.status_code == 200
    assert served.content == data
    assert served.headers["Content-Type"] == mime
    assert served.headers["X-Content-Type-Options"] == "nosniff"


def test_printed_curl_example_uploads_and_its_url_serves_the_photo(stack: RunningStack) -> None:
    lines = stack.banner.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith("curl "))
    command = (lines[start].rstrip("\\") + " " + lines[start + 1]).strip()

    result = subprocess.run(
        [*shlex.split(command), "-w", "\n%{http_code}"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    body, status = result.stdout.rsplit("\n", 1)

    assert status == "201"
    url = json.loads(body)["data"]["uploadUrl"]
    served = requests.get(url, timeout=10)
    assert served.status_code == 200
    assert served.content == Path(shlex.split(command)[-2].removeprefix("file=@")).read_bytes()


def _oversize() -> bytes:
    return images.jpeg_bytes() + bytes(5 * 1024 * 1024 + 1 - len(images.jpeg_bytes()))


def _expired_token() -> str:
    return make_token("e2e-user", "e2e", ttl=-120)


REJECTED_UPLOADS = [
    (
        "oversize",
        {"data": _oversize()},
        400,
        "File size 5242881 exceeds maximum 5242880 bytes for profile photos",
    ),
    (
        "bmp",
        {"data": images.bmp_bytes(), "name": "a.bmp", "mime": "image/bmp"},
        415,
        f"Content type image/bmp not allowed. Allowed types: {ALLOWED}",
    ),
    (
        "mismatch",
        {"data": images.png_bytes(), "name": "a.jpg", "mime": "image/jpeg"},
        415,
        "File content (magic number) is image/png, which does not match the content type "
        "image/jpeg",
    ),
    (
        "extension",
        {"data": images.png_bytes(), "name": "a.jpg", "mime": "image/png"},
        415,
        "File extension .jpg does not match content type image/png",
    ),
    ("empty", {"data": b""}, 400, "File is empty"),
    (
        "asset-context",
        {"data": images.jpeg_bytes(), "assetContext": "COVER"},
        400,
        "assetContext 'COVER' is not supported. Allowed values: PROFILE_PICTURE",
    ),
    (
        "no-token",
        {"data": images.jpeg_bytes(), "headers": {}},
        401,
        "Missing Authorization header with a Bearer token",
    ),
    (
        "expired",
        {"data": images.jpeg_bytes(), "headers": {"Authorization": f"Bearer {_expired_token()}"}},
        401,
        "Token has expired",
    ),
    (
        "bad-subject",
        {"data": images.jpeg_bytes(), "headers": auth(user="../../etc")},
        401,
        "Token subject must be 1-128 characters of A-Z, a-z, 0-9, _ or -",
    ),
]


@pytest.mark.parametrize(
    ("case", "kwargs", "status", "message"), REJECTED_UPLOADS, ids=[r[0] for r in REJECTED_UPLOADS]
)
def test_rejected_uploads_answer_the_envelope_and_store_nothing(
    stack: RunningStack, case: str, kwargs: dict, status: int, message: str
) -> None:
    before = stack.settled_objects()

    response = upload(stack, **kwargs)

    assert response.status_code == status
    code = "UNAUTHORIZED" if status == 401 else "VALIDATION_FAILED"
    assert envelope(response) == {"code": code, "message": message}
    assert stack.objects() == before


@pytest.mark.parametrize(
    ("case", "request_kwargs", "message"),
    [
        (
            "missing-file",
            {"files": {"assetContext": (None, "PROFILE_PICTURE")}},
            "Missing required form field 'file' (the image file)",
        ),
        (
            "broken-multipart",
            {
                "data": b"garbage",
                "headers": {"Content-Type": "multipart/form-data; boundary=xyz"},
            },
            "Malformed multipart/form-data body",
        ),
        (
            "json-body",
            {"json": {"file": "x"}},
            "Content-Type must be multipart/form-data, got application/json",
        ),
    ],
)
def test_malformed_requests_are_400(
    stack: RunningStack, case: str, request_kwargs: dict, message: str
) -> None:
    before = stack.settled_objects()
    headers = auth() | request_kwargs.pop("headers", {})

    response = stack.post(UPLOAD, headers=headers, **request_kwargs)

    assert response.status_code == 400
    assert envelope(response) == {"code": "VALIDATION_FAILED", "message": message}
    assert stack.objects() == before


@pytest.fixture(scope="module")
def photo(stack: RunningStack) -> dict:
    response = upload(stack, images.jpeg_bytes())
    assert response.status_code == 201
    return response.json()["data"]


def _storage_token(path: str, op: str = "GET", ttl: int = 600) -> str:
    now = int(time.time())
    claims = {"res": f"user-assets/{path}", "op": op, "iat": now, "exp": now + ttl}
    return jwt.encode(claims, DEV_STORAGE_SECRET, algorithm="HS256")


def _signed(stack: RunningStack, path: str, token: str | None) -> str:
    query = f"?token={token}" if token is not None else ""
    return f"{stack.url}/api/storage/signed/user-assets/{path}{query}"


def _tampered(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["exp"] += 3600
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


def _unsigned(path: str) -> str:
    def part(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    claims = {"res": f"user-assets/{path}", "op": "GET", "exp": int(time.time()) + 600}
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def test_signed_url_errors(stack: RunningStack, photo: dict) -> None:
    key = photo["fileKey"]
    other = key.replace(photo["assetId"], "00000000-0000-4000-8000-000000000000")
    cases = [
        (_storage_token(key, ttl=-5), 403, "FORBIDDEN", "Token has expired"),
        (
            _tampered(_storage_token(key)),
            403,
            "FORBIDDEN",
            "Token verification failed: Invalid token signature",
        ),
        (None, 403, "FORBIDDEN", "Token verification failed: Missing token"),
        (
            _storage_token(other),
            403,
            "FORBIDDEN",
            "Token verification failed: Token is not valid for this file",
        ),
        (
            _storage_token(key, op="PUT"),
            403,
            "FORBIDDEN",
            "Token verification failed: Token is not valid for GET requests",
        ),
        (
            _unsigned(key),
            403,
            "FORBIDDEN",
            "Token verification failed: Algorithm none is not accepted",
        ),
        ("not.a.token", 403, "FORBIDDEN", "Token verification failed: Malformed token"),
    ]
    for token, status, code, message in cases:
        response = requests.get(_signed(stack, key, token), timeout=10)
        assert response.status_code == status, message
        assert envelope(response) == {"code": code, "message": message}

    missing = requests.get(_signed(stack, other, _storage_token(other)), timeout=10)
    assert missing.status_code == 404
    assert envelope(missing) == {"code": "NOT_FOUND", "message": "File not found"}


@pytest.mark.parametrize(
    "raw_path",
    [
        "users/e2e-user/../../../../etc/passwd",
        "users/e2e-user/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "users/e2e-user/..%2f..%2f..%2fetc%2fpasswd",
        "users/e2e-user/%5c..%5c..%5csecret",
        "users/e2e-user/a%00.jpg",
    ],
)
def test_hostile_paths_never_read_outside_the_bucket(stack: RunningStack, raw_path: str) -> None:
    # sent byte for byte (no client-side normalisation), with a token minted for that path
    connection = http.client.HTTPConnection(urlsplit(stack.url).netloc, timeout=10)
    token = _storage_token(raw_path)
    connection.request("GET", f"/api/storage/signed/user-assets/{raw_path}?token={token}")
    response = connection.getresponse()
    body = response.read()

    assert response.status in (403, 404)
    assert json.loads(body)["success"] is False
    assert b"root:" not in body


def test_head_and_if_none_match(stack: RunningStack, photo: dict) -> None:
    get = requests.get(photo["uploadUrl"], timeout=10)
    head = requests.head(photo["uploadUrl"], timeout=10)

    assert head.status_code == 200
    assert head.content == b""
    for name in ("Content-Type", "Content-Length", "ETag", "X-Content-Type-Options"):
        assert head.headers[name] == get.headers[name]
    # shareable by any cache (a key never changes content) for the token's remaining life,
    # which counts down: a second may pass between the two requests
    controls = [r.headers["Cache-Control"] for r in (get, head)]
    assert all(c.startswith("public, ") and c.endswith(", immutable") for c in controls)
    lifetimes = [dict(part.split("=") for part in c.split(", ") if "=" in part) for c in controls]
    # a browser keeps the file one window (300 s) at most
    assert all(life["max-age"] == "300" for life in lifetimes)
    # a CDN while the token lasts: signed in 300 s windows, valid at least the TTL after
    # minting, at most a window longer
    ages = [int(life["s-maxage"]) for life in lifetimes]
    assert all(3500 < age <= 3600 + 300 for age in ages)
    assert 0 <= ages[0] - ages[1] <= 2

    cached = requests.get(
        photo["uploadUrl"], headers={"If-None-Match": get.headers["ETag"]}, timeout=10
    )
    assert cached.status_code == 304
    assert cached.content == b""
    assert cached.headers["Cache-Control"].startswith("public, max-age=")
    assert cached.headers["Cache-Control"].endswith(", immutable")


def test_unknown_route_is_refused_like_api_gateway(stack: RunningStack) -> None:
    response = requests.get(f"{stack.url}/nope", timeout=10)

    # API Gateway's 403 "Missing Authentication Token", as the template's GatewayResponses
    # answer it
    assert response.status_code == 404
    assert response.json() == {
        "success": False,
        "error": {"code": "NOT_FOUND", "message": "Route not found"},
    }


def test_restart_keeps_files_and_metadata(tmp_path: Path) -> None:
    # Given a photo uploaded to a stack that is then stopped
    first = RunningStack(tmp_path)
    try:
        data = upload(first, images.png_bytes(), "keep.png", "image/png").json()["data"]
    finally:
        assert first.stop(signal.SIGTERM) == 0

    # When the stack starts again on the same data directory
    second = RunningStack(tmp_path)
    try:
        # Then the old URL still serves the photo, and its metadata is still registered
        served = requests.get(data["uploadUrl"].replace(first.url, second.url), timeout=10)
        assert served.status_code == 200
        assert served.content == images.png_bytes()
        snapshot = json.loads((tmp_path / "dynamodb.json").read_text())
        photos = [item["assetId"]["S"] for item in snapshot["tables"]["PhotosTable"]]
        assert photos == [data["assetId"]]
    finally:
        second.stop()


def test_ctrl_c_stops_every_process(tmp_path: Path) -> None:
    running = RunningStack(tmp_path)
    assert upload(running, images.gif_bytes(), "a.gif", "image/gif").status_code == 201
    assert len(processes_using(tmp_path)) >= 2  # the stack and a warm upload worker

    assert running.stop() == 0  # SIGINT, as Ctrl-C sends

    deadline = time.time() + 10
    while processes_using(tmp_path) and time.time() < deadline:
        time.sleep(0.1)
    assert processes_using(tmp_path) == []
    assert "stopped" in running.banner
