"""What the R2 bucket tools (`ops r2-lifecycle`, `ops r2-cors`) share."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from profile_photos.settings import Settings, load_settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def bucket_settings() -> Settings:
    """The service's settings from the environment, in R2 mode (raises `SettingsError`).
    A bucket tool signs no tokens and serves no local files: the two secrets it never uses
    get placeholders, so only the R2 variables need to be set."""
    placeholders = {"LOCAL_STORAGE_SECRET": "-" * 32, "JWT_SECRET": "-" * 32}
    return load_settings(placeholders | dict(os.environ) | {"OBJECT_STORAGE_PROVIDER": "R2"})


def bucket_client(settings: Settings) -> S3Client:
    """An S3 client for R2 with botocore's whole S3 model: the bucket's configuration
    (CORS, lifecycle) is not among the object operations the store's own client knows
    (`profile_photos.store.endpoints.S3_OPERATIONS`: what the functions call)."""
    import boto3
    from botocore.config import Config

    client: S3Client = boto3.session.Session().client(
        "s3",
        endpoint_url=settings.r2_endpoint,
        region_name="auto",
        aws_access_key_id=settings.r2_access_key_id,
        aws_secret_access_key=settings.r2_secret_access_key,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )
    return client
