"""CORS_ALLOWED_ORIGINS in the settings, and the headers it gives (profile_photos.api.cors)."""

from __future__ import annotations

import pytest

from profile_photos.api.cors import cors_headers, preflight_headers
from profile_photos.settings import SettingsError, load_settings

BASE = {"LOCAL_STORAGE_SECRET": "s" * 32, "JWT_SECRET": "j" * 32}


def test_origins_are_read_as_a_browser_sends_them() -> None:
    raw = " https://App.Example.com/ ,http://localhost:5173,https://app.example.com"
    settings = load_settings(BASE | {"CORS_ALLOWED_ORIGINS": raw})

    assert settings.cors_allowed_origins == ("https://app.example.com", "http://localhost:5173")


def test_no_origins_by_default() -> None:
    assert load_settings(BASE).cors_allowed_origins == ()


@pytest.mark.parametrize(
    "bad", ["app.example.com", "https://app.example.com/path", "ftp://x.test", "https://x:99999"]
)
def test_an_origin_that_no_browser_sends_is_refused_at_start(bad: str) -> None:
    with pytest.raises(SettingsError, match="CORS_ALLOWED_ORIGINS"):
        load_settings(BASE | {"CORS_ALLOWED_ORIGINS": bad})


def test_a_star_allows_any_origin_without_credentials() -> None:
    headers = cors_headers("https://any.test", ("*",))

    assert headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in headers


def test_a_preflight_of_another_origin_says_only_which_methods_exist() -> None:
    headers = preflight_headers("https://evil.test", ("https://app.test",), ["POST"])

    assert headers == {"Allow": "OPTIONS, POST", "Vary": "Origin"}
