"""Settings from the environment: defaults, and one clear error naming every bad value."""

from __future__ import annotations

from pathlib import Path

import pytest

from profile_photos.settings import SettingsError, load_settings

BASE = {"LOCAL_STORAGE_SECRET": "s" * 32, "JWT_SECRET": "j" * 32}


def refused(**env: str) -> str:
    with pytest.raises(SettingsError) as caught:
        load_settings(BASE | env)
    return str(caught.value)


def test_defaults() -> None:
    settings = load_settings(BASE)

    assert settings.object_storage_provider == "LOCAL"
    assert settings.signed_url_ttl_seconds == 3600
    assert settings.retention_active_limit == 5
    assert (settings.rate_limit_per_minute, settings.rate_limit_per_hour) == (100, 1000)
    assert settings.max_file_size == 5242880
    assert settings.allowed_extensions == ("jpg", "jpeg", "png", "gif", "webp", "heic", "heif")
    assert settings.local_storage_base_path == Path("./data/object-storage").absolute()
    assert settings.local_storage_base_url is None
    assert settings.graphql_introspection is False


def test_base_path_follows_dev_data_dir_and_base_url_loses_its_trailing_slash() -> None:
    settings = load_settings(
        BASE | {"DEV_DATA_DIR": "/srv/pp", "LOCAL_STORAGE_BASE_URL": "https://x.example/api/"}
    )

    assert settings.local_storage_base_path == Path("/srv/pp/object-storage")
    assert settings.local_storage_base_url == "https://x.example/api"


def test_short_storage_secret_refuses_to_start() -> None:
    message = refused(LOCAL_STORAGE_SECRET="too-short")

    assert "LOCAL_STORAGE_SECRET must be at least 32 characters" in message
    assert "got 9" in message


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"JWT_SECRET": ""}, "set JWT_SECRET (HS256) or JWT_JWKS_URL (RS256/ES256)"),
        ({"JWT_SECRET": "short"}, "JWT_SECRET must be at least 32 characters"),
        ({"JWT_JWKS_URL": "ftp://x"}, "JWT_JWKS_URL must be an http(s) URL"),
        ({"SIGNED_URL_TTL_SECONDS": "soon"}, "SIGNED_URL_TTL_SECONDS must be an integer"),
        ({"SIGNED_URL_TTL_SECONDS": "0"}, "SIGNED_URL_TTL_SECONDS must be >= 1"),
        ({"SIGNED_URL_TTL_SECONDS": "604801"}, "and <= 604800"),
        ({"RETENTION_ACTIVE_LIMIT": "-1"}, "RETENTION_ACTIVE_LIMIT must be >= 1"),
        ({"RATE_LIMIT_PER_MINUTE": "1.5"}, "RATE_LIMIT_PER_MINUTE must be an integer"),
        ({"LOCAL_STORAGE_MAX_FILE_SIZE": "0"}, "LOCAL_STORAGE_MAX_FILE_SIZE must be >= 1"),
        ({"OBJECT_STORAGE_PROVIDER": "S3"}, "OBJECT_STORAGE_PROVIDER must be LOCAL or R2"),
        (
            {"LOCAL_STORAGE_ALLOWED_EXTENSIONS": "jpg,bmp,tiff"},
            "types the service cannot verify: bmp, tiff",
        ),
        ({"LOCAL_STORAGE_BASE_URL": "example.com"}, "LOCAL_STORAGE_BASE_URL must be an http(s)"),
        ({"GRAPHQL_INTROSPECTION": "maybe"}, "GRAPHQL_INTROSPECTION must be true or false"),
    ],
)
def test_bad_values_are_named(env: dict[str, str], fragment: str) -> None:
    assert fragment in refused(**env)


def test_every_problem_is_reported_at_once() -> None:
    message = refused(LOCAL_STORAGE_SECRET="x", RETENTION_ACTIVE_LIMIT="zero", JWT_SECRET="")

    assert message.startswith("invalid configuration: ")
    for name in ("LOCAL_STORAGE_SECRET", "RETENTION_ACTIVE_LIMIT", "JWT_SECRET"):
        assert name in message


def test_allowed_extensions_are_normalised() -> None:
    settings = load_settings(BASE | {"LOCAL_STORAGE_ALLOWED_EXTENSIONS": " .PNG, jpg ,png,"})

    assert settings.allowed_extensions == ("png", "jpg")
    assert settings.allowed_content_types == {"image/png", "image/jpeg"}


def test_r2_needs_its_credentials_and_bucket() -> None:
    message = refused(OBJECT_STORAGE_PROVIDER="R2")

    assert (
        "OBJECT_STORAGE_PROVIDER=R2 needs R2_ACCOUNT_ID, R2_ACCESS_KEY_ID, "
        "R2_SECRET_ACCESS_KEY, R2_USER_ASSETS_BUCKET" in message
    )


R2 = BASE | {
    "OBJECT_STORAGE_PROVIDER": "r2",
    "R2_ACCESS_KEY_ID": "k",
    "R2_SECRET_ACCESS_KEY": "s",
    "R2_USER_ASSETS_BUCKET": "b",
}


def test_r2_endpoint_from_the_account_id_or_the_override() -> None:
    assert (
        load_settings(R2 | {"R2_ACCOUNT_ID": "abc123"}).r2_endpoint
        == "https://abc123.r2.cloudflarestorage.com"
    )
    override = load_settings(R2 | {"R2_ENDPOINT_URL": "http://127.0.0.1:5000"})
    assert override.r2_endpoint == "http://127.0.0.1:5000"
    assert override.object_storage_provider == "R2"
