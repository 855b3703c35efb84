"""Apply the staging lifecycle rule to the R2 user-assets bucket (`python -m ops r2-lifecycle`,
`make r2-lifecycle`).

Direct uploads wait under `staging/` until `complete`; one that is never completed must not
linger. R2 honours S3 lifecycle rules (with a granularity of one day), so the bucket deletes
anything under `staging/` a day after it was written. Run once per bucket, with the same
R2 variables as the service (R2_ACCOUNT_ID or R2_ENDPOINT_URL, R2_ACCESS_KEY_ID,
R2_SECRET_ACCESS_KEY, R2_USER_ASSETS_BUCKET).
"""

from __future__ import annotations

import sys
from typing import Any

from ops.r2 import bucket_client, bucket_settings
from profile_photos.settings import SettingsError
from profile_photos.store.storage import STAGING_PREFIX

RULE_ID = "expire-staged-direct-uploads"


def staging_rule() -> dict[str, Any]:
    return {
        "ID": RULE_ID,
        "Filter": {"Prefix": STAGING_PREFIX},
        "Status": "Enabled",
        "Expiration": {"Days": 1},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
    }


def apply(client: Any, bucket: str) -> None:
    """Add (or replace) our rule, keeping any other rule the bucket already has."""
    try:
        rules = client.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    except client.exceptions.ClientError as exc:
        if exc.response["Error"]["Code"] != "NoSuchLifecycleConfiguration":
            raise
        rules = []
    rules = [rule for rule in rules if rule.get("ID") != RULE_ID] + [staging_rule()]
    client.put_bucket_lifecycle_configuration(
        Bucket=bucket, LifecycleConfiguration={"Rules": rules}
    )


def run(args: object = None) -> int:
    try:
        settings = bucket_settings()
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    bucket = settings.r2_user_assets_bucket or ""
    apply(bucket_client(settings), bucket)
    print(f"{bucket}: objects under {STAGING_PREFIX} expire after 1 day")
    return 0
