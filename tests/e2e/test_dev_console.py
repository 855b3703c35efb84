"""What `make dev` prints while it serves: one line per request on the console, the
functions' logs and metrics in the log file the banner names, and everything on the console
again with `LOG_LEVEL=DEBUG`."""

from __future__ import annotations

import re
import time
from pathlib import Path
from urllib.parse import urlsplit

import requests

from devkit.token import make_token
from testkit import images
from tests.e2e.conftest import ROOT, RunningStack

UPLOAD = "/api/storage/profile-photo/upload"
REQUEST_LINE = re.compile(r"(GET|POST) (/\S*) (\d{3}) (\d+) ms (\S+)")


def log_file(stack: RunningStack) -> Path:
    """The log file the banner names (`./...` is under the repository, where it runs)."""
    line = next(line for line in stack.output if line.startswith("  Logs "))
    shown = line.split()[1]
    return ROOT / shown if shown.startswith("./") else Path(shown)


def user_requests(stack: RunningStack) -> list[tuple[str, str, int, str]]:
    """An upload, a GraphQL query, a signed GET of the photo and an upload refused for want
    of a token: (method, path, status, function) of each, in order."""
    token = make_token("console-user", "console")
    auth = {"Authorization": f"Bearer {token}"}
    photo = ("me.jpg", images.jpeg_bytes(), "image/jpeg")
    uploaded = stack.post(UPLOAD, headers=auth, files={"file": photo})
    assert uploaded.status_code == 201, uploaded.text
    query = stack.post("/graphql", headers=auth, json={"query": "{ me { username } }"})
    assert query.status_code == 200, query.text
    signed = uploaded.json()["data"]["uploadUrl"]
    assert requests.get(signed, timeout=30).status_code == 200
    refused = stack.post(UPLOAD, files={"file": photo})
    assert refused.status_code == 401, refused.text
    return [
        ("POST", UPLOAD, 201, "UploadFunction"),
        ("POST", "/graphql", 200, "GraphQLFunction"),
        ("GET", urlsplit(signed).path, 200, "SignedFetchFunction"),
        ("POST", UPLOAD, 401, "UploadFunction"),
    ]


def wait_for(found: object, what: str, timeout: float = 60) -> None:
    """Wait until `found()` is true: the stack writes its lines as they come."""
    deadline = time.time() + timeout
    while not found():  # type: ignore[operator]
        assert time.time() < deadline, f"never seen: {what}"
        time.sleep(0.2)


def test_the_console_shows_one_line_per_request_and_the_log_file_the_rest(
    tmp_path: Path,
) -> None:
    # Given a stack started as `make dev` starts it, with the console at its default level
    stack = RunningStack(tmp_path / "data", {"LOG_LEVEL": "INFO"})
    try:
        logs = log_file(stack)
        seen = len(stack.output)

        # When a user uploads a photo, queries GraphQL, fetches the photo's signed URL and
        # sends an upload without a token
        expected = user_requests(stack)
        wait_for(lambda: "PhotoRendered" in logs.read_text(), "the renditions' metric")
    finally:
        assert stack.stop() == 0

    # Then the console holds one line per request: method, path, status, ms, function
    console = [line.rstrip("\n") for line in stack.output[seen:]]
    served = console[: console.index("stopping...")] if "stopping..." in console else console
    served = [line for line in served if line.strip()]
    matches = [REQUEST_LINE.fullmatch(line) for line in served]
    assert all(matches), served
    assert [(m.group(1), m.group(2), int(m.group(3)), m.group(5)) for m in matches if m] == expected
    # and no JSON: no function's log record, no metric
    assert not [line for line in console if "{" in line], console
    # while the log file the banner names holds the functions' logs and metrics
    text = logs.read_text()
    assert '"PhotoUploaded":[1.0]' in text  # the upload's metric (EMF)
    assert '"GraphQLRequest":[1.0]' in text
    refused = [line for line in text.splitlines() if '"message":"request refused"' in line]
    assert refused, text
    assert refused[0].split(" ")[2] == "UploadFunction:"
    assert '"level":"INFO"' in refused[0]
    # and the request lines too, each with its time
    for method, path, status, function in expected:
        line = rf" INFO devstack\.http: {method} {re.escape(path)} {status} \d+ ms {function}$"
        assert re.search(line, text, re.MULTILINE), (line, text)


def test_log_level_debug_brings_the_logs_back_to_the_console(tmp_path: Path) -> None:
    # Given a stack started with LOG_LEVEL=DEBUG
    stack = RunningStack(tmp_path / "data", {"LOG_LEVEL": "DEBUG"})
    try:
        seen = len(stack.output)

        # When a user makes the same requests
        user_requests(stack)

        # Then the console shows the functions' metrics and log records as they print them
        def console() -> str:
            return "".join(stack.output[seen:])

        wait_for(lambda: '"PhotoUploaded":[1.0]' in console(), "the upload's metric")
        wait_for(lambda: '"message":"request refused"' in console(), "the 401's log record")
        wait_for(lambda: "PhotoRendered" in console(), "the renditions' metric")
        # and the request lines among them, with the file's time and logger
        line = r" INFO devstack\.http: POST /graphql 200 \d+ ms GraphQLFunction\n"
        assert re.search(line, console()), console()
        # and the log file has the same lines
        text = log_file(stack).read_text()
        assert '"PhotoUploaded":[1.0]' in text
        assert '"message":"request refused"' in text
    finally:
        assert stack.stop() == 0
