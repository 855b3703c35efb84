"""Where the distribution sends a miss: signed GETs to signed fetch's function URL, LOCAL
direct-upload PUTs to the API (with `EnableCdn=true`).

The function URL is signed fetch's `live` alias behind AWS_IAM; CloudFront signs its requests
with an origin access control of type `lambda`, and only this distribution may invoke it
(`lambda:InvokeFunctionUrl` and, since October 2025, `lambda:InvokeFunction` through the
URL). A miss there pays no API Gateway request (bench/cost.py). A PUT through the origin
access control would need a body hash our clients do not send, so the staging area a PUT URL
names goes to the API: the behaviours are matched as CloudFront matches them, first match
wins, against the URLs the code mints.
"""

from __future__ import annotations

import fnmatch
import json
from typing import Any

from profile_photos.signing import Signer
from profile_photos.store.storage import STAGING_PREFIX, USER_ASSETS
from tests.template.test_cdn import (
    ACCESS,
    BEHAVIORS,
    CACHE_KEY,
    CACHE_POLICY,
    CONFIG,
    DISTRIBUTION_ARN,
    FORWARDED,
    ORIGIN_POLICY,
    ORIGINS,
    PERMISSIONS,
    RESOURCES,
    SIGNED_BEHAVIOR,
    TEMPLATE_DATA,
    UPLOAD_BEHAVIOR,
    URL,
    _logical_id,
    signed_fetch_function,
)


def behavior_for(path: str) -> dict[str, Any]:
    """The cache behaviour CloudFront picks for a viewer's `path`: the first whose pattern
    matches (`*` any characters, `/` included), else the default."""
    for behavior in BEHAVIORS:
        if fnmatch.fnmatchcase(path.lstrip("/"), behavior["PathPattern"].lstrip("/")):
            return behavior
    return CONFIG["DefaultCacheBehavior"]


def test_the_function_url_gets_the_cache_key_alone_never_the_viewers_host() -> None:
    # no origin request policy: path and token only. A forwarded Host would be the
    # distribution's, not the one the origin access control signs, and Lambda refuses it.
    assert "OriginRequestPolicyId" not in SIGNED_BEHAVIOR
    assert "Host" not in json.dumps(CACHE_KEY)
    assert "Host" not in json.dumps(FORWARDED)


def test_signed_gets_miss_to_the_function_url_signed_by_the_origin_access_control() -> None:
    (name,) = (n for n, o in ORIGINS.items() if "OriginAccessControlId" in o)
    origin = ORIGINS[name]

    assert SIGNED_BEHAVIOR["TargetOriginId"] == name
    # the URL's host: `https://<id>.lambda-url.<region>.on.aws/` split on "/" is
    # ["https:", "", "<id>.lambda-url.<region>.on.aws", ""]
    assert origin["DomainName"] == {
        "Fn::Select": [2, {"Fn::Split": ["/", {"Fn::GetAtt": [URL, "FunctionUrl"]}]}]
    }
    assert "OriginPath" not in origin  # the function sees the viewer's path
    assert origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    assert origin["CustomOriginConfig"]["OriginSSLProtocols"] == ["TLSv1.2"]
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": [ACCESS, "Id"]}
    config = RESOURCES[ACCESS]["Properties"]["OriginAccessControlConfig"]
    assert config["OriginAccessControlOriginType"] == "lambda"
    # every request signed (a viewer's own Authorization is replaced), with SigV4
    assert (config["SigningBehavior"], config["SigningProtocol"]) == ("always", "sigv4")


def test_the_function_url_is_signed_fetchs_live_alias_behind_iam() -> None:
    url = RESOURCES[URL]

    assert url["Condition"] == "UseCdn"
    assert url["Properties"]["AuthType"] == "AWS_IAM"
    # the alias API Gateway invokes and CodeDeploy shifts (its ARN carries the qualifier)
    assert url["Properties"]["TargetFunctionArn"] == {"Ref": f"{signed_fetch_function()}.Alias"}
    assert TEMPLATE_DATA["Globals"]["Function"]["AutoPublishAlias"] == "live"
    assert url["Properties"].get("InvokeMode", "BUFFERED") == "BUFFERED"


def test_only_this_distribution_may_invoke_the_function_url() -> None:
    grants = {p["Properties"]["Action"]: p for p in PERMISSIONS.values()}

    # since October 2025 a function URL needs both, the second only through the URL
    assert set(grants) == {"lambda:InvokeFunctionUrl", "lambda:InvokeFunction"}
    for permission in grants.values():
        properties = permission["Properties"]
        assert permission["Condition"] == "UseCdn"
        assert properties["FunctionName"] == {"Ref": f"{signed_fetch_function()}.Alias"}
        assert properties["Principal"] == "cloudfront.amazonaws.com"
        assert properties["SourceArn"] == DISTRIBUTION_ARN
    assert grants["lambda:InvokeFunctionUrl"]["Properties"]["FunctionUrlAuthType"] == "AWS_IAM"
    assert grants["lambda:InvokeFunction"]["Properties"]["InvokedViaFunctionUrl"] is True


def test_a_local_direct_upload_put_goes_to_the_api_and_a_photo_url_to_the_function_url() -> None:
    # the URLs the code mints, on the CDN's base (PublicBaseUrl = CdnPublicBaseUrl)
    signer = Signer("s" * 32, 3600, "https://d111.cloudfront.net/api/storage")
    staged = f"{STAGING_PREFIX}users/demo-user/0b5c7a36-1111-4222-8333-944455556666.jpg"
    put = signer.put_url(USER_ASSETS, staged, now=0, ttl=900).url
    photo = signer.photo_url(USER_ASSETS, "users/demo-user/profile-picture/a.jpg", now=0).url
    small = signer.photo_url(USER_ASSETS, "users/staging/profile-picture/a.small.webp", now=0)

    put_behavior = behavior_for(put.split(".net", 1)[1].split("?")[0])
    assert put_behavior is UPLOAD_BEHAVIOR
    assert BEHAVIORS.index(UPLOAD_BEHAVIOR) < BEHAVIORS.index(SIGNED_BEHAVIOR)
    assert UPLOAD_BEHAVIOR["TargetOriginId"] == "api"
    assert {"PUT", "OPTIONS"} <= set(UPLOAD_BEHAVIOR["AllowedMethods"])
    assert UPLOAD_BEHAVIOR["OriginRequestPolicyId"] == {"Ref": _logical_id(ORIGIN_POLICY)}
    assert UPLOAD_BEHAVIOR["CachePolicyId"] == {"Ref": _logical_id(CACHE_POLICY)}
    # every photo URL, a user named "staging" included, misses to the function URL
    for url in (photo, small.url):
        assert behavior_for(url.split(".net", 1)[1].split("?")[0]) is SIGNED_BEHAVIOR
