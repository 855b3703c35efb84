"""A dependency that accepts connections and never answers yields the contract's 503, soon.

The socket below listens on loopback and never reads: the kernel completes every TCP
handshake (the backlog), so the client connects, sends its request and waits. The client's
read timeout and retries (`store.aws`) must turn that into the envelope's 503
SERVICE_UNAVAILABLE within the client's worst case, far inside the function's 15 s Timeout
(tests/template/test_timeouts.py checks the arithmetic against template.yaml; this checks the
clients really behave so). Runs the real timeouts: ~5 s for DynamoDB, ~7 s for R2.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
import signed_fetch_handler
import upload_handler

from devkit.defaults import DEV_ENV
from profile_photos.services import reset
from profile_photos.store import aws
from testkit.events import SAMPLE_KEY
from testkit.images import jpeg_bytes
from testkit.invoke import invoke
from tests.integration.conftest import Stack, load_event

SLACK_SECONDS = 1.5  # the handler's own work and a loaded CI machine


@pytest.fixture
def silent_endpoint() -> Iterator[str]:
    """http://127.0.0.1:<port> of a socket that accepts connections and never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(64)
        yield f"http://127.0.0.1:{server.getsockname()[1]}"


def assert_unavailable_within(started: float, result: object, bound: float) -> None:
    elapsed = time.monotonic() - started
    assert result.status == 503, result  # type: ignore[attr-defined]
    body = result.json()  # type: ignore[attr-defined]
    assert body["success"] is False
    assert body["error"]["code"] == "SERVICE_UNAVAILABLE", body
    assert elapsed <= bound + SLACK_SECONDS, f"{elapsed:.1f} s > {bound} s"


def test_dynamodb_that_never_answers_gives_503_within_the_bound(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object, silent_endpoint: str
) -> None:
    # Given every table behind an endpoint that never answers (fresh table names, so that
    # pynamodb opens new connections there, on a new container's session)
    for name, value in DEV_ENV.items():
        monkeypatch.setenv(name, value)
    for table in ("PHOTOS_TABLE", "USERS_TABLE", "RATE_LIMITS_TABLE", "UPLOADS_TABLE"):
        monkeypatch.setenv(table, f"silent-{table.lower()}")
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", silent_endpoint)
    monkeypatch.setenv("OBJECT_STORAGE_PROVIDER", "LOCAL")
    monkeypatch.setenv("LOCAL_STORAGE_BASE_PATH", str(tmp_path))
    reset()
    try:
        # When a user uploads a photo
        started = time.monotonic()
        result = invoke(upload_handler.lambda_handler, load_event("upload-valid-jpg"))
        # Then the answer is the 503 envelope within DynamoDB's worst case
        assert_unavailable_within(started, result, aws.DYNAMODB.worst_case)
    finally:
        reset()


@pytest.mark.parametrize("provider", ["R2"])
def test_r2_that_never_answers_gives_503_within_the_bound(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, silent_endpoint: str
) -> None:
    # Given the stored sample photo, and then R2 behind an endpoint that never answers
    stack.put("user-assets", SAMPLE_KEY, jpeg_bytes())
    monkeypatch.setenv("R2_ENDPOINT_URL", silent_endpoint)
    reset()
    # When its signed URL is fetched
    started = time.monotonic()
    result = invoke(signed_fetch_handler.lambda_handler, load_event("signed-fetch-get"))
    # Then the answer is the 503 envelope within the object store's worst case
    assert_unavailable_within(started, result, aws.OBJECT_STORAGE.worst_case)
