"""No IAM grant of the deployed template reaches further than its ARN, unless it must.

`tests/template/iam_check.py` lists every wildcard grant of the transformed template (an AWS managed
policy counts as one: its resources are `*`) and fails on any its allow-lists do not justify.
SAM's own defaults are what it catches: `LambdaInvokePolicy` grants `function:<name>*` (any
function whose name starts with the renditions function's), and a DynamoDB event attaches
AWSLambdaDynamoDBExecutionRole, which reads every stream of the account.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from devkit.template import load_template
from testkit.tools_venv import run_tools_python, transformed_template
from tests.template.iam_check import (
    DEFAULT_ACCOUNT,
    DEFAULT_REGION,
    JUSTIFIED_MANAGED_POLICIES,
    JUSTIFIED_WILDCARDS,
    unjustified_wildcards,
    wildcard_grants,
)

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
ARGS = (DEFAULT_REGION, DEFAULT_ACCOUNT)


@pytest.fixture(scope="module")
def translated() -> dict[str, Any]:
    return transformed_template(TEMPLATE, {})


def role(statements: list[dict[str, Any]], managed: list[str]) -> dict[str, Any]:
    document = {"PolicyDocument": {"Statement": statements}, "PolicyName": "P"}
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {"ManagedPolicyArns": managed, "Policies": [document]},
    }


@pytest.mark.tools
def test_every_wildcard_of_the_template_is_justified(translated: dict[str, Any]) -> None:
    assert unjustified_wildcards(translated, *ARGS) == []


@pytest.mark.tools
def test_every_justification_is_still_needed(translated: dict[str, Any]) -> None:
    # an allow-list entry the template no longer needs would let a wildcard back in unseen
    grants = wildcard_grants(translated, *ARGS)
    managed = {line.split("managed policy ", 1)[1] for line in grants if "managed policy " in line}
    inline = {tuple(line.split(": ", 1)[1].split(" on ", 1)) for line in grants}

    assert set(JUSTIFIED_MANAGED_POLICIES) == managed
    assert set(JUSTIFIED_WILDCARDS) <= inline


@pytest.mark.tools
def test_the_functions_read_and_invoke_exact_arns(translated: dict[str, Any]) -> None:
    resources = translated["Resources"]
    invoke = resources["SignedFetchFunctionRole"]["Properties"]["Policies"][0]
    (statement,) = invoke["PolicyDocument"]["Statement"]
    # the alias signed fetch invokes (RENDITIONS_FUNCTION), and nothing else
    assert statement["Action"] == "lambda:InvokeFunction"
    assert statement["Resource"] == {"Ref": "RenditionsFunctionAliaslive"}
    for name in ("RetentionFunction", "RenditionsFunction"):
        props = resources[f"{name}Role"]["Properties"]
        reads = [
            s
            for policy in props["Policies"]
            for s in policy["PolicyDocument"]["Statement"]
            if s["Sid"] == "ReadPhotoStream"
        ]
        assert [s["Resource"] for s in reads] == [{"Fn::GetAtt": ["PhotosTable", "StreamArn"]}]
        assert not any("DynamoDB" in str(arn) for arn in props["ManagedPolicyArns"])


def test_the_check_refuses_sams_prefix_invoke_and_account_wide_stream_reads() -> None:
    # Given what SAM generates for LambdaInvokePolicy and for a DynamoDB event source
    prefix = {
        "Fn::Sub": [
            "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${name}*",
            {"name": {"Ref": "RenditionsFunction"}},
        ]
    }
    invoke = {"Effect": "Allow", "Action": ["lambda:InvokeFunction"], "Resource": prefix}
    streams = "arn:aws:iam::aws:policy/service-role/AWSLambdaDynamoDBExecutionRole"
    xray = "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess"
    sam_default = {
        "Resources": {
            "SignedFetchFunctionRole": role([invoke], [xray]),
            "RetentionFunctionRole": role([], [xray, streams]),
        }
    }

    # Then the check names both, and nothing it can justify
    assert unjustified_wildcards(sam_default, *ARGS) == [
        "SignedFetchFunctionRole: lambda:InvokeFunction on arn:${AWS::Partition}:lambda:"
        "${AWS::Region}:${AWS::AccountId}:function:${RenditionsFunction}*",
        "RetentionFunctionRole: managed policy AWSLambdaDynamoDBExecutionRole",
    ]


def test_the_check_refuses_wildcard_actions_and_not_resource() -> None:
    broad = {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::bucket/photo"}
    inverted = {"Effect": "Allow", "Action": "s3:GetObject", "NotResource": "arn:aws:s3:::b/x"}
    denied = {"Effect": "Deny", "Action": "*", "Resource": "*"}  # a Deny narrows: fine
    template = {"Resources": {"R": role([broad, inverted, denied], [])}}

    assert unjustified_wildcards(template, *ARGS) == [
        "R: s3:* on arn:aws:s3:::bucket/photo",
        "R: statement with ['NotResource']",
    ]


@pytest.mark.tools
def test_the_template_check_fails_on_an_unjustified_wildcard(tmp_path: Path) -> None:
    # Given the template with SAM's prefix-matching invoke policy back in signed fetch
    text = TEMPLATE.read_text()
    scoped = """        - Statement:
            - Sid: RenderOnMiss
              Effect: Allow
              Action: lambda:InvokeFunction
              Resource: !Ref RenditionsFunction.Alias
"""
    assert text.count(scoped) == 1, "template changed: update this test"
    broad = tmp_path / "template.yaml"
    broad.write_text(
        text.replace(
            scoped,
            "        - LambdaInvokePolicy:\n            FunctionName: !Ref RenditionsFunction\n",
        )
    )
    for folder in ("functions", "shared", "layers"):  # for the check's local-path step
        (tmp_path / folder).symlink_to(ROOT / folder)

    # When `make check-template`'s script and the IAM check run on it
    check = run_tools_python("tests/template/check_template.py", str(broad), "--no-sam-validate")
    iam = run_tools_python("tests/template/iam_check.py", str(broad))

    # Then both fail and name the grant
    assert check.returncode == 1, check.stdout
    assert "unjustified wildcard: SignedFetchFunctionRole: lambda:InvokeFunction" in check.stdout
    assert "FAILED: IAM wildcards" in check.stdout
    assert iam.returncode == 1
    assert "unjustified wildcard: SignedFetchFunctionRole" in iam.stderr


def test_renditions_concurrency_is_reserved_by_a_parameter_with_a_small_default() -> None:
    template = load_template()
    renditions = template["Resources"]["RenditionsFunction"]["Properties"]
    parameter = template["Parameters"]["RenditionsReservedConcurrency"]

    assert renditions["ReservedConcurrentExecutions"] == {"Ref": "RenditionsReservedConcurrency"}
    assert parameter["Type"] == "Number"
    assert 1 <= parameter["Default"] <= 10
    assert parameter["MinValue"] >= 1
