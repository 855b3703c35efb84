"""Settings from the environment: documented defaults, and one error naming every bad value.

One file: every variable's default, parsing and refusal against the one settings builder, so a
new variable's tests sit beside the others'.

An operator sees a `SettingsError` when a function refuses to start; its message must name
each variable to fix, all at once.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from profile_photos.settings import SettingsError, get_settings, load_settings

STORAGE_SECRET = "s" * 32
JWT_SECRET = "j" * 32
# The smallest environment a LOCAL deployment starts with.
BASE = {"LOCAL_STORAGE_SECRET": STORAGE_SECRET, "JWT_SECRET": JWT_SECRET}
R2_CREDENTIALS = {
    "OBJECT_STORAGE_PROVIDER": "R2",
    "R2_ACCOUNT_ID": "0123456789abcdef",
    "R2_ACCESS_KEY_ID": "key-id",
    "R2_SECRET_ACCESS_KEY": "key-secret",
    "R2_USER_ASSETS_BUCKET": "user-assets",
}
INTEGER_VARIABLES = [
    "SIGNED_URL_TTL_SECONDS",
    "SIGNED_URL_WINDOW_SECONDS",
    "RETENTION_ACTIVE_LIMIT",
    "RATE_LIMIT_PER_MINUTE",
    "RATE_LIMIT_PER_HOUR",
    "LOCAL_STORAGE_MAX_FILE_SIZE",
]


def refusal(env: dict[str, str]) -> str:
    """The message an operator sees when the function refuses to start."""
    with pytest.raises(SettingsError) as caught:
        load_settings(env)
    return str(caught.value)


# --- defaults ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attribute", "expected"),
    [
        ("object_storage_provider", "LOCAL"),
        ("signed_url_ttl_seconds", 3600),
        ("signed_url_window_seconds", 300),
        ("retention_active_limit", 5),
        ("rate_limit_per_minute", 100),
        ("rate_limit_per_hour", 1000),
        ("allowed_extensions", ("jpg", "jpeg", "png", "gif", "webp", "heic", "heif")),
        ("max_file_size", 5242880),
        ("local_storage_base_url", None),
        ("r2_endpoint_url", None),
        ("jwt_jwks_url", None),
        ("jwt_issuer", None),
        ("jwt_audience", None),
    ],
)
def test_defaults(attribute: str, expected: object) -> None:
    assert getattr(load_settings(BASE), attribute) == expected


def test_the_default_allow_list_maps_to_the_six_image_types() -> None:
    assert load_settings(BASE).allowed_content_types == {
        "image/jpeg",
        "image/png",
        "image/gif",
        "image/webp",
        "image/heic",
        "image/heif",
    }


@pytest.mark.parametrize(
    ("variable", "attribute", "value"),
    [
        ("SIGNED_URL_TTL_SECONDS", "signed_url_ttl_seconds", 900),
        ("SIGNED_URL_WINDOW_SECONDS", "signed_url_window_seconds", 60),
        ("RETENTION_ACTIVE_LIMIT", "retention_active_limit", 1),
        ("RATE_LIMIT_PER_MINUTE", "rate_limit_per_minute", 7),
        ("RATE_LIMIT_PER_HOUR", "rate_limit_per_hour", 70),
        ("LOCAL_STORAGE_MAX_FILE_SIZE", "max_file_size", 1048576),
    ],
)
def test_integers_are_read_from_the_environment(variable: str, attribute: str, value: int) -> None:
    settings = load_settings(BASE | {variable: f" {value} "})

    assert getattr(settings, attribute) == value


@pytest.mark.parametrize("variable", INTEGER_VARIABLES)
def test_an_empty_integer_variable_means_the_default(variable: str) -> None:
    assert load_settings(BASE | {variable: ""}) == load_settings(BASE)


# --- storage paths -------------------------------------------------------------------------


def test_the_storage_path_defaults_to_data_object_storage_under_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    assert load_settings(BASE).local_storage_base_path == tmp_path / "data" / "object-storage"


def test_the_storage_path_follows_dev_data_dir(tmp_path: Path) -> None:
    settings = load_settings(BASE | {"DEV_DATA_DIR": str(tmp_path / "dev")})

    assert settings.local_storage_base_path == tmp_path / "dev" / "object-storage"


def test_an_explicit_storage_path_wins_over_dev_data_dir(tmp_path: Path) -> None:
    settings = load_settings(
        BASE
        | {"DEV_DATA_DIR": str(tmp_path / "dev"), "LOCAL_STORAGE_BASE_PATH": str(tmp_path / "s")}
    )

    assert settings.local_storage_base_path == tmp_path / "s"


def test_the_base_url_loses_its_trailing_slash() -> None:
    settings = load_settings(BASE | {"LOCAL_STORAGE_BASE_URL": "https://photos.example.com/api/"})

    assert settings.local_storage_base_url == "https://photos.example.com/api"


# --- the storage signing secret ------------------------------------------------------------


@pytest.mark.parametrize("secret", [None, "", "short", "x" * 31, " " * 40])
def test_a_missing_or_short_storage_secret_refuses_to_start(secret: str | None) -> None:
    env = {"JWT_SECRET": JWT_SECRET}
    if secret is not None:
        env["LOCAL_STORAGE_SECRET"] = secret

    message = refusal(env)

    assert "LOCAL_STORAGE_SECRET must be at least 32 characters" in message


def test_a_storage_secret_of_exactly_32_characters_is_accepted() -> None:
    assert load_settings(BASE | {"LOCAL_STORAGE_SECRET": "x" * 32}).local_storage_secret == (
        "x" * 32
    )


def test_the_storage_secret_is_required_in_r2_mode_too() -> None:
    env = {key: value for key, value in BASE.items() if key != "LOCAL_STORAGE_SECRET"}

    assert "LOCAL_STORAGE_SECRET" in refusal(env | R2_CREDENTIALS)


# --- JWT verification ----------------------------------------------------------------------


def test_without_any_jwt_configuration_the_function_refuses_to_start() -> None:
    message = refusal({"LOCAL_STORAGE_SECRET": STORAGE_SECRET})

    assert "JWT_SECRET" in message
    assert "JWT_JWKS_URL" in message


@pytest.mark.parametrize("secret", ["short", "j" * 31])
def test_a_short_jwt_secret_refuses_to_start(secret: str) -> None:
    assert "JWT_SECRET must be at least 32 characters" in refusal(BASE | {"JWT_SECRET": secret})


@pytest.mark.parametrize(
    ("extra", "missing"),
    [
        ({}, "JWT_ISSUER and JWT_AUDIENCE"),
        ({"JWT_ISSUER": "https://issuer.example.com/"}, "JWT_AUDIENCE"),
        ({"JWT_AUDIENCE": "profile-photos"}, "JWT_ISSUER"),
    ],
)
def test_a_jwks_url_without_issuer_and_audience_refuses_to_start(
    extra: dict[str, str], missing: str
) -> None:
    # a key set is shared by every app and tenant of its issuer
    message = refusal(
        {
            "LOCAL_STORAGE_SECRET": STORAGE_SECRET,
            "JWT_JWKS_URL": "https://issuer.example.com/.well-known/jwks.json",
        }
        | extra
    )

    assert f"JWT_JWKS_URL needs {missing}:" in message


def test_a_jwks_url_with_issuer_and_audience_is_enough() -> None:
    settings = load_settings(
        {
            "LOCAL_STORAGE_SECRET": STORAGE_SECRET,
            "JWT_JWKS_URL": "https://issuer.example.com/.well-known/jwks.json",
            "JWT_ISSUER": "https://issuer.example.com/",
            "JWT_AUDIENCE": "profile-photos",
        }
    )

    assert (settings.jwt_secret, settings.jwt_jwks_url) == (
        None,
        "https://issuer.example.com/.well-known/jwks.json",
    )
    assert (settings.jwt_issuer, settings.jwt_audience) == (
        "https://issuer.example.com/",
        "profile-photos",
    )


# --- bad values, each named ----------------------------------------------------------------


@pytest.mark.parametrize("value", ["ten", "1.5", "0x10", "5 MB"])
@pytest.mark.parametrize("variable", INTEGER_VARIABLES)
def test_a_non_integer_is_refused_by_name(variable: str, value: str) -> None:
    assert f"{variable} must be an integer, got {value!r}" in refusal(BASE | {variable: value})


@pytest.mark.parametrize("value", ["0", "-1", "-3600"])
@pytest.mark.parametrize("variable", INTEGER_VARIABLES)
def test_zero_or_a_negative_integer_is_refused_by_name(variable: str, value: str) -> None:
    assert f"{variable} must be >= 1" in refusal(BASE | {variable: value})


def test_a_signed_url_ttl_beyond_the_presign_maximum_is_refused() -> None:
    assert load_settings(BASE | {"SIGNED_URL_TTL_SECONDS": "604800"}).signed_url_ttl_seconds == (
        604800
    )
    assert "SIGNED_URL_TTL_SECONDS must be >= 1 and <= 604800, got 604801" in refusal(
        BASE | {"SIGNED_URL_TTL_SECONDS": "604801"}
    )


# --- the signed-URL window ------------------------------------------------------------------


@pytest.mark.parametrize(("ttl", "window"), [("3600", "1"), ("3600", "3600"), ("604800", "604800")])
def test_a_window_from_one_second_up_to_the_ttl_is_accepted(ttl: str, window: str) -> None:
    settings = load_settings(
        BASE | {"SIGNED_URL_TTL_SECONDS": ttl, "SIGNED_URL_WINDOW_SECONDS": window}
    )

    assert settings.signed_url_window_seconds == int(window)


@pytest.mark.parametrize(("ttl", "window"), [("3600", "3601"), ("60", "300"), ("1", "2")])
def test_a_window_longer_than_the_ttl_is_refused(ttl: str, window: str) -> None:
    # a URL would then outlive twice its TTL
    message = refusal(BASE | {"SIGNED_URL_TTL_SECONDS": ttl, "SIGNED_URL_WINDOW_SECONDS": window})

    assert (
        f"SIGNED_URL_WINDOW_SECONDS must be <= SIGNED_URL_TTL_SECONDS ({ttl}), got {window}"
        in message
    )


@pytest.mark.parametrize(("ttl", "window"), [("60", 60), ("1", 1), ("299", 299), ("301", 300)])
def test_an_unset_window_is_the_default_shortened_to_a_shorter_ttl(ttl: str, window: int) -> None:
    # a deployment with a short TTL still starts without setting the window
    settings = load_settings(BASE | {"SIGNED_URL_TTL_SECONDS": ttl})

    assert settings.signed_url_window_seconds == window


def test_a_bad_ttl_is_reported_without_a_spurious_window_error() -> None:
    message = refusal(BASE | {"SIGNED_URL_TTL_SECONDS": "0"})

    assert "SIGNED_URL_TTL_SECONDS must be >= 1" in message
    assert "SIGNED_URL_WINDOW_SECONDS" not in message


def test_a_bad_ttl_and_a_bad_window_are_reported_together() -> None:
    message = refusal(
        BASE | {"SIGNED_URL_TTL_SECONDS": "604801", "SIGNED_URL_WINDOW_SECONDS": "604801"}
    )

    assert "SIGNED_URL_TTL_SECONDS must be >= 1 and <= 604800, got 604801" in message
    assert "SIGNED_URL_WINDOW_SECONDS must be <= 604800, got 604801" in message


@pytest.mark.parametrize("provider", ["S3", "gcs", "local-disk"])
def test_an_unknown_storage_provider_is_refused(provider: str) -> None:
    message = refusal(BASE | {"OBJECT_STORAGE_PROVIDER": provider})

    assert "OBJECT_STORAGE_PROVIDER must be LOCAL or R2" in message
    assert provider.upper() in message


@pytest.mark.parametrize("provider", ["local", "Local", "LOCAL", " LOCAL "])
def test_the_provider_name_is_case_insensitive(provider: str) -> None:
    settings = load_settings(BASE | {"OBJECT_STORAGE_PROVIDER": provider})

    assert settings.object_storage_provider == "LOCAL"


@pytest.mark.parametrize(
    ("value", "unknown"),
    [("bmp", "bmp"), ("jpg,tiff", "tiff"), ("png, svg, avif", "svg, avif")],
)
def test_an_extension_the_service_cannot_verify_is_refused(value: str, unknown: str) -> None:
    message = refusal(BASE | {"LOCAL_STORAGE_ALLOWED_EXTENSIONS": value})

    assert "LOCAL_STORAGE_ALLOWED_EXTENSIONS" in message
    assert f"cannot verify: {unknown} " in message


def test_the_allow_list_is_normalised() -> None:
    settings = load_settings(BASE | {"LOCAL_STORAGE_ALLOWED_EXTENSIONS": " .PNG, jpg ,png,"})

    assert settings.allowed_extensions == ("png", "jpg")
    assert settings.allowed_content_types == {"image/png", "image/jpeg"}


@pytest.mark.parametrize(
    ("variable", "value"),
    [("LOCAL_STORAGE_BASE_URL", "photos.example.com"), ("JWT_JWKS_URL", "ftp://x/jwks")],
)
def test_a_url_that_is_not_http_is_refused_by_name(variable: str, value: str) -> None:
    assert f"{variable} must be an http(s) URL" in refusal(BASE | {variable: value})


# --- R2 ------------------------------------------------------------------------------------


def test_r2_mode_names_every_missing_credential() -> None:
    message = refusal(BASE | {"OBJECT_STORAGE_PROVIDER": "R2"})

    assert (
        "OBJECT_STORAGE_PROVIDER=R2 needs R2_ACCOUNT_ID, R2_ACCESS_KEY_ID, "
        "R2_SECRET_ACCESS_KEY, R2_USER_ASSETS_BUCKET" in message
    )


@pytest.mark.parametrize(
    "missing",
    ["R2_ACCOUNT_ID", "R2_ACCESS_KEY_ID", "R2_SECRET_ACCESS_KEY", "R2_USER_ASSETS_BUCKET"],
)
def test_r2_mode_names_only_what_is_missing(missing: str) -> None:
    env = BASE | {key: value for key, value in R2_CREDENTIALS.items() if key != missing}

    assert f"OBJECT_STORAGE_PROVIDER=R2 needs {missing}" in refusal(env)


def test_credentials_are_not_required_in_local_mode() -> None:
    assert load_settings(BASE).r2_access_key_id is None


def test_the_r2_endpoint_is_derived_from_the_account_id() -> None:
    settings = load_settings(BASE | R2_CREDENTIALS)

    assert settings.object_storage_provider == "R2"
    assert settings.r2_endpoint == "https://0123456789abcdef.r2.cloudflarestorage.com"


def test_r2_endpoint_url_overrides_the_endpoint_and_makes_the_account_id_optional() -> None:
    env = {key: value for key, value in R2_CREDENTIALS.items() if key != "R2_ACCOUNT_ID"}

    settings = load_settings(BASE | env | {"R2_ENDPOINT_URL": "http://127.0.0.1:9000"})

    assert settings.r2_endpoint == "http://127.0.0.1:9000"


def test_r2_endpoint_url_wins_over_the_account_id() -> None:
    settings = load_settings(BASE | R2_CREDENTIALS | {"R2_ENDPOINT_URL": "http://127.0.0.1:9000"})

    assert settings.r2_endpoint == "http://127.0.0.1:9000"


# --- every problem at once -----------------------------------------------------------------


def test_several_problems_are_reported_together_in_one_error() -> None:
    # Given an environment with five unrelated mistakes
    env = {
        "OBJECT_STORAGE_PROVIDER": "R2",
        "LOCAL_STORAGE_SECRET": "short",
        "JWT_SECRET": "also-short",
        "RETENTION_ACTIVE_LIMIT": "five",
        "LOCAL_STORAGE_ALLOWED_EXTENSIONS": "jpg,bmp",
    }

    # When the function starts
    message = refusal(env)

    # Then one error names every variable to fix
    assert message.startswith("invalid configuration: ")
    for name in (
        "LOCAL_STORAGE_SECRET",
        "JWT_SECRET",
        "RETENTION_ACTIVE_LIMIT",
        "LOCAL_STORAGE_ALLOWED_EXTENSIONS",
        "R2_ACCESS_KEY_ID",
    ):
        assert name in message


# --- loaded lazily, once -------------------------------------------------------------------


@pytest.fixture
def fresh_settings_cache():
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.usefixtures("fresh_settings_cache")
def test_get_settings_reads_the_process_environment_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a valid process environment
    for key, value in BASE.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("RETENTION_ACTIVE_LIMIT", "3")

    # When settings are read, and the environment changes afterwards
    first = get_settings()
    monkeypatch.setenv("RETENTION_ACTIVE_LIMIT", "9")

    # Then the same validated settings are served for the life of the container
    assert first.retention_active_limit == 3
    assert get_settings() is first


@pytest.mark.usefixtures("fresh_settings_cache")
def test_get_settings_refuses_a_bad_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCAL_STORAGE_SECRET", "short")
    monkeypatch.setenv("JWT_SECRET", JWT_SECRET)

    with pytest.raises(SettingsError, match="LOCAL_STORAGE_SECRET"):
        get_settings()


@pytest.mark.parametrize(
    ("raw", "expected"), [("", False), ("false", False), ("true", True), ("1", True)]
)
def test_graphql_introspection_flag(raw: str, expected: bool) -> None:
    env = {"LOCAL_STORAGE_SECRET": "s" * 32, "JWT_SECRET": "j" * 32, "GRAPHQL_INTROSPECTION": raw}

    assert load_settings(env).graphql_introspection is expected


def test_graphql_introspection_refuses_other_values() -> None:
    env = {"LOCAL_STORAGE_SECRET": "s" * 32, "JWT_SECRET": "j" * 32, "GRAPHQL_INTROSPECTION": "on"}

    with pytest.raises(SettingsError, match="GRAPHQL_INTROSPECTION must be true or false"):
        load_settings(env)
