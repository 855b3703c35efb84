"""The local HTTP server hands a function the same event as `sam local invoke -e events/...`.

A recording stand-in replaces the function, the sample event's request is replayed over real
HTTP, and the two events are compared field by field (ids and clocks aside).
"""

from __future__ import annotations

import base64
import http.client
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from devstack.functions import LocalFunction, load_functions
from devstack.server import LocalApi
from tests.integration.conftest import load_event

VARYING = {"requestId", "extendedRequestId", "requestTime", "requestTimeEpoch"}
ADDED_BY_API_GATEWAY = {"X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Port"}


@pytest.fixture
def local_api() -> Iterator[tuple[LocalApi, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []

    def record(function: LocalFunction, event: dict[str, Any], request_id: str) -> dict:
        received.append(event)
        return {"statusCode": 200, "headers": {}, "body": "{}", "isBase64Encoded": False}

    api = LocalApi(("127.0.0.1", 0), load_functions(), record)
    thread = threading.Thread(target=api.serve_forever, daemon=True)
    thread.start()
    yield api, received
    api.shutdown()
    api.server_close()


def replay(api: LocalApi, sample: dict[str, Any]) -> None:
    body = base64.b64decode(sample["body"]) if sample["body"] else None
    query = "&".join(f"{k}={v}" for k, v in (sample["queryStringParameters"] or {}).items())
    connection = http.client.HTTPConnection("127.0.0.1", api.server_address[1], timeout=10)
    connection.putrequest(
        sample["httpMethod"],
        sample["path"] + (f"?{query}" if query else ""),
        skip_host=True,
        skip_accept_encoding=True,
    )
    for name, value in sample["headers"].items():
        connection.putheader(name, value)
    if body is not None:
        connection.putheader("Content-Length", str(len(body)))
    connection.endheaders(body)
    assert connection.getresponse().status == 200


@pytest.mark.parametrize(
    "sample_name", ["upload-valid-jpg", "signed-fetch-get", "graphql-me-photos"]
)
def test_local_server_event_matches_the_sample_event(
    local_api: tuple[LocalApi, list[dict[str, Any]]], sample_name: str
) -> None:
    api, received = local_api
    sample = load_event(sample_name)

    replay(api, sample)

    (event,) = received
    assert set(event) == set(sample)
    for key in ("resource", "path", "httpMethod", "pathParameters", "isBase64Encoded"):
        assert event[key] == sample[key], key
    assert event["queryStringParameters"] == sample["queryStringParameters"]
    assert event["body"] == sample["body"]
    headers = {k: v for k, v in event["headers"].items() if k not in ADDED_BY_API_GATEWAY}
    headers.pop("Content-Length", None)
    assert headers == sample["headers"]
    context, expected = event["requestContext"], sample["requestContext"]
    assert set(context) == set(expected)
    assert {k: v for k, v in context.items() if k not in VARYING | {"identity"}} == {
        k: v for k, v in expected.items() if k not in VARYING | {"identity"}
    }
