"""GraphQL hardening (issue 9, defects 6 and 9): export amplification and client input.

- The export is paginated (`first`, `after`), an operation exports at most once, the query
  cost counts list sizes, and mutations and export pages are charged to the rate limit.
- Client input (variables of the wrong shape, impossible ids, bad page arguments or cursors)
  is a client error and is never logged at ERROR (the autouse `no_error_logs` fixture checks
  the standard logging records; `error_lines` checks Powertools' JSON lines on stdout).
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import boto3
import graphql_handler
import pytest

from devkit.defaults import DEV_ENV
from profile_photos.services import reset
from testkit.events import GRAPHQL_QUERIES, graphql_event, user_token
from testkit.invoke import invoke
from tests.integration.conftest import Stack
from tests.integration.test_graphql import codes, gql, run_retention, upload

EXPORT = GRAPHQL_QUERIES["export"][0]
PAGE = (
    "mutation ($first: Int, $after: String) { exportProfilePhotos(first: $first, after: $after)"
    " { count items { assetId url archived } pageInfo { hasNextPage endCursor } } }"
)


def error_lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    """Powertools Logger lines at ERROR (or worse) written to stdout/stderr so far."""
    captured = capsys.readouterr()
    found = []
    for line in (captured.out + captured.err).splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and str(record.get("level", "")).upper() in {
            "ERROR",
            "CRITICAL",
        }:
            found.append(line)
    return found


def charged_units(stack: Stack, user: str = "demo-user") -> int:
    """Units spent by `user` in the rate-limits table (every hour item)."""
    return sum(
        int(item["units"]["N"])
        for item in stack.items("RATE_LIMITS_TABLE")
        if item["pk"]["S"].startswith(f"user#{user}#")
    )


def seed_photos(count: int, user: str = "demo-user") -> list[str]:
    """`count` photo items written straight to the photos table (no bytes: export only signs
    URLs), half of them archived. Returns their asset ids."""
    client = boto3.client("dynamodb")
    ids = [str(uuid.uuid4()) for _ in range(count)]
    requests = []
    for n, asset_id in enumerate(ids):
        item: dict[str, Any] = {
            "userId": {"S": user},
            "assetId": {"S": asset_id},
            "bucket": {"S": "user-assets"},
            "fileKey": {"S": f"users/{user}/profile-picture/{asset_id}.jpg"},
            "fileName": {"S": "me.jpg"},
            "contentType": {"S": "image/jpeg"},
            "size": {"N": "1234"},
            "sha256": {"S": "0" * 64},
            "assetContext": {"S": "PROFILE_PICTURE"},
            "uploadedAt": {"S": f"2025-01-01T00:00:{n % 60:02d}.000Z"},
            "archived": {"BOOL": n % 2 == 1},
        }
        requests.append({"PutRequest": {"Item": item}})
    table = DEV_ENV["PHOTOS_TABLE"]
    for start in range(0, len(requests), 25):
        client.batch_write_item(RequestItems={table: requests[start : start + 25]})
    return ids


def export_all(first: int | None = None, user: str = "demo-user") -> list[dict[str, Any]]:
    pages, after = [], None
    while True:
        response = gql(PAGE, {"first": first, "after": after}, user=user)
        assert "errors" not in response, response["errors"]
        page = response["data"]["exportProfilePhotos"]
        pages.append(page)
        if not page["pageInfo"]["hasNextPage"]:
            return pages
        after = page["pageInfo"]["endCursor"]


def limit_rate(monkeypatch: pytest.MonkeyPatch, per_minute: int) -> None:
    monkeypatch.setenv("RATE_LIMIT_PER_MINUTE", str(per_minute))
    reset()


# --- defect 6: export amplification -------------------------------------------------------


def test_export_pages_walk_every_photo_exactly_once(stack: Stack) -> None:
    uploaded = [upload()["assetId"] for _ in range(7)]
    run_retention(stack)

    pages = export_all(first=3)

    assert [len(page["items"]) for page in pages] == [3, 3, 1]
    assert [page["pageInfo"]["hasNextPage"] for page in pages] == [True, True, False]
    assert all(page["count"] == 7 for page in pages)  # `count` is still the total
    exported = [item["assetId"] for page in pages for item in page["items"]]
    assert exported == sorted(uploaded)  # key order, no duplicates, nothing missed
    assert sum(item["archived"] for page in pages for item in page["items"]) == 2


def test_a_user_with_over_a_thousand_photos_can_export_everything(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """1,050 photos in 11 default pages, the last one half full. A page is one Query with
    `Limit` 101 whatever the history's length, so 10,000+ photos export the same way on
    DynamoDB (moto's Query sorts the whole partition on each call, which makes a walk of
    thousands too slow for a test)."""
    if stack.provider != "LOCAL":
        pytest.skip("metadata only: the storage provider plays no part")
    limit_rate(monkeypatch, 1000)  # 11 pages in one minute; the budget is tested below
    ids = seed_photos(1_050)
    query = (
        "mutation ($after: String) { exportProfilePhotos(after: $after) { items { assetId "
        "fileKey url contentType size fileName uploadedAt archived archivedAt } "
        "pageInfo { hasNextPage endCursor } } }"
    )

    after, exported, sizes = None, [], []
    while True:
        result = invoke(
            graphql_handler.lambda_handler,
            graphql_event("t", query, {"after": after}, user_token(sub="demo-user")),
        )
        sizes.append(len(result.body))
        page = result.json()["data"]["exportProfilePhotos"]
        exported += [item["assetId"] for item in page["items"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]

    assert exported == sorted(ids)  # every photo once, in key order
    assert len(sizes) == 11  # 100 items a page by default, no empty last page
    assert max(sizes) < 200_000  # a full page is far below Lambda's 6 MB response cap
    assert gql("mutation { exportProfilePhotos(first: 1) { count } }")["data"] == {
        "exportProfilePhotos": {"count": 1_050}
    }


def test_an_operation_may_export_only_once(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    for _ in range(3):
        upload()
    spent = charged_units(stack)
    aliases = " ".join(f"e{n}: exportProfilePhotos {{ items {{ url }} }}" for n in range(166))

    response = gql(f"mutation {{ {aliases} }}")

    assert response["status"] == 400
    assert set(codes(response)) == {"GRAPHQL_VALIDATION_FAILED"}  # and over the cost limit
    assert response["errors"][0]["message"] == (
        "exportProfilePhotos may be selected at most once per operation; "
        "found 166 (e0, e1, e10, e100, e101, ...)"
    )
    assert "data" not in response  # nothing executed, nothing signed
    assert charged_units(stack) == spent  # and nothing charged
    assert error_lines(capsys) == []


def test_export_twice_through_fragments_is_refused_but_a_merged_field_is_one_export(
    stack: Stack,
) -> None:
    upload()
    twice = """
      mutation { ...A ...B }
      fragment A on Mutation { a: exportProfilePhotos { count } }
      fragment B on Mutation { b: exportProfilePhotos { count } }
    """
    merged = """
      mutation { exportProfilePhotos { count } ...A }
      fragment A on Mutation { exportProfilePhotos { items { assetId } } }
    """

    assert codes(gql(twice)) == ["GRAPHQL_VALIDATION_FAILED"]
    response = gql(merged)  # the same response key: GraphQL executes it once
    assert "errors" not in response
    assert response["data"]["exportProfilePhotos"]["count"] == 1


def test_the_query_cost_counts_list_sizes(stack: Stack) -> None:
    # each alias: me (1) + profilePhotos (1 + 5 photos x 2 fields) = 12; 167 of them = 2004
    aliases = " ".join(f"m{n}: me {{ profilePhotos {{ assetId url }} }}" for n in range(167))

    response = gql(f"{{ {aliases} }}")

    assert response["status"] == 400
    assert codes(response) == ["GRAPHQL_VALIDATION_FAILED"]
    assert response["errors"][0]["message"].startswith("The query exceeds the maximum cost")


def test_the_full_sample_export_page_fits_the_cost_limit(stack: Stack) -> None:
    upload()

    response = gql(*GRAPHQL_QUERIES["export"])

    assert "errors" not in response
    assert response["data"]["exportProfilePhotos"]["count"] == 1


@pytest.mark.parametrize("first", [0, -1, 101, 100_000])
def test_first_outside_1_to_100_is_bad_user_input_and_not_charged(
    stack: Stack, first: int, capsys: pytest.CaptureFixture[str]
) -> None:
    upload()
    spent = charged_units(stack)

    response = gql(PAGE, {"first": first})

    assert response["status"] == 200
    assert codes(response) == ["BAD_USER_INPUT"]
    assert response["errors"][0]["message"] == f"first must be between 1 and 100, got {first}"
    assert charged_units(stack) == spent
    assert error_lines(capsys) == []


def own_cursor(user: str, asset_id: str) -> str:
    return base64.urlsafe_b64encode(f"{user}/{asset_id}".encode()).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "cursor",
    [
        "not a cursor!",
        "",
        "x" * 5000,
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
        own_cursor("demo-user", "../../etc"),
        own_cursor("someone-else", "0b5c7a36-3f4e-4c39-9d0e-2f6a4c1e9a01"),  # another caller's
    ],
)
def test_a_bad_cursor_is_bad_user_input_never_a_server_error(
    stack: Stack, cursor: str, capsys: pytest.CaptureFixture[str]
) -> None:
    response = gql(PAGE, {"after": cursor})

    assert codes(response) == ["BAD_USER_INPUT"]
    assert response["errors"][0]["message"] == (
        "after must be a pageInfo.endCursor of your own export"
    )
    assert error_lines(capsys) == []


def test_mutations_and_export_pages_are_charged_and_refused_over_the_limit(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = upload(), upload()  # 2 units
    limit_rate(monkeypatch, 4)

    exported = gql(PAGE, {"first": 1})  # 3rd unit
    restored = gql(  # 4th unit
        "mutation ($id: ID!) { restoreProfilePhoto(assetId: $id) { photo { assetId } } }",
        {"id": first["assetId"]},
    )
    refused = gql(
        "mutation ($id: ID!) { deleteProfilePhoto(assetId: $id) { deletedCount } }",
        {"id": second["assetId"]},
    )
    refused_export = gql(PAGE)

    assert "errors" not in exported
    assert "errors" not in restored
    assert charged_units(stack) == 4
    for response in (refused, refused_export):
        assert response["status"] == 200
        assert codes(response) == ["RATE_LIMITED"]
        error = response["errors"][0]
        assert error["message"].startswith("Rate limit exceeded: 4 units per minute")
        assert "(this request costs 1)" in error["message"]
        assert isinstance(error["extensions"]["retryAfter"], int)
        assert 1 <= error["extensions"]["retryAfter"] <= 60
    # nothing changed: both photos and their bytes are still there
    assert len(stack.items("PHOTOS_TABLE")) == 2
    assert len(stack.objects()) == 2
    # reads are not charged
    assert "errors" not in gql("{ me { id profilePhotos { assetId } } }")


def test_every_mutation_in_an_operation_is_charged(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    photo = upload()  # 1 unit
    limit_rate(monkeypatch, 3)
    restores = " ".join(
        f'r{n}: restoreProfilePhoto(assetId: "{photo["assetId"]}") {{ photo {{ assetId }} }}'
        for n in range(4)
    )

    response = gql(f"mutation {{ {restores} }}")

    assert codes(response) == ["RATE_LIMITED"]  # r0 and r1 pass, r2 is refused (and nulls data)
    assert charged_units(stack) == 3


# --- defect 9: client input reported as server errors ---------------------------------------


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ("query ($v: ID!) { user(id: $v) { id } }", {"v": [[[1]]]}),
        ("query ($v: ID!) { user(id: $v) { id } }", {"v": {"a": 1}}),
        ("query ($v: ID!) { user(id: $v) { id } }", {}),
        ("mutation ($v: ID!) { deleteProfilePhoto(assetId: $v) { deletedCount } }", {"v": [1]}),
        (PAGE, {"first": "ten"}),
        (PAGE, {"first": [[[1]]], "after": 3}),
    ],
)
def test_variables_of_the_wrong_shape_are_bad_user_input(
    stack: Stack,
    query: str,
    variables: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    photo = upload()
    spent = charged_units(stack)

    response = gql(query, variables)

    assert response["status"] == 400
    assert set(codes(response)) == {"BAD_USER_INPUT"}
    assert "Internal server error" not in json.dumps(response)
    assert charged_units(stack) == spent
    assert [p["assetId"]["S"] for p in stack.items("PHOTOS_TABLE")] == [photo["assetId"]]
    assert error_lines(capsys) == []


@pytest.mark.parametrize("user_id", ["", "x" * 2049, "a/b", "é", "x" * 129, "\x00"])
def test_an_id_that_cannot_be_a_user_is_null_without_a_read(
    stack: Stack,
    user_id: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from profile_photos import profiles

    read = []
    real = profiles.get_user
    monkeypatch.setattr(profiles, "get_user", lambda uid: read.append(uid) or real(uid))

    response = gql("query ($id: ID!) { user(id: $id) { id profilePhotoUrl } }", {"id": user_id})

    assert response["status"] == 200
    assert response == {"status": 200, "data": {"user": None}}
    assert user_id not in read
    assert error_lines(capsys) == []


@pytest.mark.parametrize("asset_id", ["", "x" * 3000, "0B5C7A36-3F4E-4C39-9D0E-2F6A4C1E9A01"])
def test_an_impossible_asset_id_is_bad_user_input_and_not_charged(
    stack: Stack, asset_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for mutation in ("restoreProfilePhoto", "deleteProfilePhoto"):
        response = gql(
            f"mutation ($id: ID!) {{ {mutation}(assetId: $id) {{ __typename }} }}", {"id": asset_id}
        )

        assert response["status"] == 200
        assert codes(response) == ["BAD_USER_INPUT"]
        assert response["errors"][0]["message"].startswith("assetId must be a UUID")
    assert charged_units(stack) == 0
    assert error_lines(capsys) == []
