"""GraphQL and retention over HTTP against the local stack: the embedded stream drives the
retention function exactly as DynamoDB Streams would on AWS."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

from devkit.token import make_token
from testkit import images
from tests.e2e.conftest import RunningStack

UPLOAD = "/api/storage/profile-photo/upload"
LIMIT = 5
PHOTOS = "{ me { profilePhotos { assetId url } } }"
# pages of 3, so that every export below walks several pages (the default page is 100)
EXPORT = (
    "mutation ($after: String) { exportProfilePhotos(first: 3, after: $after) "
    "{ count items { assetId archived archivedAt url } pageInfo { hasNextPage endCursor } } }"
)


def headers(user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token(user, user.title())}"}


def upload(stack: RunningStack, user: str) -> dict[str, Any]:
    response = stack.post(
        UPLOAD, headers=headers(user), files={"file": ("p.png", images.png_bytes(), "image/png")}
    )
    assert response.status_code == 201, response.text
    return response.json()["data"]


def gql(stack: RunningStack, user: str, query: str, **variables: str) -> dict[str, Any]:
    response = stack.post(
        "/graphql", headers=headers(user), json={"query": query, "variables": variables}
    )
    assert response.headers["Content-Type"].startswith("application/json")
    return response.json()


def eventually(check: Callable[[], Any], timeout: float = 60.0) -> Any:
    """Retention runs asynchronously after the stream delivers: wait for its end state
    (returns as soon as it holds; the bound only matters on a heavily loaded machine, where
    cold workers for nine concurrent uploads can take a while)."""
    deadline = time.time() + timeout
    while True:
        try:
            return check()
        except AssertionError:
            if time.time() > deadline:
                raise
            time.sleep(0.2)


def export(stack: RunningStack, user: str) -> dict[str, Any]:
    """Every page of the user's export: `count` (the total, on every page) and all items."""
    items: list[dict[str, Any]] = []
    after: dict[str, str] = {}
    while True:
        page = gql(stack, user, EXPORT, **after)["data"]["exportProfilePhotos"]
        items += page["items"]
        if not page["pageInfo"]["hasNextPage"]:
            assert len(items) == page["count"]
            return {"count": page["count"], "items": items}
        after = {"after": page["pageInfo"]["endCursor"]}


def active(stack: RunningStack, user: str) -> list[str]:
    return [p["assetId"] for p in gql(stack, user, PHOTOS)["data"]["me"]["profilePhotos"]]


def test_seven_uploads_leave_five_active_and_seven_in_the_export(stack: RunningStack) -> None:
    ids = []
    for _ in range(7):
        ids.append(upload(stack, "ann")["assetId"])
        time.sleep(0.002)

    def converged() -> list[str]:
        listed = active(stack, "ann")
        assert listed == list(reversed(ids[-LIMIT:]))
        return listed

    eventually(converged)
    exported = export(stack, "ann")
    assert exported["count"] == 7
    assert sorted(i["assetId"] for i in exported["items"]) == sorted(ids)
    assert sorted(i["assetId"] for i in exported["items"] if i["archived"]) == sorted(ids[:2])
    for item in exported["items"]:  # archived photos are still served to their owner's export
        assert requests.get(item["url"], timeout=10).content == images.png_bytes()

    # restore the oldest: it becomes current, retention archives the oldest active instead
    restored = gql(
        stack,
        "ann",
        "mutation ($id: ID!) { restoreProfilePhoto(assetId: $id) "
        "{ photo { assetId } user { profilePhotoUrl } } }",
        id=ids[0],
    )["data"]["restoreProfilePhoto"]
    assert ids[0] in restored["user"]["profilePhotoUrl"]
    eventually(lambda: _assert_equal(active(stack, "ann"), [ids[0], *reversed(ids[-4:])]))

    # delete the current one: bytes and metadata go, the next active photo becomes current
    deleted = gql(
        stack,
        "ann",
        "mutation ($id: ID!) { deleteProfilePhoto(assetId: $id) "
        "{ deletedCount currentPhoto { assetId } } }",
        id=ids[0],
    )["data"]["deleteProfilePhoto"]
    assert deleted == {"deletedCount": 1, "currentPhoto": {"assetId": ids[-1]}}
    assert active(stack, "ann") == list(reversed(ids[-4:]))
    profile = gql(stack, "bob", '{ user(id: "ann") { profilePhotoUrl } }')["data"]["user"]
    assert ids[-1] in profile["profilePhotoUrl"]
    assert export(stack, "ann")["count"] == 6


def _assert_equal(left: Any, right: Any) -> None:
    assert left == right


def test_concurrent_uploads_converge_to_the_limit(stack: RunningStack) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        uploaded = list(pool.map(lambda _: upload(stack, "cat"), range(9)))

    listed = eventually(lambda: _exactly(active(stack, "cat"), LIMIT))

    assert set(listed) <= {u["assetId"] for u in uploaded}
    current = gql(stack, "cat", "{ me { profilePhotoUrl } }")["data"]["me"]["profilePhotoUrl"]
    assert listed[0] in current  # the newest active photo is the current one
    exported = export(stack, "cat")
    assert exported["count"] == 9
    assert sum(1 for item in exported["items"] if item["archived"]) == 4


def _exactly(listed: list[str], count: int) -> list[str]:
    assert len(listed) == count
    return listed


def test_users_are_isolated(stack: RunningStack) -> None:
    dan = upload(stack, "dan")
    upload(stack, "eve")

    # another user's history is not readable, their photos cannot be touched
    forbidden = gql(stack, "eve", '{ user(id: "dan") { profilePhotos { assetId } } }')
    assert forbidden["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    for mutation in ("restoreProfilePhoto", "deleteProfilePhoto"):
        result = gql(
            stack,
            "eve",
            f"mutation ($id: ID!) {{ {mutation}(assetId: $id) {{ __typename }} }}",
            id=dan["assetId"],
        )
        assert result["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    wiped = gql(stack, "eve", "mutation { deleteAllProfilePhotos { deletedCount } }")
    assert wiped["data"]["deleteAllProfilePhotos"]["deletedCount"] == 1

    # dan's photo is untouched and its public URL still serves
    assert active(stack, "dan") == [dan["assetId"]]
    assert requests.get(dan["uploadUrl"], timeout=10).status_code == 200
    public = gql(stack, "eve", '{ user(id: "dan") { username profilePhotoUrl } }')
    assert public["data"]["user"]["username"] == "Dan"


def test_graphql_without_token_is_401_envelope(stack: RunningStack) -> None:
    response = requests.post(f"{stack.url}/graphql", json={"query": PHOTOS}, timeout=10)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "UNAUTHORIZED"


def test_history_survives_a_restart(tmp_path: Path) -> None:
    first = RunningStack(tmp_path)
    try:
        ids = [upload(first, "fay")["assetId"] for _ in range(2)]
        eventually(lambda: _exactly(active(first, "fay"), 2))
    finally:
        first.stop()

    second = RunningStack(tmp_path)
    try:
        assert sorted(active(second, "fay")) == sorted(ids)
        for url in (p["url"] for p in gql(second, "fay", PHOTOS)["data"]["me"]["profilePhotos"]):
            assert requests.get(url, timeout=10).content == images.png_bytes()
    finally:
        second.stop()
