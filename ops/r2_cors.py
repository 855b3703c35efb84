"""Set the R2 user-assets bucket's CORS rules (`python -m ops r2-cors`, `make r2-cors`), so
that a browser page on an origin of CORS_ALLOWED_ORIGINS can make a direct upload's PUT
(presigned, straight to R2) and read a file it is redirected to (a large photo's presigned
GET).

Uses the service's own R2 variables (R2_ACCOUNT_ID or R2_ENDPOINT_URL, R2_ACCESS_KEY_ID,
R2_SECRET_ACCESS_KEY, R2_USER_ASSETS_BUCKET) and CORS_ALLOWED_ORIGINS. Replaces the bucket's
CORS configuration (PutBucketCors has no merge): run it again after changing the origins.
"""

from __future__ import annotations

import sys
from typing import Any

from ops.r2 import bucket_client, bucket_settings
from profile_photos.api.cors import PREFLIGHT_MAX_AGE
from profile_photos.settings import SettingsError


def cors_rules(origins: tuple[str, ...]) -> list[dict[str, Any]]:
    return [
        {
            "ID": "profile-photos-browser-uploads",
            "AllowedOrigins": list(origins),
            # PUT: a direct upload; GET/HEAD: a presigned GET a large photo redirects to
            "AllowedMethods": ["PUT", "GET", "HEAD"],
            # the presigned PUT signs Content-Type (upload-url's `headers`)
            "AllowedHeaders": ["content-type"],
            "ExposeHeaders": ["ETag"],
            "MaxAgeSeconds": PREFLIGHT_MAX_AGE,
        }
    ]


def run(args: object = None) -> int:
    try:
        settings = bucket_settings()
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    if not settings.cors_allowed_origins:
        print("set CORS_ALLOWED_ORIGINS to the origins of the browser pages", file=sys.stderr)
        return 2
    bucket = settings.r2_user_assets_bucket or ""
    rules = cors_rules(settings.cors_allowed_origins)
    bucket_client(settings).put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": rules})
    print(f"{bucket}: browsers on {', '.join(settings.cors_allowed_origins)} may PUT and GET")
    return 0
