"""How the local stack reads functions, routes and env from a SAM template."""

from __future__ import annotations

import pytest

from devstack.functions import load_functions, route_pattern

TEMPLATE = {
    "Parameters": {
        "Stage": {"Type": "String", "Default": "dev"},
        "JwtJwksUrl": {"Type": "String", "Default": ""},
    },
    "Conditions": {"UseJwks": {"Fn::Not": [{"Fn::Equals": [{"Ref": "JwtJwksUrl"}, ""]}]}},
    "Globals": {
        "Function": {
            "Timeout": 9,
            "MemorySize": 512,
            "Environment": {
                "Variables": {
                    "TABLE": {"Ref": "PhotosTable"},
                    "STAGE_URL": {"Fn::Sub": "https://x/${Stage}/${AWS::Region}"},
                    "JWT_SECRET": {
                        "Fn::If": [
                            "UseJwks",
                            "",
                            "{{resolve:secretsmanager:s:SecretString:jwtSecret}}",
                        ]
                    },
                    "JOINED": {"Fn::Join": ["-", ["a", {"Ref": "Stage"}]]},
                }
            },
        }
    },
    "Resources": {
        "PhotosTable": {"Type": "AWS::DynamoDB::Table", "Properties": {}},
        "Fetch": {
            "Type": "AWS::Serverless::Function",
            "Properties": {
                "CodeUri": "functions/signed_fetch/",
                "Handler": "signed_fetch_handler.lambda_handler",
                "MemorySize": 1024,
                "Environment": {"Variables": {"OWN": "yes", "STAGE_URL": "overridden"}},
                "Events": {
                    "Get": {
                        "Type": "Api",
                        "Properties": {"Path": "/signed/{bucket}/{filePath+}", "Method": "get"},
                    },
                    "Stream": {
                        "Type": "DynamoDB",
                        "Properties": {
                            "Stream": {"Fn::GetAtt": ["PhotosTable", "StreamArn"]},
                            "BatchSize": 50,
                            "StartingPosition": "LATEST",
                            "FilterCriteria": {
                                "Filters": [{"Pattern": '{"eventName": ["INSERT"]}'}]
                            },
                            "MaximumRetryAttempts": 3,
                            "BisectBatchOnFunctionError": True,
                            "FunctionResponseTypes": ["ReportBatchItemFailures"],
                        },
                    },
                },
            },
        },
    },
}


def test_function_env_is_resolved_like_cloudformation_with_parameter_defaults() -> None:
    (function,) = load_functions(TEMPLATE)

    assert function.module == "signed_fetch_handler"
    assert function.handler == "lambda_handler"
    assert function.timeout == 9
    assert function.memory_size == 1024  # its own, over the Globals' 512
    assert function.environment == {
        "TABLE": "PhotosTable",  # a resource's Ref is its logical id, as under sam local
        "STAGE_URL": "overridden",  # the function's own value wins over Globals
        "JOINED": "a-dev",
        "OWN": "yes",
    }  # JWT_SECRET is a dynamic reference: left to the local environment


def test_conditions_follow_parameter_overrides() -> None:
    (function,) = load_functions(TEMPLATE, {"JwtJwksUrl": "https://issuer/jwks"})

    assert function.environment["JWT_SECRET"] == ""


def test_routes_and_stream_triggers_come_from_the_events() -> None:
    (function,) = load_functions(TEMPLATE)

    (route,) = function.routes
    assert route.match("GET", "/signed/user-assets/users/u/a.jpg") == {
        "bucket": "user-assets",
        "filePath": "users/u/a.jpg",
    }
    assert route.match("POST", "/signed/user-assets/a.jpg") is None
    (stream,) = function.streams
    assert stream.table == "PhotosTable"
    assert stream.batch_size == 50
    assert stream.filters == [{"eventName": ["INSERT"]}]
    assert stream.maximum_retry_attempts == 3
    assert stream.bisect_on_error
    assert stream.report_item_failures


@pytest.mark.parametrize(
    ("template_path", "path", "expected"),
    [
        ("/a/{x}", "/a/1", {"x": "1"}),
        ("/a/{x}", "/a/1/2", None),
        ("/a/{rest+}", "/a/1/2", {"rest": "1/2"}),
        ("/a.b/{x}", "/aXb/1", None),
        ("/graphql", "/graphql", {}),
    ],
)
def test_route_patterns(template_path: str, path: str, expected: dict | None) -> None:
    found = route_pattern(template_path).fullmatch(path)
    assert (found.groupdict() if found else None) == expected
