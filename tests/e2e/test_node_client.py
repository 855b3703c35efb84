"""The seed's JavaScript upload example (fetch + FormData) under Node 20, as a web app on
another origin runs it: the browser's preflight first, then the upload, against the local
stack with that origin in CORS_ALLOWED_ORIGINS."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import requests

from devkit.token import make_token
from testkit import images
from tests.e2e.conftest import ROOT, WEB_ORIGIN, RunningStack

SCRIPT = ROOT / "tests" / "e2e" / "node" / "seed_upload.mjs"


def node() -> str:
    found = shutil.which("node")
    assert found, "node is not installed: `make test` installs Debian's nodejs when missing"
    return found


def run_seed_example(stack: RunningStack, photo: Path, origin: str, token: str) -> dict[str, Any]:
    env = {"API": stack.url, "TOKEN": token, "FILE": str(photo), "ORIGIN": origin}
    done = subprocess.run(
        [node(), str(SCRIPT)], env=env, capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "profile-photo.jpg"
    path.write_bytes(images.jpeg_bytes())
    return path


def test_seed_example_uploads_from_an_allowed_origin(cors_stack: RunningStack, photo: Path) -> None:
    # Given a web app on an origin the stack allows
    # When it runs the seed's fetch + FormData example
    result = run_seed_example(cors_stack, photo, WEB_ORIGIN, make_token("node-user", "node"))

    # Then the preflight lets it send Authorization with a POST
    preflight = result["preflight"]
    assert preflight["status"] in (200, 204)
    allowed = preflight["headers"]
    assert allowed["access-control-allow-origin"] == WEB_ORIGIN
    assert "POST" in allowed["access-control-allow-methods"].upper()
    assert "authorization" in allowed["access-control-allow-headers"].lower()
    # and the upload's answer is readable by the page: the contract's 201 envelope
    upload = result["upload"]
    assert upload["status"] == 201, upload["body"]
    assert upload["headers"]["access-control-allow-origin"] == WEB_ORIGIN
    exposed = upload["headers"]["access-control-expose-headers"].lower()
    assert {"etag", "retry-after", "x-ratelimit-remaining"} <= {
        name.strip() for name in exposed.split(",")
    }
    data = upload["body"]["data"]
    assert upload["body"]["success"] is True
    assert data["fileName"] == "profile-photo.jpg"
    assert data["contentType"] == "image/jpeg"
    # and the photo it names is the file that was sent
    stored = requests.get(data["uploadUrl"], timeout=30)
    assert stored.status_code == 200
    assert stored.content == photo.read_bytes()


def test_seed_example_reads_the_error_envelope_cross_origin(
    cors_stack: RunningStack, photo: Path
) -> None:
    # Given an expired token, When the example runs from the allowed origin
    result = run_seed_example(cors_stack, photo, WEB_ORIGIN, make_token("node-user", "n", ttl=-60))

    # Then the 401 carries the CORS headers, so the app can show the contract's message
    upload = result["upload"]
    assert upload["status"] == 401
    assert upload["headers"]["access-control-allow-origin"] == WEB_ORIGIN
    assert upload["body"]["success"] is False
    assert upload["body"]["error"]["code"] == "UNAUTHORIZED"


def test_an_origin_not_allowed_gets_no_cors_grant(cors_stack: RunningStack, photo: Path) -> None:
    # Given an origin missing from CORS_ALLOWED_ORIGINS
    result = run_seed_example(
        cors_stack, photo, "http://evil.example.test", make_token("node-other", "other")
    )

    # Then neither answer allows it: a browser would hide the response from that page
    assert "access-control-allow-origin" not in result["preflight"]["headers"]
    assert "access-control-allow-origin" not in result["upload"]["headers"]
