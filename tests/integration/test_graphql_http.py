"""GraphQL over HTTP at the handler: the answer's media type and status for each kind of
request (the GraphQL-over-HTTP draft as graphql-http's audit checks it). The negotiation
matrices are unit tests (tests/unit/test_graphql_http.py); the audit itself runs against the
local stack (tests/e2e/test_graphql_audit.py)."""

from __future__ import annotations

import json
from typing import Any

import graphql_handler
import pytest

from testkit.events import graphql_event, user_token
from testkit.invoke import HttpResult, invoke
from tests.integration.conftest import Stack

GRAPHQL_RESPONSE = "application/graphql-response+json"
MEDIA_TYPES = ["application/json", GRAPHQL_RESPONSE]


@pytest.fixture
def provider() -> str:
    """Media types and statuses do not depend on where files are stored: LOCAL only."""
    return "LOCAL"


def post(
    headers: dict[str, str | None], body: bytes | None = None, query: str = "{ me { id } }"
) -> HttpResult:
    """POST /graphql as demo-user; a header given as None is left out of the request."""
    event = graphql_event("http", query, None, user_token(sub="demo-user"))
    sent = {**event["headers"], **headers}  # type: ignore[dict-item]
    sent = {name: value for name, value in sent.items() if value is not None}
    event["headers"] = sent
    event["multiValueHeaders"] = {name: [value] for name, value in sent.items()}
    if body is not None:
        event["body"] = body.decode()
        event["isBase64Encoded"] = False
    return invoke(graphql_handler.lambda_handler, event)


def codes(result: HttpResult) -> list[str]:
    return [error["extensions"]["code"] for error in result.json()["errors"]]


@pytest.mark.parametrize(
    ("accept", "content_type"),
    [
        (None, "application/json"),
        ("*/*", "application/json"),
        ("application/json", "application/json"),
        (f"{GRAPHQL_RESPONSE}, application/json;q=0.9", f"{GRAPHQL_RESPONSE}; charset=utf-8"),
    ],
)
def test_the_answer_is_in_the_media_type_accept_prefers(
    stack: Stack, accept: str | None, content_type: str
) -> None:
    # Given a well-formed request with this Accept header, When it runs
    result = post({"Accept": accept})

    # Then it executes, and the answer says its media type
    assert result.status == 200, result.body
    assert result.headers["content-type"] == content_type
    assert result.json() == {"data": {"me": {"id": "demo-user"}}}


def test_an_accept_header_that_allows_neither_media_type_is_406(stack: Stack) -> None:
    result = post({"Accept": "text/html"})

    assert result.status == 406
    assert result.headers["content-type"] == "application/json"
    assert codes(result) == ["NOT_ACCEPTABLE"]
    assert "data" not in result.json()


@pytest.mark.parametrize("content_type", [None, "text/plain;charset=UTF-8"])
def test_a_post_whose_body_is_not_declared_json_is_415(
    stack: Stack, content_type: str | None
) -> None:
    # Given a JSON body sent without Content-Type (or as text), When it is posted
    result = post({"Content-Type": content_type}, body=b'{"query": "{ me { id } }"}')

    # Then it is refused before execution, in GraphQL's error shape
    assert result.status == 415
    assert codes(result) == ["UNSUPPORTED_MEDIA_TYPE"]
    assert "data" not in result.json()


def test_utf8_json_with_its_charset_is_accepted(stack: Stack) -> None:
    body = json.dumps({"query": '{ user(id: "Run🏃Swim🏊") { id } }'}).encode()

    result = post({"Content-Type": "application/json; charset=utf-8"}, body=body)

    assert result.status == 200
    assert result.json() == {"data": {"user": None}}


@pytest.mark.parametrize("accept", MEDIA_TYPES)
def test_a_body_that_is_not_a_graphql_request_is_400(stack: Stack, accept: str) -> None:
    body = json.dumps({"query": "{ me { id } }", "variables": ["x"]}).encode()

    result = post({"Accept": accept}, body=body)

    assert result.status == 400
    assert result.headers["content-type"].split(";")[0] == accept
    assert codes(result) == ["BAD_REQUEST"]
    assert result.json()["errors"][0]["message"] == "'variables' must be an object or null"


@pytest.mark.parametrize(
    ("query", "variables", "status", "code"),
    [
        ("{", None, 400, "GRAPHQL_PARSE_FAILED"),
        ("{ noSuchField }", None, 400, "GRAPHQL_VALIDATION_FAILED"),
        ("query ($id: ID!) { user(id: $id) { id } }", {"id": None}, 400, "BAD_USER_INPUT"),
        (
            'mutation { restoreProfilePhoto(assetId: "0b5c7a36-3f4e-4c39-9d0e-2f6a4c1e9a01") '
            "{ photo { assetId } } }",
            None,
            200,
            "NOT_FOUND",
        ),
    ],
)
@pytest.mark.parametrize("accept", MEDIA_TYPES)
def test_request_errors_are_400_without_data_and_field_errors_200(
    stack: Stack, query: str, variables: Any, status: int, code: str, accept: str
) -> None:
    # Given a request that fails before execution (parse, validation, variables) or in it
    body = json.dumps({"query": query, "variables": variables}).encode()

    # When it is sent accepting either media type
    result = post({"Accept": accept}, body=body)

    # Then a request error is 400 without `data`, a field error 200 with it
    assert result.status == status
    assert result.headers["content-type"].split(";")[0] == accept
    assert codes(result) == [code]
    assert ("data" in result.json()) is (status == 200)
