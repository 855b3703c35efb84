"""What the R2 bucket tools (`ops r2-lifecycle`, `ops r2-cors`) share."""

from __future__ import annotations

import os

from profile_photos.settings import Settings, load_settings


def bucket_settings() -> Settings:
    """The service's settings from the environment, in R2 mode (raises `SettingsError`).
    A bucket tool signs no tokens and serves no local files: the two secrets it never uses
    get placeholders, so only the R2 variables need to be set."""
    placeholders = {"LOCAL_STORAGE_SECRET": "-" * 32, "JWT_SECRET": "-" * 32}
    return load_settings(placeholders | dict(os.environ) | {"OBJECT_STORAGE_PROVIDER": "R2"})
