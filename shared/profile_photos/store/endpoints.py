"""botocore's `endpoints.json`, cut down to the services the store's clients call.

Every botocore client's creation loads `endpoints.json` (1.25 MB, every service in every
partition) to resolve its region and signing scope: ~25-45 ms of each cold start, parsing
entries for ~300 services no function calls. `store.aws.session()` puts `botocore_data/` first
on the session's data path, so botocore's loader finds the copy there (~45 KB) and everything
else (service models, endpoint rule sets, partitions) in its own data, as before.

The copy is the installed botocore's own file with only the services in `KEPT` left in each
partition (every partition's defaults, regions and patterns kept whole), so those services
resolve exactly as with the full file. tests/unit/test_botocore_data.py fails when the copy
differs from what `python -m profile_photos.store.endpoints` makes of the installed
botocore (after an upgrade, run it and commit the file), or when the store makes a client of
a service not kept.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FOLDER = Path(__file__).resolve().parent / "botocore_data"  # the session's first data path
ENDPOINTS = FOLDER / "endpoints.json"
# the store's clients (store.aws.CLIENTS) and the one Powertools' idempotency makes for us
KEPT = frozenset({"dynamodb", "s3", "lambda", "cloudfront", "ssm"})


def trimmed(endpoints: dict[str, Any]) -> dict[str, Any]:
    """`endpoints` with each partition's `services` cut to `KEPT`."""
    partitions = [
        partition | {"services": {k: v for k, v in partition["services"].items() if k in KEPT}}
        for partition in endpoints["partitions"]
    ]
    return endpoints | {"partitions": partitions}


def installed() -> dict[str, Any]:
    """The installed botocore's full endpoints.json."""
    import botocore

    with open(Path(botocore.__file__).parent / "data" / "endpoints.json", "rb") as handle:
        data: dict[str, Any] = json.load(handle)
    return data


def render(endpoints: dict[str, Any]) -> str:
    return json.dumps(endpoints, indent=1, sort_keys=True) + "\n"


if __name__ == "__main__":
    ENDPOINTS.write_text(render(trimmed(installed())))
    print(f"wrote {ENDPOINTS}")
