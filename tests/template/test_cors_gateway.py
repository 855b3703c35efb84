"""CORS and API Gateway's own errors, as the deployed API defines them: the template through
the SAM transform (offline), its intrinsics evaluated with the given parameters."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from devkit.template import load_template
from devstack.functions import Resolver
from testkit.tools_venv import require_tools_python, transformed_template

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.tools
APP = "https://app.example.com"
CORS_HEADERS = {
    "gatewayresponse.header.Access-Control-Allow-Origin": "method.request.header.Origin",
    "gatewayresponse.header.Access-Control-Expose-Headers": (
        "'ETag, Retry-After, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset'"
    ),
    "gatewayresponse.header.Vary": "'Origin'",
}


def deployed_api(origins: str) -> dict[str, Any]:
    """The REST API's OpenAPI body as CloudFormation would create it with `origins`."""
    require_tools_python()
    translated = transformed_template(ROOT / "template.yaml", {"CorsAllowedOrigins": origins})
    resolver = Resolver(translated | {"Conditions": load_template()["Conditions"]})
    resolver.parameters["CorsAllowedOrigins"] = origins
    body = translated["Resources"]["ProfilePhotosApi"]["Properties"]["Body"]
    return drop_no_value(resolver.resolve(body))


def drop_no_value(value: Any) -> Any:
    """`Ref: AWS::NoValue` removes the key, as CloudFormation does."""
    if isinstance(value, dict):
        return {k: drop_no_value(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [drop_no_value(v) for v in value if v is not None]
    return value


@pytest.fixture(scope="module")
def with_cors() -> dict[str, Any]:
    return deployed_api(APP)


@pytest.fixture(scope="module")
def without_cors() -> dict[str, Any]:
    return deployed_api("")


def test_every_route_answers_its_preflight_through_its_function(
    with_cors: dict[str, Any],
) -> None:
    for path, methods in with_cors["paths"].items():
        assert "options" in methods, path
        preflight = methods["options"]["x-amazon-apigateway-integration"]
        others = [m for name, m in methods.items() if name != "options"]
        # the same function (alias) as the route's other methods, as a Lambda proxy
        assert preflight["type"] == "aws_proxy"
        assert all(
            m["x-amazon-apigateway-integration"]["uri"] == preflight["uri"] for m in others
        ), path


def test_binary_media_types_are_kept_without_sams_cors(with_cors: dict[str, Any]) -> None:
    assert "*/*" in with_cors["x-amazon-apigateway-binary-media-types"]
    # SAM's Cors property would add mock OPTIONS integrations; none exists
    for methods in with_cors["paths"].values():
        assert methods["options"]["x-amazon-apigateway-integration"]["type"] != "mock"


@pytest.mark.parametrize(
    ("response_type", "status", "code"),
    [
        ("REQUEST_TOO_LARGE", "413", "PAYLOAD_TOO_LARGE"),
        ("THROTTLED", "429", "RATE_LIMITED"),
        ("QUOTA_EXCEEDED", "429", "RATE_LIMITED"),
        ("MISSING_AUTHENTICATION_TOKEN", "404", "NOT_FOUND"),
        ("RESOURCE_NOT_FOUND", "404", "NOT_FOUND"),
        ("INTEGRATION_TIMEOUT", None, "SERVICE_UNAVAILABLE"),
        ("DEFAULT_5XX", None, "SERVICE_UNAVAILABLE"),
    ],
)
def test_platform_errors_use_the_contract_envelope_with_cors(
    with_cors: dict[str, Any], response_type: str, status: str | None, code: str
) -> None:
    response = with_cors["x-amazon-apigateway-gateway-responses"][response_type]

    assert response.get("statusCode") == status
    body = json.loads(response["responseTemplates"]["application/json"])
    assert body["success"] is False
    assert set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code
    assert len(body["error"]["message"]) > 10
    headers = response["responseParameters"]
    assert {k: v for k, v in headers.items() if k in CORS_HEADERS} == CORS_HEADERS


def test_a_throttled_request_is_told_when_to_retry(with_cors: dict[str, Any]) -> None:
    throttled = with_cors["x-amazon-apigateway-gateway-responses"]["THROTTLED"]
    assert throttled["responseParameters"]["gatewayresponse.header.Retry-After"] == "'1'"


def test_the_default_4xx_keeps_api_gateways_message_inside_the_envelope(
    with_cors: dict[str, Any],
) -> None:
    template = with_cors["x-amazon-apigateway-gateway-responses"]["DEFAULT_4XX"][
        "responseTemplates"
    ]["application/json"]
    # $context.error.messageString is API Gateway's message as a quoted JSON string
    body = json.loads(template.replace("$context.error.messageString", '"Forbidden"'))
    assert body == {
        "success": False,
        "error": {"code": "VALIDATION_FAILED", "message": "Forbidden"},
    }


def test_without_origins_platform_errors_carry_no_cors_header(
    without_cors: dict[str, Any],
) -> None:
    for name, response in without_cors["x-amazon-apigateway-gateway-responses"].items():
        headers = response.get("responseParameters", {})
        assert not set(headers) & set(CORS_HEADERS), name


def test_the_functions_get_the_origins_from_the_parameter() -> None:
    template = load_template()
    env = template["Globals"]["Function"]["Environment"]["Variables"]
    assert env["CORS_ALLOWED_ORIGINS"] == {"Ref": "CorsAllowedOrigins"}
    assert template["Parameters"]["CorsAllowedOrigins"]["Default"] == ""
