"""The store's cut-down endpoints.json (`profile_photos.store.endpoints`): the installed
botocore's own file with only our services, which resolve exactly as with the full file."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import BotoCoreError
from botocore.regions import EndpointResolver

from profile_photos.store import aws, endpoints


def test_the_copy_is_what_the_installed_botocore_cuts_down_to() -> None:
    # When this fails after a botocore upgrade: python -m profile_photos.store.endpoints
    assert endpoints.ENDPOINTS.read_text() == endpoints.render(
        endpoints.trimmed(endpoints.installed())
    )


def test_every_client_the_store_makes_is_of_a_kept_service() -> None:
    assert set(aws.CLIENTS) <= endpoints.KEPT


def resolve(resolver: EndpointResolver, service: str, region: str, variant: dict[str, bool]) -> Any:
    """What `resolver` answers, or the kind of error it raises (a variant a region lacks)."""
    try:
        return resolver.construct_endpoint(service, region, **variant)
    except BotoCoreError as error:
        return type(error).__name__


def test_kept_services_resolve_as_with_the_full_file_in_every_region() -> None:
    full = endpoints.installed()
    ours = json.loads(endpoints.ENDPOINTS.read_text())
    resolvers = EndpointResolver(full), EndpointResolver(ours)
    checked = 0
    for partition in full["partitions"]:
        for region in partition["regions"]:
            for service in sorted(endpoints.KEPT):
                for variant in ({}, {"use_fips_endpoint": True}, {"use_dualstack_endpoint": True}):
                    expected, got = (
                        resolve(resolver, service, region, variant) for resolver in resolvers
                    )
                    assert got == expected, (service, region, variant)
                    checked += 1
    assert checked > 500


def test_the_session_reads_the_copy_and_builds_the_same_clients(fresh_session: None) -> None:
    import botocore.session

    loader = aws.session().get_component("data_loader")
    assert loader.search_paths[0] == str(endpoints.FOLDER)
    plain = botocore.session.Session()
    for service in sorted(endpoints.KEPT):
        for region in ("eu-west-1", "us-east-1", "cn-north-1", "us-gov-west-1"):
            ours = aws.client(service, region_name=region)
            theirs = plain.create_client(service, region_name=region)
            assert ours.meta.endpoint_url == theirs.meta.endpoint_url, (service, region)
            assert ours.meta.region_name == theirs.meta.region_name
            assert ours.meta.partition == theirs.meta.partition


def test_a_data_path_set_by_the_environment_is_kept_behind_ours(
    fresh_session: None, monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    monkeypatch.setenv("AWS_DATA_PATH", str(tmp_path))
    paths = aws.session().get_component("data_loader").search_paths
    assert paths[:2] == [str(endpoints.FOLDER), str(tmp_path)]
