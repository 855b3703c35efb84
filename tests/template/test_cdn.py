"""The optional CloudFront distribution in front of the signed route, and the signed-URL window.

Off by default (`EnableCdn=false`: no CloudFront resource, no function URL); on, it caches
the signed route under its path and `token` alone, its misses going to signed fetch's
function URL (AWS_IAM, signed by an origin access control that only this distribution may
use), LOCAL direct-upload PUTs and everything else to the API. The conditions are evaluated
with the local stack's resolver (CloudFormation's rules, parameter defaults overridden); the
SAM transform and the template check run in the tool venv.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from devkit.template import load_template, resources_of_type
from devstack.functions import Resolver, load_functions
from testkit.tools_venv import run_tools_python, transformed_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
CHECK = ROOT / "tests" / "template" / "check_template.py"
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"  # CloudFront's managed policy
CDN_OUTPUTS = {"CdnDomainName", "CdnPublicBaseUrl"}
DISTRIBUTION_ARN = {
    "Fn::Sub": "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/${CdnDistribution}"
}

TEMPLATE_DATA = load_template()
RESOURCES: dict[str, dict[str, Any]] = TEMPLATE_DATA["Resources"]
CDN = {name: r for name, r in RESOURCES.items() if r["Type"].startswith("AWS::CloudFront::")}
(URL,) = resources_of_type(TEMPLATE_DATA, "AWS::Lambda::Url")
(ACCESS,) = resources_of_type(TEMPLATE_DATA, "AWS::CloudFront::OriginAccessControl")
PERMISSIONS = resources_of_type(TEMPLATE_DATA, "AWS::Lambda::Permission")
(DISTRIBUTION,) = resources_of_type(TEMPLATE_DATA, "AWS::CloudFront::Distribution")
CONFIG = RESOURCES[DISTRIBUTION]["Properties"]["DistributionConfig"]
(CACHE_POLICY,) = resources_of_type(TEMPLATE_DATA, "AWS::CloudFront::CachePolicy").values()
(ORIGIN_POLICY,) = resources_of_type(TEMPLATE_DATA, "AWS::CloudFront::OriginRequestPolicy").values()
CACHE_KEY = CACHE_POLICY["Properties"]["CachePolicyConfig"]
FORWARDED = ORIGIN_POLICY["Properties"]["OriginRequestPolicyConfig"]
BEHAVIORS = CONFIG["CacheBehaviors"]
(SIGNED_BEHAVIOR,) = (b for b in BEHAVIORS if b["PathPattern"] == "api/storage/signed/*")
(UPLOAD_BEHAVIOR,) = (b for b in BEHAVIORS if b is not SIGNED_BEHAVIOR)
ORIGINS = {origin["Id"]: origin for origin in CONFIG["Origins"]}


def created(enable_cdn: str) -> tuple[set[str], set[str]]:
    """The resources and outputs CloudFormation creates with `EnableCdn=enable_cdn`."""
    resolver = Resolver(TEMPLATE_DATA, {"EnableCdn": enable_cdn})

    def kept(entry: dict[str, Any]) -> bool:
        return "Condition" not in entry or resolver.condition(entry["Condition"])

    return (
        {name for name, resource in RESOURCES.items() if kept(resource)},
        {name for name, output in TEMPLATE_DATA["Outputs"].items() if kept(output)},
    )


def signed_fetch_function() -> str:
    """The logical id of the signed-fetch function."""
    (name,) = (
        n
        for n, f in resources_of_type(TEMPLATE_DATA, "AWS::Serverless::Function").items()
        if f["Properties"]["CodeUri"].rstrip("/") == "functions/signed_fetch"
    )
    return name


def signed_route() -> str:
    """The signed-fetch function's GET path in the template, `{...}` parameters and all."""
    function = RESOURCES[signed_fetch_function()]
    return function["Properties"]["Events"]["Get"]["Properties"]["Path"]


# ------------------------------------------------------------------------------- on / off


def test_the_cdn_is_off_by_default_and_a_true_false_choice() -> None:
    parameter = TEMPLATE_DATA["Parameters"]["EnableCdn"]

    assert (parameter["Type"], parameter["Default"]) == ("String", "false")
    assert sorted(parameter["AllowedValues"]) == ["false", "true"]
    assert TEMPLATE_DATA["Conditions"]["UseCdn"] == {"Fn::Equals": [{"Ref": "EnableCdn"}, "true"]}


def test_without_enable_cdn_no_distribution_or_cdn_output_is_created() -> None:
    resources, outputs = created("false")

    assert CDN, "the template has no CloudFront resources at all"
    assert not resources & set(CDN)
    # nor signed fetch's function URL, nor a grant to invoke it
    assert PERMISSIONS
    assert not resources & {URL, *PERMISSIONS}
    assert not outputs & CDN_OUTPUTS
    assert {"ProfilePhotosApi", "SignedFetchFunction", "ApiUrl"} <= resources | outputs


def test_with_enable_cdn_the_distribution_its_policies_and_outputs_are_created() -> None:
    resources, outputs = created("true")

    assert set(CDN) | {URL, *PERMISSIONS} <= resources
    assert {r["Type"] for r in CDN.values()} == {
        "AWS::CloudFront::Distribution",
        "AWS::CloudFront::CachePolicy",
        "AWS::CloudFront::OriginRequestPolicy",
        "AWS::CloudFront::OriginAccessControl",
    }
    assert outputs >= CDN_OUTPUTS
    outputs_ = TEMPLATE_DATA["Outputs"]
    assert outputs_["CdnDomainName"]["Value"] == {"Fn::GetAtt": [DISTRIBUTION, "DomainName"]}
    assert outputs_["CdnPublicBaseUrl"]["Value"] == {
        "Fn::Sub": f"https://${{{DISTRIBUTION}.DomainName}}/api/storage"
    }


# ------------------------------------------------------------------------------- cache key


def test_the_cache_key_is_the_token_and_nothing_else() -> None:
    key = CACHE_KEY["ParametersInCacheKeyAndForwardedToOrigin"]

    assert key["QueryStringsConfig"] == {
        "QueryStringBehavior": "whitelist",
        "QueryStrings": ["token"],
    }
    assert key["HeadersConfig"] == {"HeaderBehavior": "none"}
    assert key["CookiesConfig"] == {"CookieBehavior": "none"}
    # an Accept-Encoding variant would be a header in the key, too
    assert key["EnableAcceptEncodingGzip"] is False
    assert key["EnableAcceptEncodingBrotli"] is False


def test_the_origins_cache_control_decides_how_long_a_copy_is_kept() -> None:
    # 0/0: the answer's `s-maxage=<seconds left on the token>` rules; no header, no copy
    assert (CACHE_KEY["MinTTL"], CACHE_KEY["DefaultTTL"]) == (0, 0)
    # bounded, so CloudFront asks again (and learns of an erasure) within a day
    assert 0 < CACHE_KEY["MaxTTL"] <= 86400 + 3600


def test_nothing_that_could_vary_an_answer_is_forwarded_to_the_origin() -> None:
    assert FORWARDED["CookiesConfig"] == {"CookieBehavior": "none"}
    assert FORWARDED["QueryStringsConfig"] == {"QueryStringBehavior": "none"}
    # Content-Type only: a LOCAL direct upload's PUT needs it; no GET answer depends on it
    headers = FORWARDED["HeadersConfig"]
    assert headers["HeaderBehavior"] in ("none", "whitelist")
    assert set(headers.get("Headers", [])) <= {"Content-Type"}


# ------------------------------------------------------------------------------- origin


def test_the_api_origin_is_the_api_stage_over_https_only() -> None:
    origin = ORIGINS["api"]
    resolver = Resolver(TEMPLATE_DATA, {"EnableCdn": "true"})

    assert origin["DomainName"] == {
        "Fn::Sub": "${ProfilePhotosApi}.execute-api.${AWS::Region}.amazonaws.com"
    }
    assert RESOURCES["ProfilePhotosApi"]["Type"] == "AWS::Serverless::Api"
    assert RESOURCES["ProfilePhotosApi"]["Properties"]["StageName"] == {"Ref": "Stage"}
    assert resolver.resolve(origin["OriginPath"]) == "/dev"
    assert origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    assert origin["CustomOriginConfig"]["OriginSSLProtocols"] == ["TLSv1.2"]
    assert {
        UPLOAD_BEHAVIOR["TargetOriginId"],
        CONFIG["DefaultCacheBehavior"]["TargetOriginId"],
    } == {origin["Id"]}


# ------------------------------------------------------------------------------- behaviors


def test_the_signed_route_is_cached_for_get_and_head_under_the_token_key() -> None:
    pattern = SIGNED_BEHAVIOR["PathPattern"]
    route = signed_route()

    # the pattern covers exactly the function's route (its `{bucket}/{filePath+}` part)
    assert pattern.endswith("/*")
    assert route.startswith("/" + pattern.lstrip("/").removesuffix("*"))
    assert re.fullmatch(r"/api/storage/signed/\{bucket\}/\{filePath\+\}", route)
    assert SIGNED_BEHAVIOR["CachePolicyId"] == {"Ref": _logical_id(CACHE_POLICY)}
    assert SIGNED_BEHAVIOR["CachedMethods"] == ["GET", "HEAD"]
    # no PUT, POST or DELETE reaches the function URL: through the origin access control a
    # body needs a hash our clients do not send (LOCAL direct uploads take the API)
    assert SIGNED_BEHAVIOR["AllowedMethods"] == ["GET", "HEAD", "OPTIONS"]
    assert SIGNED_BEHAVIOR["ViewerProtocolPolicy"] == "redirect-to-https"


def test_everything_else_passes_through_uncached_and_without_credentials() -> None:
    default = CONFIG["DefaultCacheBehavior"]

    assert default["CachePolicyId"] == CACHING_DISABLED
    # no origin request policy: not even Authorization is forwarded
    assert "OriginRequestPolicyId" not in default
    assert default["AllowedMethods"] == ["GET", "HEAD"]
    assert default["ViewerProtocolPolicy"] == "redirect-to-https"


def test_server_errors_are_never_kept() -> None:
    kept = {e["ErrorCode"]: e["ErrorCachingMinTTL"] for e in CONFIG["CustomErrorResponses"]}

    assert kept == {500: 0, 502: 0, 503: 0, 504: 0}


def _logical_id(resource: dict[str, Any]) -> str:
    return next(name for name, r in RESOURCES.items() if r is resource)


# ------------------------------------------------------------------------------- window


def test_the_window_is_a_parameter_next_to_the_ttl_and_reaches_every_function() -> None:
    parameters = TEMPLATE_DATA["Parameters"]
    names = list(parameters)
    window = parameters["SignedUrlWindowSeconds"]

    assert names.index("SignedUrlWindowSeconds") == names.index("SignedUrlTtlSeconds") + 1
    assert (window["Type"], window["Default"], window["MinValue"]) == ("Number", 300, 1)
    variables = TEMPLATE_DATA["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["SIGNED_URL_WINDOW_SECONDS"] == {"Ref": "SignedUrlWindowSeconds"}
    for function in load_functions():
        assert function.environment["SIGNED_URL_WINDOW_SECONDS"] == "300", function.name


def test_the_functions_signed_urls_base_stays_a_parameter_no_cycle() -> None:
    # Naming the distribution in the functions' environment would be a cycle (function ->
    # distribution -> API -> function): the operator sets PublicBaseUrl after the first deploy.
    variables = TEMPLATE_DATA["Globals"]["Function"]["Environment"]["Variables"]

    assert variables["LOCAL_STORAGE_BASE_URL"] == {"Ref": "PublicBaseUrl"}
    for name, resource in resources_of_type(TEMPLATE_DATA, "AWS::Serverless::Function").items():
        assert DISTRIBUTION not in json.dumps(resource), name


# ------------------------------------------------------------------------------- transformed


@pytest.mark.tools
def test_with_the_cdn_on_the_transformed_distribution_fronts_the_rest_api() -> None:
    translated = transformed_template(TEMPLATE, {"EnableCdn": "true"})
    resources = translated["Resources"]

    assert resources["ProfilePhotosApi"]["Type"] == "AWS::ApiGateway::RestApi"
    stages = [r for r in resources.values() if r["Type"] == "AWS::ApiGateway::Stage"]
    assert [s["Properties"]["StageName"] for s in stages] == [{"Ref": "Stage"}]
    distribution = resources[DISTRIBUTION]
    assert distribution["Condition"] == "UseCdn"
    origins = {o["Id"]: o for o in distribution["Properties"]["DistributionConfig"]["Origins"]}
    assert origins["api"]["DomainName"] == {
        "Fn::Sub": "${ProfilePhotosApi}.execute-api.${AWS::Region}.amazonaws.com"
    }
    assert translated["Conditions"]["UseCdn"] == {"Fn::Equals": [{"Ref": "EnableCdn"}, "true"]}
    # SAM resolves `<function>.Alias` to the alias it publishes: the URL and both grants are
    # on the `live` alias, which SAM points at the version it publishes
    alias = f"{signed_fetch_function()}Aliaslive"
    assert resources[alias]["Type"] == "AWS::Lambda::Alias"
    assert resources[alias]["Properties"]["Name"] == "live"
    assert resources[URL]["Properties"]["TargetFunctionArn"] == {"Ref": alias}
    for name in PERMISSIONS:
        assert resources[name]["Properties"]["FunctionName"] == {"Ref": alias}


@pytest.mark.tools
def test_the_template_check_passes_with_the_cdn_on(tmp_path: Path) -> None:
    # the real template with EnableCdn defaulting to "true" (local paths made absolute)
    text = re.sub(
        r"^(\s*(?:CodeUri|ContentUri):\s*)([^\s#]+)",
        lambda m: m.group(1) + str(ROOT / m.group(2)),
        TEMPLATE.read_text(),
        flags=re.MULTILINE,
    )
    default_off = '    AllowedValues: ["true", "false"]\n    Default: "false"\n'
    assert text.count(default_off) == 1
    template = tmp_path / "template.yaml"
    template.write_text(
        text.replace(default_off, '    AllowedValues: ["true", "false"]\n    Default: "true"\n')
    )

    # steps 1-3 (transform with the CDN on, cfn-lint of its output, IAM): `sam validate
    # --lint` lints every resource whatever the condition, on the real template (make test)
    result = run_tools_python(str(CHECK), str(template), "--no-sam-validate")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "template check passed" in result.stdout


# ------------------------------------------------------------------------------- docs


def test_the_docs_say_how_caching_erasure_and_the_cdn_work() -> None:
    api = (ROOT / "docs" / "api.md").read_text()
    deploying = (ROOT / "docs" / "deploying.md").read_text()
    section = api.split("## Caching signed URLs", 1)[1].split("\n## ", 1)[0]
    section += deploying.split("## A CDN in front", 1)[1].split("\n## ", 1)[0]

    for phrase in (
        "SIGNED_URL_WINDOW_SECONDS",
        "public, max-age=<min(seconds left on the",
        "s-maxage=<seconds left on the token>",
        "immutable",
        "EnableCdn=true",
        "`token`",
        "PublicBaseUrl",
        "CdnPublicBaseUrl",
        "aws cloudfront create-invalidation",
        "users/<sub>/*",
        # where a miss goes, why, and where a LOCAL direct upload's PUT goes instead
        "Lambda function URL",
        "AWS_IAM",
        "InvokedViaFunctionUrl",
        "no API Gateway request",
        "x-amz-content-sha256",
        "/api/storage/signed/user-assets/staging/*",
    ):
        assert phrase in section, phrase
