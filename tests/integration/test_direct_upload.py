"""Direct upload (upload-url, PUT, complete) under moto, for LOCAL and R2."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import signed_fetch_handler
import upload_handler

from devkit.apigw import proxy_event
from testkit.events import signed_event, user_token
from testkit.images import jpeg_bytes, png_bytes
from testkit.invoke import HttpResult, invoke
from tests.integration.conftest import R2_BUCKETS, UPLOAD_DATA_KEYS, Stack

PREFIX = "/api/storage/profile-photo"
BIG = jpeg_bytes() + bytes(5 * 1024 * 1024 - len(jpeg_bytes()))  # exactly 5 MiB


def post_json(
    route: str, payload: Any, user: str = "demo-user", headers: dict[str, str] | None = None
) -> HttpResult:
    body = json.dumps(payload).encode()
    event = proxy_event(
        "POST",
        f"{PREFIX}/{route}",
        resource=f"{PREFIX}/{route}",
        headers={
            "Host": "localhost:3000",
            "Content-Type": "application/json",
            "Authorization": f"Bearer {user_token(sub=user)}",
            **(headers or {}),
        },
        body=body,
    )
    return invoke(upload_handler.lambda_handler, event)


def announce(size: int = len(BIG), name: str = "big.jpg", mime: str = "image/jpeg", **kw: Any):
    return post_json("upload-url", {"fileName": name, "contentType": mime, "size": size}, **kw)


def put(stack: Stack, grant: dict[str, Any], data: bytes, headers: dict | None = None) -> int:
    """Send the PUT the way a client would: to R2 directly, or to the signed endpoint."""
    sent = grant["headers"] if headers is None else headers
    if stack.provider == "R2":
        return requests.put(grant["uploadUrl"], data=data, headers=sent, timeout=10).status_code
    url = urlsplit(grant["uploadUrl"])
    key = url.path.removeprefix("/api/storage/signed/user-assets/")
    event = signed_event("put", parse_qs(url.query)["token"][0], method="PUT", key=key)
    event["headers"] |= sent
    event["body"] = base64.b64encode(data).decode()
    event["isBase64Encoded"] = True
    return invoke(signed_fetch_handler.lambda_handler, event).status


def test_five_mib_goes_through_upload_url_put_and_complete(stack: Stack) -> None:
    # Given a direct upload announced for a 5 MiB JPEG
    response = announce()
    assert response.status == 201, response.body
    grant = response.json()["data"]
    assert grant["method"] == "PUT"
    assert grant["fileKey"].startswith("staging/users/demo-user/")
    assert grant["headers"]["Content-Type"] == "image/jpeg"
    expires = datetime.fromisoformat(grant["expiresAt"])
    assert timedelta(minutes=14) < expires - datetime.now(UTC) <= timedelta(minutes=15)

    # When the client PUTs the bytes and completes
    assert put(stack, grant, BIG) == 200
    done = post_json("complete", {"fileKey": grant["fileKey"]})

    # Then it answers exactly like a multipart upload, and the staged object is gone
    assert done.status == 201, done.body
    data = done.json()["data"]
    assert set(data) == UPLOAD_DATA_KEYS
    assert data["size"] == len(BIG)
    assert data["fileName"] == "big.jpg"
    assert data["contentType"] == "image/jpeg"
    assert stack.objects() == [f"user-assets/{data['fileKey']}"]
    assert stack.read("user-assets", data["fileKey"]) == BIG
    (user,) = stack.items("USERS_TABLE")
    assert user["currentAssetId"] == {"S": data["assetId"]}


@pytest.mark.parametrize("provider", ["R2"], indirect=True)
def test_r2_grant_is_a_presigned_put_with_type_and_length_signed(stack: Stack) -> None:
    grant = announce().json()["data"]
    url = urlsplit(grant["uploadUrl"])
    signed = parse_qs(url.query)["X-Amz-SignedHeaders"][0].split(";")

    assert url.netloc == "testaccount.r2.cloudflarestorage.com"
    assert url.path == f"/{R2_BUCKETS['user-assets']}/{grant['fileKey']}"
    assert {"content-type", "content-length"} <= set(signed)
    assert grant["headers"]["Content-Length"] == str(len(BIG))
    # it ends with the grant, 900 s after its issue: a second may tick between the two
    assert 899 <= int(parse_qs(url.query)["X-Amz-Expires"][0]) <= 900


@pytest.mark.parametrize(
    ("payload", "status", "message"),
    [
        (
            {"fileName": "a.jpg", "contentType": "image/jpeg", "size": 5 * 1024 * 1024 + 1},
            400,
            "File size 5242881 exceeds maximum 5242880 bytes for profile photos",
        ),
        (
            {"fileName": "a.bmp", "contentType": "image/bmp", "size": 10},
            415,
            "Content type image/bmp not allowed. Allowed types: jpg, jpeg, png, gif, webp, "
            "heic, heif",
        ),
        (
            {"fileName": "a.png", "contentType": "image/jpeg", "size": 10},
            415,
            "File extension .png does not match content type image/jpeg",
        ),
        ({"fileName": "a.jpg", "contentType": "image/jpeg", "size": 0}, 400, "File is empty"),
        (
            {"fileName": "a.jpg", "contentType": "image/jpeg", "size": "10"},
            400,
            "size must be an integer number of bytes",
        ),
        ({"fileName": "a.jpg"}, 400, "fileName and contentType must be strings"),
        ([1, 2], 400, "Request body must be a JSON object"),
    ],
)
def test_upload_url_refusals_store_nothing(
    stack: Stack, payload: Any, status: int, message: str
) -> None:
    result = post_json("upload-url", payload)

    assert result.status == status
    assert result.json()["error"]["message"] == message
    stack.assert_unchanged()


def test_completing_bytes_that_fail_a_check_removes_the_staged_object(stack: Stack) -> None:
    grant = announce(size=len(png_bytes())).json()["data"]  # announced as JPEG
    assert put(stack, grant, png_bytes()) == 200  # ...but the bytes are a PNG

    result = post_json("complete", {"fileKey": grant["fileKey"]})

    assert result.status == 415
    assert result.json()["error"]["message"] == (
        "File content (magic number) is image/png, which does not match the content type image/jpeg"
    )
    assert stack.objects() == []  # the staged object is gone; its grant may be used again
    assert stack.items("PHOTOS_TABLE") == []


def test_complete_without_a_staged_object_or_for_another_user_is_404(stack: Stack) -> None:
    grant = announce().json()["data"]
    assert put(stack, grant, BIG) == 200

    other_user = post_json("complete", {"fileKey": grant["fileKey"]}, user="mallory")
    never_sent = post_json(
        "complete",
        {
            "fileKey": grant["fileKey"].replace(
                "staging/users/demo-user/", "staging/users/demo-user/0"
            )
        },
    )
    outside = post_json("complete", {"fileKey": "users/demo-user/profile-picture/x.jpg"})

    for result in (other_user, never_sent, outside):
        assert result.status == 404
        assert result.json()["error"]["code"] == "NOT_FOUND"
    assert len(stack.objects()) == 1  # the staged object is still there for its owner
    assert stack.items("PHOTOS_TABLE") == []


def test_completing_twice_registers_once(stack: Stack) -> None:
    grant = announce().json()["data"]
    put(stack, grant, BIG)

    first = post_json("complete", {"fileKey": grant["fileKey"]})
    second = post_json("complete", {"fileKey": grant["fileKey"]})

    assert (first.status, second.status) == (201, 409)
    assert second.json()["error"] == {"code": "CONFLICT", "message": "Upload already completed"}
    assert len(stack.items("PHOTOS_TABLE")) == 1


@pytest.mark.parametrize("provider", ["LOCAL"], indirect=True)
def test_local_put_token_is_bound_to_path_size_type_and_operation(stack: Stack) -> None:
    grant = announce(size=len(jpeg_bytes())).json()["data"]
    url = urlsplit(grant["uploadUrl"])
    token = parse_qs(url.query)["token"][0]
    key = grant["fileKey"]

    wrong_size = put(stack, grant, jpeg_bytes() + b"x")
    wrong_type = put(stack, grant, jpeg_bytes(), headers={"Content-Type": "image/png"})
    as_get = invoke(signed_fetch_handler.lambda_handler, signed_event("g", token, key=key))
    other = put(
        stack,
        grant | {"uploadUrl": grant["uploadUrl"].replace(key, key.replace(".jpg", "0.jpg"))},
        jpeg_bytes(),
    )

    assert (wrong_size, wrong_type, other) == (400, 400, 403)
    assert as_get.status == 403
    assert as_get.json()["error"]["message"] == (
        "Token verification failed: Token is not valid for GET requests"
    )
    assert stack.objects() == []


@pytest.mark.parametrize("provider", ["LOCAL"], indirect=True)
def test_a_get_token_cannot_upload(stack: Stack) -> None:
    from testkit.events import SAMPLE_KEY, storage_token

    event = signed_event("put-with-get", storage_token(), method="PUT", key=SAMPLE_KEY)
    event["body"] = base64.b64encode(jpeg_bytes()).decode()
    event["isBase64Encoded"] = True

    result = invoke(signed_fetch_handler.lambda_handler, event)

    assert result.status == 403
    assert result.json()["error"]["message"] == (
        "Token verification failed: Token is not valid for PUT requests"
    )
    assert stack.objects() == []


@pytest.mark.parametrize("provider", ["R2"], indirect=True)
def test_r2_lifecycle_rule_expires_the_staging_prefix_and_keeps_other_rules(
    stack: Stack,
) -> None:
    from ops.r2_lifecycle import RULE_ID, apply

    bucket = R2_BUCKETS["user-assets"]
    assert stack.s3 is not None
    other = {
        "ID": "keep-me",
        "Filter": {"Prefix": "logs/"},
        "Status": "Enabled",
        "Expiration": {"Days": 30},
    }
    stack.s3.put_bucket_lifecycle_configuration(
        Bucket=bucket, LifecycleConfiguration={"Rules": [other]}
    )

    apply(stack.s3, bucket)
    apply(stack.s3, bucket)  # idempotent

    rules = stack.s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert sorted(rule["ID"] for rule in rules) == sorted(["keep-me", RULE_ID])
    (ours,) = [rule for rule in rules if rule["ID"] == RULE_ID]
    assert ours["Filter"] == {"Prefix": "staging/"}
    assert ours["Expiration"] == {"Days": 1}
