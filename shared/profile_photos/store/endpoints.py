"""botocore's `endpoints.json`, cut down to the services the store's clients call, and its S3
model cut down to the operations the R2 provider calls.

Every botocore client's creation loads `endpoints.json` (1.25 MB, every service in every
partition) to resolve its region and signing scope: ~25-45 ms of each cold start, parsing
entries for ~300 services no function calls. `store.aws.session()` puts `botocore_data/` first
on the session's data path, so botocore's loader finds the copy there (~45 KB) and everything
else (service models, endpoint rule sets, partitions) in its own data, as before.

S3's model (`s3/2006-03-01/service-2.json`, 1.3 MB of JSON, ~120 operations) takes ~25 ms of
an R2 container's first client to load; `S3_OPERATIONS` (what `storage.r2` calls and presigns)
with the shapes they reference are ~12% of it, loaded in ~2 ms. The loader finds that copy
ahead of botocore's (same API version; the `sdk-extras` botocore merges into it still come
from botocore's data), so those operations serialize, sign and parse exactly as before, and
any other S3 operation does not exist on the store's client.

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
S3_MODEL = FOLDER / "s3" / "2006-03-01" / "service-2.json"
# the store's clients (store.aws.CLIENTS) and the one Powertools' idempotency makes for us
KEPT = frozenset({"dynamodb", "s3", "lambda", "cloudfront", "ssm"})
# what storage.r2 calls (`_call`) and presigns (`generate_presigned_url`)
S3_OPERATIONS = frozenset({"GetObject", "HeadObject", "PutObject", "DeleteObject"})


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


def installed_s3_model() -> dict[str, Any]:
    """The installed botocore's S3 model (its service-2.json.gz)."""
    import gzip

    import botocore

    path = Path(botocore.__file__).parent / "data" / "s3" / "2006-03-01" / "service-2.json.gz"
    with gzip.open(path, "rb") as handle:
        data: dict[str, Any] = json.load(handle)
    return data


def trimmed_model(model: dict[str, Any], operations: frozenset[str]) -> dict[str, Any]:
    """`model` with only `operations` and the shapes they reach (input, output, errors, and
    every member, list member and map key or value of those, transitively)."""
    shapes = model["shapes"]
    reached: set[str] = set()
    pending = [
        ref["shape"]
        for name in sorted(operations)
        for ref in (
            model["operations"][name].get("input"),
            model["operations"][name].get("output"),
            *model["operations"][name].get("errors", []),
        )
        if ref
    ]
    while pending:
        name = pending.pop()
        if name in reached:
            continue
        reached.add(name)
        shape = shapes[name]
        pending += [shape[key]["shape"] for key in ("member", "key", "value") if key in shape]
        pending += [member["shape"] for member in shape.get("members", {}).values()]
    return model | {
        "operations": {k: v for k, v in model["operations"].items() if k in operations},
        "shapes": {k: v for k, v in shapes.items() if k in reached},
    }


def render(endpoints: dict[str, Any]) -> str:
    return json.dumps(endpoints, indent=1, sort_keys=True) + "\n"


def render_model(model: dict[str, Any]) -> str:
    """A service model in botocore's own key order (a structure's members serialize in it)."""
    return json.dumps(model, indent=1) + "\n"


if __name__ == "__main__":
    ENDPOINTS.write_text(render(trimmed(installed())))
    S3_MODEL.parent.mkdir(parents=True, exist_ok=True)
    S3_MODEL.write_text(render_model(trimmed_model(installed_s3_model(), S3_OPERATIONS)))
    print(f"wrote {ENDPOINTS} and {S3_MODEL}")
