"""CORS on the local stack (CORS_ALLOWED_ORIGINS), as a browser on another origin meets it:
the preflight, the upload, its errors and the stack's own errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from devkit.token import make_token
from testkit.images import jpeg_bytes
from tests.e2e.conftest import RunningStack

APP = "http://app.test:5173"
UPLOAD = "/api/storage/profile-photo/upload"


@pytest.fixture(scope="module")
def cors_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    running = RunningStack(
        tmp_path_factory.mktemp("cors-data"),
        {"CORS_ALLOWED_ORIGINS": f"{APP},https://other.example.com"},
    )
    yield running
    running.stop()


def test_a_browser_upload_from_an_allowed_origin_passes_cors(cors_stack: RunningStack) -> None:
    preflight = requests.options(
        f"{cors_stack.url}{UPLOAD}",
        headers={
            "Origin": APP,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,idempotency-key",
        },
        timeout=30,
    )
    upload = requests.post(
        f"{cors_stack.url}{UPLOAD}",
        headers={"Origin": APP, "Authorization": f"Bearer {make_token('cors-user', 'c')}"},
        files={"file": ("me.jpg", jpeg_bytes(), "image/jpeg")},
        timeout=30,
    )

    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == APP
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    allowed = preflight.headers["Access-Control-Allow-Headers"].lower()
    assert {"authorization", "idempotency-key", "content-type"} <= set(allowed.split(", "))
    assert upload.status_code == 201, upload.text
    assert upload.headers["Access-Control-Allow-Origin"] == APP
    assert "X-RateLimit-Remaining" in upload.headers["Access-Control-Expose-Headers"]
    photo = requests.get(upload.json()["data"]["uploadUrl"], headers={"Origin": APP}, timeout=30)
    assert photo.headers["Access-Control-Allow-Origin"] == APP


@pytest.mark.parametrize("path", [UPLOAD, "/nowhere"])
def test_errors_carry_cors_for_an_allowed_origin_only(cors_stack: RunningStack, path: str) -> None:
    allowed = requests.post(f"{cors_stack.url}{path}", headers={"Origin": APP}, timeout=30)
    other = requests.post(
        f"{cors_stack.url}{path}", headers={"Origin": "https://evil.test"}, timeout=30
    )

    assert allowed.status_code in (401, 404)
    assert allowed.json()["success"] is False
    assert allowed.headers["Access-Control-Allow-Origin"] == APP
    assert "Access-Control-Allow-Origin" not in other.headers
    assert other.headers["Vary"] == "Origin"


def test_the_page_is_served_at_the_root(cors_stack: RunningStack) -> None:
    page = requests.get(f"{cors_stack.url}/", timeout=30)

    assert page.status_code == 200
    root = Path(__file__).resolve().parents[2]
    assert page.content == (root / "clients" / "web" / "index.html").read_bytes()
