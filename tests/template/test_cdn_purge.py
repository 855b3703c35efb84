"""What the CDN purge needs from the template, and nothing more (with `EnableCdn=true`).

The GraphQL function (erasure and crop changes) learns the distribution from an SSM
parameter whose name its environment carries; its role may create invalidations on that
distribution only and read that parameter only; none of it references the distribution
from the function (the cycle distribution -> API -> function). The paths it purges are the
ones CloudFront caches: `profile_photos.store.cdn.SIGNED_ROUTE` is the template's route.
"""

from __future__ import annotations

from typing import Any

import pytest

from devkit.template import load_template, references, resources_of_type
from profile_photos.api.web import API_PREFIX
from profile_photos.store.cdn import SIGNED_ROUTE
from testkit.tools_venv import transformed_template
from tests.template.test_cdn import CONFIG, TEMPLATE, created, signed_route

TEMPLATE_DATA = load_template()
RESOURCES: dict[str, dict[str, Any]] = TEMPLATE_DATA["Resources"]
FUNCTIONS = resources_of_type(TEMPLATE_DATA, "AWS::Serverless::Function")
(PARAMETER,) = resources_of_type(TEMPLATE_DATA, "AWS::SSM::Parameter")
(POLICY,) = (
    name
    for name, resource in resources_of_type(TEMPLATE_DATA, "AWS::IAM::Policy").items()
    if "cloudfront:CreateInvalidation" in str(resource["Properties"]["PolicyDocument"])
)
DISTRIBUTION = "CdnDistribution"
NAME = {"Fn::Sub": "/profile-photos/${AWS::StackName}/cdn-distribution-id"}


def graphql_function() -> str:
    (name,) = (
        n
        for n, f in FUNCTIONS.items()
        if f["Properties"]["CodeUri"].rstrip("/") == "functions/graphql"
    )
    return name


def test_only_with_enable_cdn_are_the_parameter_and_the_policy_created() -> None:
    assert {PARAMETER, POLICY} <= created("true")[0]
    assert not {PARAMETER, POLICY} & created("false")[0]


def test_the_parameter_holds_the_distributions_id() -> None:
    properties = RESOURCES[PARAMETER]["Properties"]

    assert properties["Value"] == {"Ref": DISTRIBUTION}
    assert properties["Type"] == "String"
    assert properties["Name"] == NAME


def test_the_graphql_function_gets_the_parameters_name_and_only_it() -> None:
    environments = {
        name: function["Properties"].get("Environment", {}).get("Variables", {})
        for name, function in FUNCTIONS.items()
    }
    holders = {name for name, env in environments.items() if "CDN_DISTRIBUTION_PARAMETER" in env}

    assert holders == {graphql_function()}
    # the same name, written out: empty (no CDN) without EnableCdn
    assert environments[graphql_function()]["CDN_DISTRIBUTION_PARAMETER"] == {
        "Fn::If": ["UseCdn", NAME, ""]
    }
    assert "CDN_DISTRIBUTION_PARAMETER" not in TEMPLATE_DATA["Globals"]["Function"]["Environment"]


def test_no_function_references_the_distribution_or_its_parameter() -> None:
    # the distribution's origins are the API (whose integrations are the functions) and
    # signed fetch's function URL
    for name, function in FUNCTIONS.items():
        assert not references(function) & {DISTRIBUTION, PARAMETER, POLICY}, name


def test_the_purge_policy_grants_one_invalidation_action_and_one_parameter_read() -> None:
    properties = RESOURCES[POLICY]["Properties"]

    assert properties["Roles"] == [{"Ref": f"{graphql_function()}Role"}]
    statements = {s["Sid"]: s for s in properties["PolicyDocument"]["Statement"]}
    assert statements == {
        "PurgeCdn": {
            "Sid": "PurgeCdn",
            "Effect": "Allow",
            "Action": "cloudfront:CreateInvalidation",
            "Resource": {
                "Fn::Sub": "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/"
                "${CdnDistribution}"
            },
        },
        "ReadCdnDistributionId": {
            "Sid": "ReadCdnDistributionId",
            "Effect": "Allow",
            "Action": "ssm:GetParameter",
            "Resource": {
                "Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter"
                f"${{{PARAMETER}}}"
            },
        },
    }


@pytest.mark.tools
def test_the_policy_is_on_the_role_sam_makes_for_the_graphql_function() -> None:
    translated = transformed_template(TEMPLATE, {"EnableCdn": "true"})["Resources"]
    function = graphql_function()

    role = translated[function]["Properties"]["Role"]
    assert role == {"Fn::GetAtt": [f"{function}Role", "Arn"]}
    assert translated[f"{function}Role"]["Type"] == "AWS::IAM::Role"
    assert translated[POLICY]["Properties"]["Roles"] == [{"Ref": f"{function}Role"}]


def test_the_purged_paths_are_the_routes_cloudfront_caches() -> None:
    # the signed URLs' base is CdnPublicBaseUrl (`https://<domain>/api/storage`) + /signed
    assert f"{API_PREFIX}/signed" == SIGNED_ROUTE
    public_base = TEMPLATE_DATA["Outputs"]["CdnPublicBaseUrl"]["Value"]["Fn::Sub"]
    assert f"{public_base.split('}', 1)[1]}/signed" == SIGNED_ROUTE
    assert signed_route().startswith(f"{SIGNED_ROUTE}/")
    patterns = [behavior["PathPattern"] for behavior in CONFIG["CacheBehaviors"]]
    assert f"{SIGNED_ROUTE.lstrip('/')}/*" in patterns
