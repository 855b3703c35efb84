"""The store's botocore session lists only the services it calls (`store.aws`'s loader), so a
container's first client does not walk every service folder of botocore's data, and still
loads exactly what botocore's own loader loads for those services; S3's model is cut down to
the operations the R2 provider calls (`store.endpoints`), and each of them still works."""

from __future__ import annotations

import botocore.loaders
import botocore.session
import pytest
from botocore.exceptions import UnknownServiceError

from profile_photos.errors import NotFound
from profile_photos.store import aws, endpoints


def test_the_session_knows_only_the_kept_services(fresh_session: None) -> None:
    loader = aws.session().get_component("data_loader")
    for type_name in ("service-2", "endpoint-rule-set-1"):
        assert loader.list_available_services(type_name) == sorted(endpoints.KEPT)


@pytest.mark.parametrize("service", sorted(endpoints.KEPT))
def test_a_kept_service_loads_what_botocore_loads(fresh_session: None, service: str) -> None:
    ours = aws.session().get_component("data_loader")
    theirs = botocore.loaders.create_loader()  # its own: see the test below
    for type_name in ("service-2", "endpoint-rule-set-1"):
        if (service, type_name) == ("s3", "service-2"):
            continue  # cut down to the operations R2 is called with: the tests below
        assert ours.load_service_model(service, type_name) == theirs.load_service_model(
            service, type_name
        )


def test_another_service_is_unknown_to_the_store(fresh_session: None) -> None:
    with pytest.raises(UnknownServiceError):
        aws.session().create_client("sqs", region_name="eu-west-1")


def test_the_s3_copy_is_what_the_installed_botocore_cuts_down_to() -> None:
    # When this fails after a botocore upgrade: python -m profile_photos.store.endpoints
    assert endpoints.S3_MODEL.read_text() == endpoints.render_model(
        endpoints.trimmed_model(endpoints.installed_s3_model(), endpoints.S3_OPERATIONS)
    )


def test_the_s3_client_has_the_kept_operations_as_botocore_defines_them(
    fresh_session: None,
) -> None:
    ours = aws.session().get_component("data_loader").load_service_model("s3", "service-2")
    # a loader of its own: the tests share one per process (tests/conftest.py), and creating
    # an S3 client rewrites the loaded model in place (botocore.handlers drops `{Bucket}`
    # from the paths), so the shared one depends on the clients this worker made before
    full = botocore.loaders.create_loader().load_service_model("s3", "service-2")
    assert set(ours["operations"]) == endpoints.S3_OPERATIONS
    assert ours == endpoints.trimmed_model(full, endpoints.S3_OPERATIONS)


R2_ENDPOINT = "https://account.r2.cloudflarestorage.com"


def test_every_r2_call_and_presign_works_on_the_cut_down_model(
    fresh_session: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOTO_S3_CUSTOM_ENDPOINTS", R2_ENDPOINT)
    from moto import mock_aws

    from profile_photos.settings import load_settings
    from profile_photos.store.storage.r2 import R2Storage, r2_client

    settings = load_settings(
        {
            "OBJECT_STORAGE_PROVIDER": "R2",
            "R2_ENDPOINT_URL": R2_ENDPOINT,
            "R2_ACCESS_KEY_ID": "id",
            "R2_SECRET_ACCESS_KEY": "secret",
            "R2_USER_ASSETS_BUCKET": "user-assets",
            "LOCAL_STORAGE_SECRET": "s" * 40,
            "JWT_SECRET": "j" * 40,
        }
    )
    with mock_aws():
        client = r2_client(settings)
        botocore.session.Session().create_client(
            "s3", region_name="us-east-1", endpoint_url=R2_ENDPOINT
        ).create_bucket(Bucket="user-assets")
        storage = R2Storage(client, {"user-assets": "user-assets"})
        storage.put("user-assets", "users/u/a.jpg", b"jpeg", "image/jpeg", {"k": "v"})
        read = storage.read("user-assets", "users/u/a.jpg")
        head = storage.read("user-assets", "users/u/a.jpg", include_body=False)
        assert (read.body, read.content_type, read.metadata) == (b"jpeg", "image/jpeg", {"k": "v"})
        assert head.size == 4
        assert head.etag == read.etag
        assert "X-Amz-Signature=" in storage.presigned_get("user-assets", "users/u/a.jpg", 60)
        url, headers = storage.presigned_put(
            "user-assets",
            "users/u/b.jpg",
            content_type="image/jpeg",
            size=4,
            metadata={},
            expires_in=60,
        )
        assert "X-Amz-Signature=" in url
        assert headers["If-None-Match"] == "*"
        storage.delete("user-assets", "users/u/a.jpg")
        with pytest.raises(NotFound):
            storage.read("user-assets", "users/u/a.jpg")
