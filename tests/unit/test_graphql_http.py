"""GraphQL over HTTP, the pure parts: which media type an `Accept` header gets, which
request `Content-Type` is JSON, and which bodies are GraphQL requests (the handler's answers
are tested in tests/integration/test_graphql_http.py, the whole audit in
tests/e2e/test_graphql_audit.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from graphql_protocol import (
    GRAPHQL_RESPONSE,
    JSON,
    MAX_QUERY_BYTES,
    is_json,
    request_problem,
    response_media_type,
)


@pytest.mark.parametrize(
    ("accept", "media_type"),
    [
        (None, JSON),
        ("", JSON),
        ("*/*", JSON),
        ("application/*", JSON),
        ("application/json", JSON),
        (GRAPHQL_RESPONSE, GRAPHQL_RESPONSE),
        ("APPLICATION/GRAPHQL-RESPONSE+JSON", GRAPHQL_RESPONSE),
        (f"{GRAPHQL_RESPONSE}, application/json;q=0.9", GRAPHQL_RESPONSE),
        (f"application/json;q=0.9, {GRAPHQL_RESPONSE}", GRAPHQL_RESPONSE),
        (f"application/json, {GRAPHQL_RESPONSE}", JSON),  # equal q: the one listed first
        (f"{GRAPHQL_RESPONSE};q=0.5, */*", JSON),
        (f"{GRAPHQL_RESPONSE}, */*;q=0.1", GRAPHQL_RESPONSE),
        ("application/json;q=0, */*", GRAPHQL_RESPONSE),
        ("text/html, application/json;q=0.2", JSON),
        ("application/json, multipart/mixed", JSON),  # what GraphiQL sends
        ("text/html", None),
        ("application/xml, text/*", None),
        ("application/json;q=0", None),
        (f"{GRAPHQL_RESPONSE};q=nonsense", None),
    ],
)
def test_the_answer_takes_the_media_type_accept_prefers(
    accept: str | None, media_type: str | None
) -> None:
    assert response_media_type(accept) == media_type


@pytest.mark.parametrize(
    ("content_type", "accepted"),
    [
        ("application/json", True),
        ("application/json; charset=utf-8", True),
        ('Application/JSON; charset="UTF-8"', True),
        (None, False),  # a POST without Content-Type
        ("", False),
        ("text/plain;charset=UTF-8", False),  # what fetch() sends for a string body
        ("application/x-www-form-urlencoded", False),
        ("application/graphql", False),
        ("application/json; charset=latin1", False),
        ("application/jsonx", False),
    ],
)
def test_only_json_in_utf8_is_a_request_body(content_type: str | None, accepted: bool) -> None:
    assert is_json(content_type) is accepted


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        ({"notquery": "{ __typename }"}, "Body must be a JSON object with a 'query' string"),
        ({"query": ["{ __typename }"]}, "Body must be a JSON object with a 'query' string"),
        ([{"query": "{ __typename }"}], "Body must be a JSON object with a 'query' string"),
        ({"query": "{ a }", "operationName": 0}, "'operationName' must be a string or null"),
        ({"query": "{ a }", "operationName": {"o": 1}}, "'operationName' must be a string"),
        ({"query": "{ a }", "variables": "x"}, "'variables' must be an object or null"),
        ({"query": "{ a }", "variables": ["x"]}, "'variables' must be an object or null"),
        ({"query": "{ a }", "extensions": False}, "'extensions' must be an object or null"),
        ({"query": "{ a }", "extensions": 0}, "'extensions' must be an object or null"),
    ],
)
def test_a_body_that_is_not_a_graphql_request_says_why(
    payload: dict[str, Any], problem: str
) -> None:
    found = request_problem(json.dumps(payload).encode())
    assert isinstance(found, str)
    assert found.startswith(problem)


def test_unparsable_and_oversized_bodies_are_not_requests() -> None:
    assert request_problem(b'{ "not a JSON') == "Body must be a JSON object with a 'query' string"
    assert request_problem(b"") == "Body must be a JSON object with a 'query' string"
    big = json.dumps({"query": "{ a }", "pad": "x" * MAX_QUERY_BYTES}).encode()
    assert request_problem(big) == f"Request is larger than {MAX_QUERY_BYTES} bytes"


def test_null_and_map_parameters_make_a_request() -> None:
    payload = {"query": "query Q { a }", "operationName": "Q", "variables": None}
    assert request_problem(json.dumps(payload | {"extensions": {"a": 1}}).encode()) == (
        payload | {"extensions": {"a": 1}}
    )
