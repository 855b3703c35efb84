"""The renditions function, invoked synchronously (Lambda `Invoke`, RequestResponse).

Signed fetch asks it for the renditions of one photo when a URL is used before the stream
made them, under the render lease signed fetch took: the request names the lease (its
`until`), which the function gives back when its render is done, however long signed fetch
waited for the answer (`renditions`). The endpoint follows the SDK's configuration
(`AWS_ENDPOINT_URL_LAMBDA` points it at the local stack or `sam local start-lambda`).
"""

from __future__ import annotations

import functools
import json
from typing import Any

from profile_photos.errors import DependencyUnavailable, RenderPending

UNAVAILABLE = "Photo sizes are unavailable, retry later"
PENDING = "Photo size is being made, retry shortly"
RETRY_AFTER_SECONDS = 2  # a render takes about a second: when to ask again


@functools.cache
def lambda_client() -> Any:
    from profile_photos.store.aws import client

    return client("lambda")  # the timeouts and why: store.aws.RENDER_FUNCTION


def render(function: str, user_id: str, asset_id: str, until: int) -> bool:
    """Whether the function made the photo's renditions (False: no such photo), rendering
    under the caller's render lease taken with `until`, which the function gives back when
    its render is done. Its answer not read in time: `RenderPending` (the function goes on
    rendering and gives the lease back when done: its files land shortly, so the viewer is
    told when to ask again); any other failure: `DependencyUnavailable`."""
    from botocore.exceptions import BotoCoreError, ClientError, ReadTimeoutError

    payload = json.dumps({"render": {"userId": user_id, "assetId": asset_id, "until": until}})
    try:
        response = lambda_client().invoke(FunctionName=function, Payload=payload.encode())
        answer = json.loads(response["Payload"].read() or b"null")
    except ReadTimeoutError as exc:
        raise RenderPending(PENDING, RETRY_AFTER_SECONDS) from exc
    except (BotoCoreError, ClientError, ValueError) as exc:
        raise DependencyUnavailable(UNAVAILABLE) from exc
    if response.get("FunctionError") or not isinstance(answer, dict):
        raise DependencyUnavailable(UNAVAILABLE)
    return answer.get("rendered") is True
