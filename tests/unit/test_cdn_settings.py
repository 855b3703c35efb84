"""`CDN_DISTRIBUTION_PARAMETER`: the SSM parameter naming the CDN to purge, checked at start."""

from __future__ import annotations

import pytest

from devkit.defaults import DEV_ENV
from profile_photos.settings import SettingsError, load_settings


@pytest.mark.parametrize("value", ["", "   "])
def test_unset_or_blank_means_no_cdn(value: str) -> None:
    assert load_settings({**DEV_ENV}).cdn_distribution_parameter is None
    env = {**DEV_ENV, "CDN_DISTRIBUTION_PARAMETER": value}
    assert load_settings(env).cdn_distribution_parameter is None


@pytest.mark.parametrize(
    "name", ["/profile-photos/profile-photos-prod/cdn-distribution-id", "cdn_id", "/a/b.c-d_e"]
)
def test_a_parameter_name_is_kept(name: str) -> None:
    env = {**DEV_ENV, "CDN_DISTRIBUTION_PARAMETER": name}

    assert load_settings(env).cdn_distribution_parameter == name


@pytest.mark.parametrize(
    "name",
    ["/a//b", "/a/b/", "arn:aws:ssm:eu-west-1:1:parameter/x", "a b", "/a/*", "/" + "a" * 1011],
)
def test_a_name_ssm_would_refuse_stops_the_function_at_start(name: str) -> None:
    env = {**DEV_ENV, "CDN_DISTRIBUTION_PARAMETER": name}

    with pytest.raises(SettingsError, match="CDN_DISTRIBUTION_PARAMETER must be an SSM parameter"):
        load_settings(env)
