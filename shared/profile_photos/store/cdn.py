"""Purging a photo's URLs from the CDN (CloudFront, with `EnableCdn`), so an erased photo, or
a re-cropped photo's old squares, stop serving from the CDN before the mutation answers.

**Paths.** A signed URL is `{base_url}/signed/{bucket}/{key}?token=...` (`signing`), and
with the CDN the base URL is the distribution's `/api/storage` (the template's
`CdnPublicBaseUrl`), so CloudFront sees `/api/storage/signed/{bucket}/{key}`. Every key of
one photo (its original, each size, square or not, any crop version) starts with
`users/{sub}/profile-picture/{assetId}` (`uploads`, `renditions`): one wildcard path,
`.../{assetId}*`, covers them all, whatever token a URL carried (the token is a query
string, and an invalidation drops every cached query string of a path). The path is quoted
as the URL was (`urllib.parse.quote`, as `signing` does): CloudFront matches invalidation
paths against what viewers requested, and a `*` inside an id is quoted to `%2A`, never a
wildcard. CloudFront allows the `*` only at the end, and at most 15 wildcard paths in
progress per distribution: `user_paths` gives one path for all of a user's photos, for
an erasure of many.

**One call.** `purge` sends every path in one `CreateInvalidation` (up to 3,000 paths, 15
with a wildcard, in progress at once). Its `CallerReference` is new per call: botocore's
retry of the same request reuses it, so a retried request cannot start a second
invalidation, and a new purge always starts one. CloudFront answers once the invalidation
is recorded (it completes at the edges within minutes); the receipt carries its id.

**Which distribution.** The GraphQL function cannot name the distribution in its
environment (distribution -> API -> function -> distribution is a cycle CloudFormation
refuses), so the template stores the distribution's id in an SSM parameter and gives the
function the parameter's fixed name, `CDN_DISTRIBUTION_PARAMETER`. The id is read with
Powertools' parameters utility on the first purge of a container and kept
`DISTRIBUTION_MAX_AGE` seconds (a replaced distribution is seen within that). Unset: no
CDN, and `purge` says so in its receipt without calling anything.

**Failures.** CloudFront or SSM throttled, failing, unreachable or refusing (a missing
parameter, a distribution with too many invalidations in progress) is
`DependencyUnavailable`: the mutation answers 503 and the client retries it (erasure is
idempotent), so no erasure answers while the CDN may still serve the photo.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from profile_photos.errors import DependencyUnavailable
from profile_photos.observability import logger
from profile_photos.settings import Settings

# The signed route as CloudFront sees it: CdnPublicBaseUrl's path plus `/signed`
# (tests/template/test_cdn_purge.py holds it to the template's route and cache behaviour).
SIGNED_ROUTE = "/api/storage/signed"
DISTRIBUTION_MAX_AGE = 300  # seconds a container keeps the distribution's id
CDN_UNAVAILABLE = "The CDN is unavailable, retry later"


@dataclass(frozen=True, slots=True)
class PurgeReceipt:
    """What a purge did: `cdn` a CDN was purged, `invalidation_id` CloudFront's id of it
    (None without a CDN), `paths` the paths purged (or that would have been)."""

    cdn: bool
    invalidation_id: str | None
    paths: list[str]


def photo_paths(bucket: str, user_id: str, asset_id: str) -> list[str]:
    """The CDN paths of every URL of one photo: one wildcard path."""
    return [_wildcard(bucket, f"users/{user_id}/profile-picture/{asset_id}")]


def user_paths(bucket: str, user_id: str) -> list[str]:
    """The CDN paths of every URL of all of a user's photos: one wildcard path."""
    return [_wildcard(bucket, f"users/{user_id}/")]


def _wildcard(bucket: str, key_prefix: str) -> str:
    return f"{SIGNED_ROUTE}/{quote(bucket)}/{quote(key_prefix)}*"


@dataclass(frozen=True, slots=True)
class Cdn:
    """The purger: `distribution()` is the CloudFront distribution's id (None: no CDN),
    `client()` a CloudFront client; both made on first use."""

    distribution: Callable[[], str | None]
    client: Callable[[], Any]

    def purge(self, paths: list[str]) -> PurgeReceipt:
        """Invalidate `paths` in one `CreateInvalidation`; without a CDN (or without paths)
        call nothing and say so. CloudFront's or SSM's failure: `DependencyUnavailable`."""
        paths = list(dict.fromkeys(paths))
        distribution = self.distribution() if paths else None
        if distribution is None:
            return PurgeReceipt(cdn=False, invalidation_id=None, paths=paths)
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer = self.client().create_invalidation(
                DistributionId=distribution,
                InvalidationBatch={
                    "Paths": {"Quantity": len(paths), "Items": paths},
                    "CallerReference": uuid.uuid4().hex,
                },
            )
        except (BotoCoreError, ClientError) as exc:
            raise DependencyUnavailable(CDN_UNAVAILABLE) from exc
        invalidation_id = answer["Invalidation"]["Id"]
        logger.info("CDN purged", extra={"invalidation": invalidation_id, "paths": len(paths)})
        return PurgeReceipt(cdn=True, invalidation_id=invalidation_id, paths=paths)


def open_cdn(settings: Settings) -> Cdn:
    """The purger for `settings`: CloudFront through the distribution whose id the SSM
    parameter `settings.cdn_distribution_parameter` holds; unset, no CDN (and no client is
    ever made)."""
    parameter = settings.cdn_distribution_parameter
    if parameter is None:
        return Cdn(distribution=lambda: None, client=cloudfront_client)
    provider = functools.cache(_ssm_provider)
    return Cdn(
        distribution=functools.partial(_distribution_id, provider, parameter),
        client=functools.cache(cloudfront_client),
    )


def _distribution_id(provider: Callable[[], Any], parameter: str) -> str:
    """The id the parameter holds, through Powertools' cache (`DISTRIBUTION_MAX_AGE`)."""
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

    try:
        value = provider().get(parameter, max_age=DISTRIBUTION_MAX_AGE)
    except GetParameterError as exc:
        raise DependencyUnavailable(CDN_UNAVAILABLE) from exc
    if not isinstance(value, str) or not value.strip():
        raise DependencyUnavailable(CDN_UNAVAILABLE)
    return value.strip()


def _ssm_provider() -> Any:
    """Powertools' SSM provider (it caches what it reads) on an SSM client with the store's
    timeouts: its own default client would wait botocore's 60 s to connect and to read."""
    from aws_lambda_powertools.utilities.parameters import SSMProvider

    return SSMProvider(boto3_client=ssm_client())


def ssm_client() -> Any:
    """An SSM client on the container's botocore session, with `store.aws.PARAMETERS`."""
    from profile_photos.store.aws import client

    return client("ssm")


def cloudfront_client() -> Any:
    """A CloudFront client on the container's botocore session, with `store.aws.CDN`."""
    from profile_photos.store.aws import client

    return client("cloudfront")
