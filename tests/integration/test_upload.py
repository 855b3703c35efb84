"""The upload function under moto, for LOCAL and R2, fed with the events in `events/`."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import boto3
import jwt
import pytest
import upload_handler

from devkit.defaults import DEV_ENV, DEV_STORAGE_SECRET
from testkit.images import jpeg_bytes
from testkit.invoke import invoke
from tests.integration.conftest import UPLOAD_DATA_KEYS, Stack, load_event

ISO_MS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
ALLOWED = "jpg, jpeg, png, gif, webp, heic, heif"


@pytest.mark.parametrize(
    ("case", "content_type", "extension"),
    [
        ("valid-jpg", "image/jpeg", "jpg"),
        ("valid-png", "image/png", "png"),
        ("valid-gif", "image/gif", "gif"),
        ("valid-webp", "image/webp", "webp"),
        ("valid-heic", "image/heic", "heic"),
        ("valid-heif", "image/heif", "heif"),
    ],
)
def test_valid_upload_stores_file_registers_photo_and_makes_it_current(
    stack: Stack, case: str, content_type: str, extension: str
) -> None:
    # Given a valid upload event for each allowed type
    event = load_event(f"upload-{case}")

    # When the upload function handles it
    result = invoke(upload_handler.lambda_handler, event)

    # Then the contract's 201 envelope comes back
    assert result.status == 201, result.body
    body = result.json()
    assert body["success"] is True
    data = body["data"]
    assert set(data) == UPLOAD_DATA_KEYS
    assert re.fullmatch(
        rf"users/demo-user/profile-picture/{data['assetId']}\.{extension}", data["fileKey"]
    )
    assert data["fileName"] == f"profile-photo.{extension}"
    assert data["contentType"] == content_type
    assert ISO_MS.fullmatch(data["uploadedAt"])
    assert ISO_MS.fullmatch(data["expiresAt"])
    uploaded = datetime.fromisoformat(data["uploadedAt"])
    expires = datetime.fromisoformat(data["expiresAt"])
    # signed in 300 s windows: valid at least the TTL after the upload, at most a window more
    assert timedelta(seconds=3599) <= expires - uploaded <= timedelta(seconds=3600 + 300)

    # and the bytes are stored under the returned key, exactly as sent
    assert stack.objects() == [f"user-assets/{data['fileKey']}"]
    stored = stack.read("user-assets", data["fileKey"])
    assert len(stored) == data["size"]

    # and the signed URL points at that file, for GET, until expiresAt
    url = urlsplit(data["uploadUrl"])
    assert url.path == f"/api/storage/signed/user-assets/{data['fileKey']}"
    assert f"{url.scheme}://{url.netloc}" == "https://localhost:3000"
    claims = jwt.decode(parse_qs(url.query)["token"][0], DEV_STORAGE_SECRET, algorithms=["HS256"])
    assert claims["res"] == f"user-assets/{data['fileKey']}"
    assert claims["op"] == "GET"
    assert claims["exp"] == int(expires.timestamp())

    # and the photo is registered, active, and the user's current photo
    (photo,) = stack.items("PHOTOS_TABLE")
    assert photo["userId"] == {"S": "demo-user"}
    assert photo["assetId"] == {"S": data["assetId"]}
    assert photo["sha256"] == {"S": hashlib.sha256(stored).hexdigest()}
    assert photo["archived"] == {"BOOL": False}
    assert photo["activeSortKey"]["S"].startswith(data["uploadedAt"])
    (user,) = stack.items("USERS_TABLE")
    assert user["id"] == {"S": "demo-user"}
    assert user["username"] == {"S": "demo"}
    assert user["currentAssetId"] == {"S": data["assetId"]}
    assert user["currentFileKey"] == {"S": data["fileKey"]}
    assert user["currentUploadedAt"] == {"S": data["uploadedAt"]}


def test_newest_upload_becomes_current_and_older_stays_registered(stack: Stack) -> None:
    first = invoke(upload_handler.lambda_handler, load_event("upload-valid-jpg")).json()["data"]
    second = invoke(upload_handler.lambda_handler, load_event("upload-valid-png")).json()["data"]

    assert len(stack.items("PHOTOS_TABLE")) == 2
    (user,) = stack.items("USERS_TABLE")
    assert user["currentAssetId"] == {"S": second["assetId"]}
    assert first["assetId"] != second["assetId"]


def test_base_url_setting_overrides_the_request_host(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from profile_photos.services import reset

    monkeypatch.setenv("LOCAL_STORAGE_BASE_URL", "https://api.example.com/api/storage/")
    reset()

    data = invoke(upload_handler.lambda_handler, load_event("upload-valid-jpg")).json()["data"]

    assert data["uploadUrl"].startswith(
        f"https://api.example.com/api/storage/signed/user-assets/{data['fileKey']}?token="
    )


REJECTIONS = [
    (
        "oversize",
        400,
        "VALIDATION_FAILED",
        "File size 5242881 exceeds maximum 5242880 bytes for profile photos",
    ),
    (
        "bmp",
        415,
        "VALIDATION_FAILED",
        f"Content type image/bmp not allowed. Allowed types: {ALLOWED}",
    ),
    (
        "mismatch",
        415,
        "VALIDATION_FAILED",
        "File content (magic number) is image/png, which does not match the content type "
        "image/jpeg",
    ),
    ("empty-file", 400, "VALIDATION_FAILED", "File is empty"),
    (
        "missing-file",
        400,
        "VALIDATION_FAILED",
        "Missing required form field 'file' (the image file)",
    ),
    (
        "bad-asset-context",
        400,
        "VALIDATION_FAILED",
        "assetContext 'BANNER' is not supported. Allowed values: PROFILE_PICTURE",
    ),
    ("broken-multipart", 400, "VALIDATION_FAILED", "Malformed multipart/form-data body"),
    (
        "wrong-content-type",
        400,
        "VALIDATION_FAILED",
        "Content-Type must be multipart/form-data, got application/json",
    ),
    ("no-token", 401, "UNAUTHORIZED", "Missing Authorization header with a Bearer token"),
    ("bad-token", 401, "UNAUTHORIZED", "Invalid token signature"),
    ("expired-token", 401, "UNAUTHORIZED", "Token has expired"),
    ("alg-none-token", 401, "UNAUTHORIZED", "Token algorithm none is not accepted"),
    (
        "bad-subject",
        401,
        "UNAUTHORIZED",
        "Token subject must be 1-128 characters of A-Z, a-z, 0-9, _ or -",
    ),
]


@pytest.mark.parametrize(("case", "status", "code", "message"), REJECTIONS)
def test_rejected_upload_answers_the_envelope_and_changes_nothing(
    stack: Stack, case: str, status: int, code: str, message: str
) -> None:
    # Given a bad upload event
    event = load_event(f"upload-{case}")

    # When the upload function handles it
    result = invoke(upload_handler.lambda_handler, event)

    # Then the contract's error envelope comes back
    assert result.status == status
    assert result.headers["content-type"] == "application/json"
    assert result.json() == {"success": False, "error": {"code": code, "message": message}}
    # and nothing was stored or written
    stack.assert_unchanged()


def _with_token(event: dict, token: str) -> dict:
    event["headers"]["Authorization"] = f"Bearer {token}"
    event["multiValueHeaders"]["Authorization"] = [f"Bearer {token}"]
    return event


def _token(**claims: object) -> str:
    now = int(datetime.now(UTC).timestamp())
    payload = {"sub": "demo-user", "exp": now + 600, **claims}
    return jwt.encode(payload, DEV_ENV["JWT_SECRET"], algorithm="HS256")


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ({"sub": None}, "Token is missing the 'sub' claim"),
        ({"exp": None}, "Token is missing the 'exp' claim"),
        ({"sub": "a" * 129}, "Token subject must be 1-128 characters of A-Z, a-z, 0-9, _ or -"),
        ({"sub": "ünïcode"}, "Token subject must be 1-128 characters of A-Z, a-z, 0-9, _ or -"),
    ],
)
def test_token_without_a_usable_subject_or_expiry_is_401(
    stack: Stack, claims: dict, message: str
) -> None:
    now = int(datetime.now(UTC).timestamp())
    payload = {"sub": "demo-user", "exp": now + 600, **claims}
    payload = {k: v for k, v in payload.items() if v is not None}
    token = jwt.encode(payload, DEV_ENV["JWT_SECRET"], algorithm="HS256")

    result = invoke(
        upload_handler.lambda_handler, _with_token(load_event("upload-valid-jpg"), token)
    )

    assert result.status == 401
    assert result.json()["error"] == {"code": "UNAUTHORIZED", "message": message}
    stack.assert_unchanged()


@pytest.mark.parametrize(
    ("setting", "claims", "message"),
    [
        ("JWT_ISSUER", {"iss": "https://evil.example"}, "Token issuer is not accepted"),
        ("JWT_ISSUER", {}, "Token is missing the 'iss' claim"),
        ("JWT_AUDIENCE", {"aud": "someone-else"}, "Token audience is not accepted"),
    ],
)
def test_issuer_and_audience_are_enforced_when_configured(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, setting: str, claims: dict, message: str
) -> None:
    from profile_photos.services import reset

    monkeypatch.setenv(setting, "https://issuer.example" if setting == "JWT_ISSUER" else "app")
    reset()

    event = _with_token(load_event("upload-valid-jpg"), _token(**claims))
    result = invoke(upload_handler.lambda_handler, event)

    assert result.status == 401
    assert result.json()["error"] == {"code": "UNAUTHORIZED", "message": message}
    stack.assert_unchanged()


def test_username_falls_back_to_preferred_username(stack: Stack) -> None:
    token = _token(preferred_username="jane")
    result = invoke(
        upload_handler.lambda_handler, _with_token(load_event("upload-valid-jpg"), token)
    )

    assert result.status == 201
    (user,) = stack.items("USERS_TABLE")
    assert user["username"] == {"S": "jane"}


def test_failed_metadata_write_removes_the_stored_file(stack: Stack) -> None:
    # Given the users table is gone, so registering the photo must fail after the file is stored
    boto3.client("dynamodb").delete_table(TableName=DEV_ENV["USERS_TABLE"])

    # When a valid photo is uploaded
    result = invoke(upload_handler.lambda_handler, load_event("upload-valid-jpg"))

    # Then the client gets a clean 503 envelope, and no orphan file or half-registered photo
    assert result.status == 503
    assert result.json() == {
        "success": False,
        "error": {"code": "SERVICE_UNAVAILABLE", "message": "Photo metadata could not be saved"},
    }
    assert stack.objects() == []
    assert stack.items("PHOTOS_TABLE") == []


def test_raw_body_without_base64_is_decoded_too(stack: Stack) -> None:
    # API Gateway sends text bodies unencoded when the media type is not binary
    event = load_event("upload-wrong-content-type")
    event["isBase64Encoded"] = False
    event["body"] = '{"file": "x"}'

    result = invoke(upload_handler.lambda_handler, event)

    assert result.status == 400
    assert result.json()["error"]["message"] == (
        "Content-Type must be multipart/form-data, got application/json"
    )
    stack.assert_unchanged()


def test_file_name_is_kept_only_as_sanitised_metadata(stack: Stack) -> None:
    from testkit.events import file_upload

    event = file_upload("traversal-name", jpeg_bytes(), "../../etc/pass\x00wd.jpg", "image/jpeg")

    data = invoke(upload_handler.lambda_handler, event).json()["data"]

    assert data["fileName"] == "passwd.jpg"
    assert data["fileKey"].startswith("users/demo-user/profile-picture/")
    assert stack.objects() == [f"user-assets/{data['fileKey']}"]


@pytest.mark.parametrize(
    ("data", "name", "mime", "message"),
    [
        (
            jpeg_bytes(),
            "photo.bmp",
            "image/jpeg",
            f"File extension .bmp not allowed. Allowed types: {ALLOWED}",
        ),
        (
            jpeg_bytes(),
            "photo.png",
            "image/png",
            "File content (magic number) is image/jpeg, which does not match the content type "
            "image/png",
        ),
        (
            b"%PDF-1.7 not an image at all",
            "photo.jpg",
            "image/jpeg",
            "File content is not a recognised image: its leading bytes (magic number) match "
            f"none of the allowed types. Allowed types: {ALLOWED}",
        ),
    ],
)
def test_other_type_disagreements_are_415_and_store_nothing(
    stack: Stack, data: bytes, name: str, mime: str, message: str
) -> None:
    from testkit.events import file_upload

    result = invoke(upload_handler.lambda_handler, file_upload("415", data, name, mime))

    assert result.status == 415
    assert result.json() == {
        "success": False,
        "error": {"code": "VALIDATION_FAILED", "message": message},
    }
    stack.assert_unchanged()
