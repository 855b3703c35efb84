"""GraphQL aliases must not multiply reads (issue 24, item 5).

The DynamoDB requests the graphql function makes are counted through botocore's event hooks
(`tests/integration/aws_calls.py` records every call a handler makes, by function). The bound
checked for every accepted operation is the one graphql_resolvers documents:

    1 (claims refresh) + 1 GetItem per distinct user id read (`me` is the caller)
    + 1 Query of the caller's active photos when `profilePhotos` of the caller is selected
    + for an export: its charge, its page Query and 1 COUNT query when `count` is selected

and an operation over the query cost limit (each `user`, `me`, `profilePhotos` and `count`
is priced) is refused before any read, with GRAPHQL_VALIDATION_FAILED.
"""

from __future__ import annotations

import random
import string
from collections import Counter
from dataclasses import dataclass
from itertools import product
from typing import Any

import pytest
from graphql_protocol import MAX_COST

from profile_photos.store.models import ACTIVE_INDEX
from tests.integration.aws_calls import SUITE
from tests.integration.conftest import Stack
from tests.integration.test_graphql import codes, gql, run_retention, upload
from tests.integration.test_graphql_hardening import charged_units, error_lines, seed_photos

CALLER = "demo-user"
USERS = "UsersTable"
PHOTOS = "PhotosTable"
LIMITS = "RateLimitsTable"


def calls_of(
    query: str, variables: dict[str, Any] | None = None
) -> tuple[dict[str, Any], Counter[str]]:
    """The response to `query` (by the caller) and the graphql function's DynamoDB requests
    while answering it, as "Operation Table[ Index]" -> count."""
    start = len(SUITE.calls)
    response = gql(query, variables, user=CALLER)
    made = Counter(
        " ".join(
            [call.operation, call.params.get("TableName", "?")]
            + ([call.params["IndexName"]] if "IndexName" in call.params else [])
        )
        for call in SUITE.calls[start:]
        if call.function == "GraphQLFunction" and call.service == "dynamodb"
    )
    return response, made


def reads(made: Counter[str]) -> int:
    """Every request but the claims refresh (an UpdateItem of the users table)."""
    return sum(count for call, count in made.items() if call != f"UpdateItem {USERS}")


def aliases(count: int) -> list[str]:
    """`count` distinct two-letter aliases (the attacks below fill the 16 KiB request)."""
    letters = string.ascii_letters
    return ["".join(pair) for pair in product(letters, repeat=2)][:count]


# --- the attacks ---------------------------------------------------------------------


def test_760_user_aliases_are_refused_by_the_cost_limit_before_any_read(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    """The issue's request: 760 `user(id)` aliases in one 16 KiB body made 760 GetItems."""
    upload()
    body = "".join(f"{alias}:user(id:$i){{id}}" for alias in aliases(760))
    query = f"query($i:ID!){{{body}}}"
    cost = 760 * (1 + 20 + 1)

    response, made = calls_of(query, {"i": CALLER})

    assert response["status"] == 400
    assert codes(response) == ["GRAPHQL_VALIDATION_FAILED"]
    assert response["errors"][0]["message"] == (
        f"The query exceeds the maximum cost of {MAX_COST}. Actual cost is {cost}"
    )
    assert "data" not in response
    assert reads(made) == 0
    assert error_lines(capsys) == []


def test_1400_count_aliases_are_refused_before_any_count_and_not_charged(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    """The issue's request: 1,400 aliases of the export's `count` made 1,401 COUNT queries
    over the caller's whole history for one rate-limit unit."""
    seed_photos(6)
    counts = " ".join(f"{alias}:count" for alias in aliases(1400))
    query = f"mutation{{exportProfilePhotos(first:1){{{counts}}}}}"

    response, made = calls_of(query)

    assert response["status"] == 400
    assert codes(response) == ["GRAPHQL_VALIDATION_FAILED"]
    assert response["errors"][0]["message"].startswith(
        f"The query exceeds the maximum cost of {MAX_COST}. Actual cost is "
    )
    assert reads(made) == 0
    assert charged_units(stack) == 0
    assert error_lines(capsys) == []


# --- repeated identical fields are read once ---------------------------------------------------


def test_aliases_of_one_user_are_one_read(stack: Stack) -> None:
    upload()
    many = " ".join(
        f"u{n}: user(id: $me) {{ id username profilePhotoUrl(size: SMALL) }}" for n in range(40)
    )
    query = f"query ($me: ID!) {{ {many} me {{ ...P }} again: me {{ ...P }} }}"
    query += " fragment P on User { id profilePhotoUploadedAt }"

    response, made = calls_of(query, {"me": CALLER})

    assert "errors" not in response
    data = response["data"]
    assert len({str(data[f"u{n}"]) for n in range(40)}) == 1  # the same profile 40 times
    assert data["u0"]["profilePhotoUrl"].startswith("http")
    assert data["me"] == data["again"]
    assert data["me"]["id"] == CALLER
    assert made[f"GetItem {USERS}"] == 1
    assert reads(made) == 1


def test_aliases_of_the_export_count_are_one_count_query(stack: Stack) -> None:
    seed_photos(6)
    counts = " ".join(f"c{n}: count" for n in range(30))
    query = f"mutation {{ exportProfilePhotos(first: 2) {{ {counts} items {{ assetId }} }} }}"

    response, made = calls_of(query)

    assert "errors" not in response
    page = response["data"]["exportProfilePhotos"]
    assert [page[f"c{n}"] for n in range(30)] == [6] * 30
    assert len(page["items"]) == 2
    assert made[f"Query {PHOTOS}"] == 2  # this page, and one COUNT
    assert made[f"UpdateItem {LIMITS}"] == 1  # the page's charge
    assert reads(made) == 3
    assert charged_units(stack) == 1


def test_the_caller_s_photo_list_is_one_query_however_often_it_is_selected(stack: Stack) -> None:
    for _ in range(2):
        upload()
    lists = " ".join(f"p{n}: profilePhotos {{ assetId }}" for n in range(5))
    query = f'{{ me {{ {lists} }} mine: user(id: "{CALLER}") {{ profilePhotos {{ url }} }} }}'

    response, made = calls_of(query)

    assert "errors" not in response
    me = response["data"]["me"]
    assert all(len(me[f"p{n}"]) == 2 for n in range(5))
    assert len(response["data"]["mine"]["profilePhotos"]) == 2
    assert made[f"GetItem {USERS}"] == 1
    assert made[f"Query {PHOTOS} {ACTIVE_INDEX}"] == 1
    assert reads(made) == 2


def test_a_mutation_s_result_is_read_after_the_change_not_from_the_request_s_earlier_reads(
    stack: Stack,
) -> None:
    """Mutations run in order and the request's loader forgets its reads at each one: the
    second restore's photo list, read after its change, holds the photo it restored (a list
    remembered from the first restore's result would not)."""
    uploaded = [upload()["assetId"] for _ in range(6)]
    run_retention(stack)  # keeps the newest 5 active: uploaded[0] is archived
    query = (
        "mutation ($active: ID!, $archived: ID!) {"
        " one: restoreProfilePhoto(assetId: $active) { user { profilePhotos { assetId } } }"
        " two: restoreProfilePhoto(assetId: $archived) { user { profilePhotos { assetId } } }"
        " }"
    )

    response = gql(query, {"active": uploaded[-1], "archived": uploaded[0]})

    assert "errors" not in response
    one = response["data"]["one"]["user"]["profilePhotos"]
    two = response["data"]["two"]["user"]["profilePhotos"]
    assert uploaded[0] not in [photo["assetId"] for photo in one]
    assert two[0]["assetId"] == uploaded[0]  # active again, and the newest
    assert len(two) == 6  # until retention runs again


# --- the bound, for any accepted query --------------------------------------------------------

IDS = [CALLER, "someone-else", "never-seen", "a/b", ""]  # the last two cannot be user ids
FIELDS = [
    "id",
    "username",
    "profilePhotoUrl",
    "large: profilePhotoUrl(size: LARGE)",
    "profilePhotoUploadedAt",
    "profilePhotos { assetId url(size: SMALL) }",
]


@dataclass(frozen=True)
class Root:
    field: str  # "me" or "user"
    id: str | None
    fields: tuple[str, ...]
    spread: bool  # the fields sit in a fragment spread


def random_query(rng: random.Random) -> tuple[str, list[Root]]:
    roots = [
        Root(
            field=rng.choice(["me", "user"]),
            id=rng.choice(IDS),
            fields=tuple(rng.sample(FIELDS, rng.randint(1, 3))),
            spread=rng.random() < 0.3,
        )
        for _ in range(rng.randint(1, 120))
    ]
    fragments, parts = {}, []
    for n, root in enumerate(roots):
        head = "me" if root.field == "me" else f"user(id: {quote(root.id or '')})"
        if root.spread:
            name = "F" + "_".join(str(FIELDS.index(field)) for field in root.fields)
            fragments[name] = f"fragment {name} on User {{ {' '.join(root.fields)} }}"
            parts.append(f"r{n}: {head} {{ ...{name} }}")
        else:
            parts.append(f"r{n}: {head} {{ {' '.join(root.fields)} }}")
    return "{ " + " ".join(parts) + " } " + " ".join(fragments.values()), roots


def quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def bound(roots: list[Root]) -> tuple[int, int]:
    """(distinct users read, photo lists of the caller read) for an accepted operation."""
    users = {CALLER if r.field == "me" else r.id for r in roots}
    readable = {user for user in users if user and "/" not in user}
    owner = any(
        (r.field == "me" or r.id == CALLER) and any(f.startswith("profilePhotos") for f in r.fields)
        for r in roots
    )
    return len(readable), int(owner)


def test_any_accepted_query_reads_each_user_once_and_a_refused_one_reads_nothing(
    stack: Stack,
) -> None:
    """60 seeded random operations of 1 to 120 aliased `user`/`me` fields (some through
    fragments, some ids impossible, some never seen): an accepted one makes exactly one
    GetItem per distinct user id and at most one Query of the caller's photos; one over the
    cost limit makes none."""
    upload()
    gql("{ me { id } }", user="someone-else")  # a second user with an item
    rng = random.Random(24_05)
    accepted = refused = 0

    for _ in range(60):
        query, roots = random_query(rng)
        response, made = calls_of(query)

        if response["status"] == 400:
            refused += 1
            assert codes(response) == ["GRAPHQL_VALIDATION_FAILED"], query
            assert response["errors"][0]["message"].startswith("The query exceeds the maximum")
            assert reads(made) == 0, query
            continue
        accepted += 1
        users, lists = bound(roots)
        assert made[f"GetItem {USERS}"] == users, query
        assert reads(made) <= users + lists, query
        assert made[f"UpdateItem {USERS}"] <= 1  # the claims refresh

    assert accepted >= 10
    assert refused >= 10
