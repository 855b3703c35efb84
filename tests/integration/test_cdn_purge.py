"""The CDN purge under moto's CloudFront and SSM: what an erasure or a crop change asks of it.

With a distribution (its id in the SSM parameter the template names in
`CDN_DISTRIBUTION_PARAMETER`), `Services.cdn.purge` creates one invalidation on it with
exactly the photos' wildcard paths and returns its id; without one it calls nothing and its
receipt says so; CloudFront or SSM failing is `DependencyUnavailable` (the mutation's 503).
Failures are injected with a botocore `before-call` hook (`testkit.aws_calls`), raising
what botocore raises once its retries are spent, as `faults_matrix` does.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, ReadTimeoutError
from moto import mock_aws

from devkit.defaults import DEV_ENV
from devkit.template import load_template
from profile_photos.errors import DependencyUnavailable
from profile_photos.services import Services, reset, services
from profile_photos.store.cdn import PurgeReceipt, photo_paths, user_paths
from testkit import aws_calls

PARAMETER = "/profile-photos/profile-photos-local/cdn-distribution-id"
USER, OTHER = "user-1", "user-2"
ASSET = "0b5c7a36-1111-4222-8333-444455556666"
ASSETS = [str(uuid.UUID(int=n)) for n in range(1, 4)]

# (service, operation) -> the exception the next such call raises; every call is listed,
# with its parameters
_FAULTS: dict[tuple[str, str], Exception] = {}
_CALLS: list[tuple[str, str]] = []
_PARAMS: list[tuple[str, str, dict[str, Any]]] = []


def _before_parameter_build(model: Any, params: dict[str, Any], **_: Any) -> None:
    _PARAMS.append((model.service_model.service_name, model.name, dict(params)))


def _before_call(model: Any, **_: Any) -> None:
    site = (model.service_model.service_name, model.name)
    _CALLS.append(site)
    fault = _FAULTS.pop(site, None)
    if fault is not None:
        raise fault


aws_calls.hook("before-parameter-build", _before_parameter_build)
aws_calls.hook("before-call", _before_call)


def client_error(code: str, status: int, operation: str) -> ClientError:
    response = {
        "Error": {"Code": code, "Message": code},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, operation)  # type: ignore[arg-type]


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in DEV_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("CDN_DISTRIBUTION_PARAMETER", raising=False)
    _FAULTS.clear()
    _CALLS.clear()
    _PARAMS.clear()
    reset()
    with mock_aws():
        yield
    _FAULTS.clear()
    reset()


def create_distribution() -> str:
    """A distribution in front of an API, as the template's CdnDistribution (moto's)."""
    answer = boto3.client("cloudfront").create_distribution(
        DistributionConfig={
            "CallerReference": uuid.uuid4().hex,
            "Comment": "signed photo URLs",
            "Enabled": True,
            "Origins": {
                "Quantity": 1,
                "Items": [
                    {
                        "Id": "api",
                        "DomainName": "abc123.execute-api.eu-west-1.amazonaws.com",
                        "OriginPath": "/prod",
                        "CustomOriginConfig": {
                            "HTTPPort": 80,
                            "HTTPSPort": 443,
                            "OriginProtocolPolicy": "https-only",
                        },
                    }
                ],
            },
            "DefaultCacheBehavior": {
                "TargetOriginId": "api",
                "ViewerProtocolPolicy": "redirect-to-https",
            },
        }
    )
    return str(answer["Distribution"]["Id"])


@pytest.fixture
def distribution(aws: None, monkeypatch: pytest.MonkeyPatch) -> str:
    """A CDN as EnableCdn deploys it: the distribution, the parameter naming it, the env."""
    distribution_id = create_distribution()
    boto3.client("ssm").put_parameter(Name=PARAMETER, Value=distribution_id, Type="String")
    monkeypatch.setenv("CDN_DISTRIBUTION_PARAMETER", PARAMETER)
    reset()
    _CALLS.clear()  # what the test's own code calls from here on
    _PARAMS.clear()
    return distribution_id


def invalidations(distribution_id: str) -> list[dict[str, Any]]:
    """Every invalidation of the distribution, with its paths."""
    cloudfront = boto3.client("cloudfront")
    listed = cloudfront.list_invalidations(DistributionId=distribution_id)["InvalidationList"]
    return [
        cloudfront.get_invalidation(DistributionId=distribution_id, Id=item["Id"])["Invalidation"]
        for item in listed.get("Items", [])
    ]


def purged_paths(invalidation: dict[str, Any]) -> list[str]:
    return list(invalidation["InvalidationBatch"]["Paths"]["Items"])


# ------------------------------------------------------------------------------- paths


def test_a_photos_paths_are_one_wildcard_under_the_signed_route() -> None:
    assert photo_paths("user-assets", USER, ASSET) == [
        f"/api/storage/signed/user-assets/users/{USER}/profile-picture/{ASSET}*"
    ]
    assert user_paths("user-assets", USER) == [f"/api/storage/signed/user-assets/users/{USER}/*"]


# ------------------------------------------------------------------------------- with a CDN


def test_a_purge_creates_one_invalidation_of_exactly_the_photos_paths(distribution: str) -> None:
    # Given a CDN, when one photo is purged
    paths = photo_paths("user-assets", USER, ASSET)
    receipt = services().cdn.purge(paths)

    # Then CloudFront has one invalidation with exactly its wildcard path, whose id the
    # receipt carries
    (invalidation,) = invalidations(distribution)
    assert purged_paths(invalidation) == paths
    assert receipt == PurgeReceipt(cdn=True, invalidation_id=invalidation["Id"], paths=paths)


def test_many_photos_are_purged_in_one_invalidation(distribution: str) -> None:
    # Given several photos, as deleteAllProfilePhotos erases them
    paths = [path for asset in ASSETS for path in photo_paths("user-assets", USER, asset)]

    receipt = services().cdn.purge(paths)

    (invalidation,) = invalidations(distribution)
    assert sorted(purged_paths(invalidation)) == sorted(paths)
    assert receipt.cdn
    assert receipt.paths == paths
    assert _CALLS.count(("cloudfront", "CreateInvalidation")) == 1


def test_each_purge_is_a_new_invalidation(distribution: str) -> None:
    # the CallerReference is new per call: CloudFront would answer a repeated one with the
    # first invalidation and purge nothing the second time
    first = services().cdn.purge(photo_paths("user-assets", USER, ASSET))
    second = services().cdn.purge(photo_paths("user-assets", USER, ASSET))

    assert first.invalidation_id != second.invalidation_id
    assert len(invalidations(distribution)) == 2


def test_the_distribution_id_is_read_once_per_container(distribution: str) -> None:
    cdn = services().cdn
    for asset in ASSETS:
        cdn.purge(photo_paths("user-assets", OTHER, asset))

    assert _CALLS.count(("ssm", "GetParameter")) == 1
    assert len(invalidations(distribution)) == len(ASSETS)


def test_nothing_to_purge_calls_nothing(distribution: str) -> None:
    receipt = services().cdn.purge([])

    assert receipt == PurgeReceipt(cdn=False, invalidation_id=None, paths=[])
    assert _CALLS == []
    assert invalidations(distribution) == []


# ------------------------------------------------------------------------------- without


def test_without_a_cdn_the_receipt_says_so_and_nothing_is_called(aws: None) -> None:
    # Given a distribution that exists, but a deployment without EnableCdn (no parameter)
    distribution_id = create_distribution()
    _CALLS.clear()
    paths = photo_paths("user-assets", USER, ASSET)

    receipt = services().cdn.purge(paths)

    assert receipt == PurgeReceipt(cdn=False, invalidation_id=None, paths=paths)
    assert _CALLS == []
    assert invalidations(distribution_id) == []


# ------------------------------------------------------------------------------- failures


@pytest.mark.parametrize(
    "fault",
    [
        client_error("Throttling", 400, "CreateInvalidation"),
        client_error("ServiceUnavailable", 503, "CreateInvalidation"),
        client_error("TooManyInvalidationsInProgress", 400, "CreateInvalidation"),
        client_error("AccessDenied", 403, "CreateInvalidation"),
        ReadTimeoutError(endpoint_url="https://cloudfront.amazonaws.com"),
    ],
    ids=["throttled", "5xx", "too-many-in-progress", "access-denied", "timeout"],
)
def test_cloudfront_failing_is_a_dependency_unavailable(
    distribution: str, fault: Exception
) -> None:
    _FAULTS[("cloudfront", "CreateInvalidation")] = fault

    with pytest.raises(DependencyUnavailable):
        services().cdn.purge(photo_paths("user-assets", USER, ASSET))

    # and the retry the client makes purges
    receipt = services().cdn.purge(photo_paths("user-assets", USER, ASSET))
    (invalidation,) = invalidations(distribution)
    assert receipt.invalidation_id == invalidation["Id"]


@pytest.mark.parametrize(
    "fault",
    [
        client_error("ThrottlingException", 400, "GetParameter"),
        client_error("InternalServerError", 500, "GetParameter"),
        ReadTimeoutError(endpoint_url="https://ssm.eu-west-1.amazonaws.com"),
    ],
    ids=["throttled", "5xx", "timeout"],
)
def test_the_parameter_store_failing_is_a_dependency_unavailable(
    distribution: str, fault: Exception
) -> None:
    _FAULTS[("ssm", "GetParameter")] = fault

    with pytest.raises(DependencyUnavailable):
        services().cdn.purge(photo_paths("user-assets", USER, ASSET))

    assert invalidations(distribution) == []
    # a failed read is not remembered: the next purge reads the id and purges
    assert services().cdn.purge(photo_paths("user-assets", USER, ASSET)).cdn


def test_a_missing_parameter_is_a_dependency_unavailable_not_a_silent_skip(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # an erasure must not answer while a CDN it cannot name may still serve the photo
    create_distribution()
    monkeypatch.setenv("CDN_DISTRIBUTION_PARAMETER", "/profile-photos/nowhere/cdn-distribution-id")
    reset()

    with pytest.raises(DependencyUnavailable):
        services().cdn.purge(photo_paths("user-assets", USER, ASSET))


def test_the_cloudfront_and_ssm_clients_use_their_timeouts(distribution: str) -> None:
    from profile_photos.store import aws
    from profile_photos.store.cdn import cloudfront_client, ssm_client

    for client, timeouts in ((cloudfront_client(), aws.CDN), (ssm_client(), aws.PARAMETERS)):
        config = client.meta.config
        assert (config.connect_timeout, config.read_timeout) == (timeouts.connect, timeouts.read)
        assert config.retries == {"mode": "standard", "total_max_attempts": timeouts.attempts}


def test_services_built_from_settings_carry_the_purger(distribution: str) -> None:
    from profile_photos.settings import get_settings

    built = Services.build(get_settings())

    assert built.cdn.purge(photo_paths("user-assets", USER, ASSET)).cdn


# ------------------------------------------------------------------------------- IAM


def test_the_purges_calls_are_exactly_what_the_purge_policy_grants(distribution: str) -> None:
    """Least privilege for the calls the integration suite's recorder cannot attribute (the
    purge is not wired to a handler here, and moto names the distribution): each call the
    purge makes is allowed by the template's CdnPurgePolicy, with its intrinsics resolved
    to this distribution and parameter, and each grant is used."""
    from tests.template.iam_check import Statement, allows, resource_matches

    services().cdn.purge(photo_paths("user-assets", USER, ASSET))

    region, account = (
        os.environ["AWS_DEFAULT_REGION"],
        os.environ.get("MOTO_ACCOUNT_ID", "123456789012"),
    )
    needed = set()
    for service, operation, params in _PARAMS:
        if (service, operation) == ("cloudfront", "CreateInvalidation"):
            arn = f"arn:aws:cloudfront::{account}:distribution/{params['DistributionId']}"
            needed.add(("cloudfront:CreateInvalidation", arn))
        elif (service, operation) == ("ssm", "GetParameter"):
            arn = f"arn:aws:ssm:{region}:{account}:parameter/{params['Name'].lstrip('/')}"
            needed.add(("ssm:GetParameter", arn))
        else:
            raise AssertionError(f"the purge called {service}:{operation}")
    values = {
        "AWS::Partition": "aws",
        "AWS::AccountId": account,
        "AWS::Region": region,
        "CdnDistribution": distribution,  # Ref: the distribution's id
        "CdnDistributionParameter": PARAMETER,  # Ref: the parameter's name
    }
    template = load_template()["Resources"]["CdnPurgePolicy"]["Properties"]["PolicyDocument"]
    statements = [
        Statement(
            s["Sid"],
            s["Effect"],
            (s["Action"],),
            (re.sub(r"\$\{([^}]+)\}", lambda m: values[m[1]], s["Resource"]["Fn::Sub"]),),
        )
        for s in template["Statement"]
    ]

    assert needed == {
        (
            "cloudfront:CreateInvalidation",
            f"arn:aws:cloudfront::{account}:distribution/{distribution}",
        ),
        ("ssm:GetParameter", f"arn:aws:ssm:{region}:{account}:parameter{PARAMETER}"),
    }
    assert all(allows(statements, action, arn) for action, arn in needed)
    for statement in statements:
        assert any(
            statement.actions == (action,) and resource_matches(statement.resources[0], arn)
            for action, arn in needed
        ), statement.sid
