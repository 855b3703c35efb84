"""The GraphQL function under moto, fed with the events in `events/`."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import graphql_handler
import jwt
import pytest
import retention_handler
import upload_handler

from devkit.context import LambdaContext
from devkit.defaults import DEV_STORAGE_SECRET
from testkit.events import GRAPHQL_QUERIES, file_upload, graphql_event, user_token
from testkit.images import jpeg_bytes
from testkit.invoke import invoke
from tests.integration.conftest import Stack, load_event, stream_records


def upload(user: str = "demo-user") -> dict[str, Any]:
    event = file_upload("gql", jpeg_bytes(), "me.jpg", "image/jpeg", token=user_token(sub=user))
    result = invoke(upload_handler.lambda_handler, event)
    assert result.status == 201
    time.sleep(0.002)
    return result.json()["data"]


def run_retention(stack: Stack) -> None:
    retention_handler.lambda_handler({"Records": stream_records(stack)}, LambdaContext())


def gql(
    query: str, variables: dict[str, Any] | None = None, user: str = "demo-user"
) -> dict[str, Any]:
    result = invoke(
        graphql_handler.lambda_handler, graphql_event("t", query, variables, user_token(sub=user))
    )
    assert result.headers["content-type"] == "application/json"
    return {"status": result.status, **result.json()}


def codes(response: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in response.get("errors", [])]


def test_user_query_returns_the_public_profile_with_a_signed_url(stack: Stack) -> None:
    photo = upload()

    result = invoke(graphql_handler.lambda_handler, load_event("graphql-user"))

    assert result.status == 200
    user = result.json()["data"]["user"]
    assert user["id"] == "demo-user"
    assert user["username"] == "demo"
    assert user["profilePhotoUploadedAt"] == photo["uploadedAt"]
    url = urlsplit(user["profilePhotoUrl"])
    assert url.path == f"/api/storage/signed/user-assets/{photo['fileKey']}"
    claims = jwt.decode(parse_qs(url.query)["token"][0], DEV_STORAGE_SECRET, algorithms=["HS256"])
    # signed in 300 s windows: valid at least the TTL, at most a window longer
    assert 3590 <= claims["exp"] - time.time() <= 3600 + 300


def test_unknown_user_is_null_and_user_without_photo_has_null_url(stack: Stack) -> None:
    assert gql('{ user(id: "never-seen") { id } }')["data"] == {"user": None}

    me = gql("{ me { id profilePhotoUrl profilePhotoUploadedAt } }", user="fresh-user")

    assert me["data"]["me"] == {
        "id": "fresh-user",
        "profilePhotoUrl": None,
        "profilePhotoUploadedAt": None,
    }


def test_request_without_token_is_refused_before_execution(stack: Stack) -> None:
    result = invoke(graphql_handler.lambda_handler, load_event("graphql-no-token"))

    assert result.status == 401
    assert result.json() == {
        "success": False,
        "error": {
            "code": "UNAUTHORIZED",
            "message": "Missing Authorization header with a Bearer token",
        },
    }
    assert stack.items("USERS_TABLE") == []


def test_me_lists_active_photos_newest_first_and_never_archived_ones(stack: Stack) -> None:
    uploaded = [upload()["assetId"] for _ in range(7)]
    run_retention(stack)

    response = gql("{ me { profilePhotos { assetId fileKey url contentType size uploadedAt } } }")

    listed = response["data"]["me"]["profilePhotos"]
    assert [p["assetId"] for p in listed] == list(reversed(uploaded[-5:]))
    assert all(p["contentType"] == "image/jpeg" for p in listed)
    assert all(p["size"] == len(jpeg_bytes()) for p in listed)
    assert all(p["url"].split("?")[0].endswith(p["fileKey"]) for p in listed)


def test_another_users_photo_list_is_forbidden(stack: Stack) -> None:
    upload("someone-else")

    result = invoke(graphql_handler.lambda_handler, load_event("graphql-other-user-photos"))

    body = result.json()
    assert body["data"] == {"user": None}  # the non-null list nulls its parent
    assert codes(body) == ["FORBIDDEN"]
    assert body["errors"][0]["message"] == "Only the owner can list a user's profile photos"


def test_public_fields_of_another_user_are_readable(stack: Stack) -> None:
    upload("someone-else")

    response = gql('{ user(id: "someone-else") { id profilePhotoUrl } }')

    assert response["data"]["user"]["profilePhotoUrl"].startswith("https://localhost:3000/")


def test_restore_makes_an_archived_photo_current_and_retention_keeps_it(stack: Stack) -> None:
    uploaded = [upload()["assetId"] for _ in range(7)]
    run_retention(stack)

    response = gql(
        "mutation ($id: ID!) { restoreProfilePhoto(assetId: $id) "
        "{ photo { assetId } user { profilePhotoUrl } } }",
        {"id": uploaded[0]},
    )
    run_retention(stack)

    assert response["data"]["restoreProfilePhoto"]["photo"]["assetId"] == uploaded[0]
    listed = gql("{ me { profilePhotos { assetId } } }")["data"]["me"]["profilePhotos"]
    assert [p["assetId"] for p in listed] == [uploaded[0], *reversed(uploaded[-4:])]
    current = gql("{ me { profilePhotoUrl } }")["data"]["me"]["profilePhotoUrl"]
    assert uploaded[0] in current


def test_delete_erases_bytes_and_metadata_and_moves_the_current_photo(stack: Stack) -> None:
    first, second = upload(), upload()

    response = gql(
        "mutation ($id: ID!) { deleteProfilePhoto(assetId: $id) "
        "{ deletedCount deletedAssetIds currentPhoto { assetId } } }",
        {"id": second["assetId"]},
    )

    assert response["data"]["deleteProfilePhoto"] == {
        "deletedCount": 1,
        "deletedAssetIds": [second["assetId"]],
        "currentPhoto": {"assetId": first["assetId"]},
    }
    assert stack.objects() == [f"user-assets/{first['fileKey']}"]
    assert [p["assetId"]["S"] for p in stack.items("PHOTOS_TABLE")] == [first["assetId"]]
    me = gql("{ me { profilePhotoUploadedAt } }")["data"]["me"]
    assert me["profilePhotoUploadedAt"] == first["uploadedAt"]


def test_delete_all_erases_everything_including_archived(stack: Stack) -> None:
    for _ in range(7):
        upload()
    run_retention(stack)

    response = gql("mutation { deleteAllProfilePhotos { deletedCount } }")

    assert response["data"]["deleteAllProfilePhotos"]["deletedCount"] == 7
    assert stack.objects() == []
    assert stack.items("PHOTOS_TABLE") == []
    me = gql("{ me { profilePhotoUrl profilePhotos { assetId } } }")["data"]["me"]
    assert me == {"profilePhotoUrl": None, "profilePhotos": []}


def test_export_lists_every_photo_including_archived_with_urls(stack: Stack) -> None:
    uploaded = [upload()["assetId"] for _ in range(7)]
    run_retention(stack)

    export = gql(*GRAPHQL_QUERIES["export"])["data"]["exportProfilePhotos"]

    assert export["count"] == 7
    # one page, in the table's key order (assetId), not upload order
    assert [item["assetId"] for item in export["items"]] == sorted(uploaded)
    assert export["pageInfo"]["hasNextPage"] is False
    archived = {item["assetId"]: item for item in export["items"] if item["archived"]}
    assert sorted(archived) == sorted(uploaded[:2])  # the two oldest
    assert all(item["archivedAt"] for item in archived.values())
    assert all("?token=" in item["url"] for item in export["items"])
    assert all(item["fileName"] == "me.jpg" for item in export["items"])


@pytest.mark.parametrize(
    "mutation",
    [
        "mutation ($id: ID!) { restoreProfilePhoto(assetId: $id) { photo { assetId } } }",
        "mutation ($id: ID!) { deleteProfilePhoto(assetId: $id) { deletedCount } }",
    ],
)
def test_a_user_cannot_touch_another_users_photo(stack: Stack, mutation: str) -> None:
    theirs = upload("someone-else")

    response = gql(mutation, {"id": theirs["assetId"]})

    assert codes(response) == ["NOT_FOUND"]
    assert len(stack.items("PHOTOS_TABLE")) == 1
    assert stack.objects() == [f"user-assets/{theirs['fileKey']}"]


def test_malformed_asset_id_is_bad_user_input(stack: Stack) -> None:
    response = gql('mutation { deleteProfilePhoto(assetId: "../x") { deletedCount } }')

    assert codes(response) == ["BAD_USER_INPUT"]


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("{ me { nope } }", "GRAPHQL_VALIDATION_FAILED"),
        ("{ me { ", "GRAPHQL_PARSE_FAILED"),
        ("{ __schema { types { name } } }", "GRAPHQL_VALIDATION_FAILED"),
    ],
)
def test_invalid_queries_and_introspection_are_refused(stack: Stack, query: str, code: str) -> None:
    response = gql(query)

    assert response["status"] == 400
    assert codes(response) == [code]


@pytest.mark.error_log_expected  # a resolver bug: logged with its traceback, hidden from clients
def test_internal_errors_are_hidden(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    from profile_photos import profiles

    def broken(user_id: str) -> None:
        raise RuntimeError("secret internals: table arn:aws:dynamodb:...")

    monkeypatch.setattr(profiles, "get_user", broken)

    response = gql("{ me { id } }")

    assert codes(response) == ["INTERNAL_SERVER_ERROR"]
    assert response["errors"][0]["message"] == "Internal server error"
    assert "secret" not in json.dumps(response)


def test_non_json_body_is_400(stack: Stack) -> None:
    event = load_event("graphql-me-photos")
    event["body"] = "bm90IGpzb24="  # "not json"

    result = invoke(graphql_handler.lambda_handler, event)

    assert result.status == 400
    assert codes(result.json()) == ["BAD_REQUEST"]
