"""Every function's traced work, run by test_tracing.py in a child pytest with X-Ray on.

Not collected by the suite (no `test_` prefix): tracing patches botocore for the whole
interpreter, so test_tracing.py runs this file in its own process, as on Lambda (tracing on,
a trace header, the daemon's address on a loopback UDP port the parent reads). It writes the
user ids, asset ids and object keys it used to `$TRACED_IDS_FILE`, for the parent to look
for in every segment the process sent.
"""

from __future__ import annotations

import json
import os
from urllib.parse import parse_qs, urlsplit

import pytest
import renditions_handler
import signed_fetch_handler

from devkit.context import LambdaContext
from testkit.events import signed_event
from testkit.images import jpeg_bytes, png_bytes
from testkit.invoke import invoke
from tests.integration.conftest import Stack, stream_records
from tests.integration.test_direct_upload import announce, post_json, put
from tests.integration.test_graphql import gql
from tests.integration.test_renditions import upload

USER = "traced-user-7f3a9c"


def fetch(url: str) -> int:
    parts = urlsplit(url)
    key = parts.path.split("/signed/user-assets/", 1)[1]
    event = signed_event("r", parse_qs(parts.query)["token"][0], key=key)
    return invoke(signed_fetch_handler.lambda_handler, event).status


@pytest.mark.parametrize("provider", ["R2"], indirect=True)
def test_every_function_traced(stack: Stack) -> None:
    # upload: multipart, then a direct upload (upload-url, the PUT, complete)
    first = upload(png_bytes(), "me.png", "image/png", user=USER)
    grant = announce(size=len(jpeg_bytes()), name="big.jpg", user=USER).json()["data"]
    assert put(stack, grant, jpeg_bytes()) == 200
    second = post_json("complete", {"fileKey": grant["fileKey"]}, user=USER).json()["data"]

    # graphql: reads of the caller and of a user by id, their URLs in two sizes
    urls = gql(
        f'{{ me {{ profilePhotos {{ assetId fileKey url }} }} user(id: "{USER}") '
        "{ small: profilePhotoUrl(size: SMALL) original: profilePhotoUrl } }",
        user=USER,
    )["data"]["user"]

    # signed fetch: the original, and a size before the stream made it (render on miss)
    assert fetch(urls["original"]) == 200
    assert fetch(urls["small"]) == 200

    # renditions: the stream's records
    records = stream_records(stack, "RenditionsFunction")
    renditions_handler.lambda_handler({"Records": records}, LambdaContext("stream"))

    # erasure, then a URL of the erased photo (a miss)
    deleted = gql(
        f'mutation {{ deleteProfilePhoto(assetId: "{first["assetId"]}") {{ deletedCount }} }}',
        user=USER,
    )
    assert deleted["data"]["deleteProfilePhoto"]["deletedCount"] == 1
    assert fetch(first["uploadUrl"]) == 404

    ids = {
        "users": [USER],
        "assets": [first["assetId"], second["assetId"]],
        "keys": [first["fileKey"], second["fileKey"], grant["fileKey"]],
    }
    with open(os.environ["TRACED_IDS_FILE"], "w") as out:
        json.dump(ids, out)
