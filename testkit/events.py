"""The sample API Gateway and stream events, and the builders they are made of.

Each event is what API Gateway (or a DynamoDB stream's event source mapping) hands a function
for one case. `tools/make_events.py` (`make events`) writes them to `events/`, which
`sam local invoke -e` and the integration tests read; the tests and the bench also build
variants in memory with the same builders. Tokens are signed with the development secrets in
`devkit/defaults.py` (also in `events/local-env.json`) and stay valid until 2100, except
the deliberately expired ones. Everything is deterministic: the same bytes on every run.
"""

from __future__ import annotations

import base64
import json
import uuid

import jwt
from requests_toolbelt import MultipartEncoder

from devkit.apigw import proxy_event
from devkit.defaults import DEV_JWT_SECRET, DEV_STORAGE_SECRET
from testkit import images

NOW = 1_767_225_600  # 2026-01-01T00:00:00Z
FOREVER = 4_102_444_800  # 2100-01-01T00:00:00Z
USER = "demo-user"
UPLOAD_PATH = "/api/storage/profile-photo/upload"
UPLOAD_RESOURCE = UPLOAD_PATH
SIGNED_RESOURCE = "/api/storage/signed/{bucket}/{filePath+}"
SAMPLE_KEY = f"users/{USER}/profile-picture/0b5c7a36-3f4e-4c39-9d0e-2f6a4c1e9a01.jpg"
BOUNDARY = "----profile-photos-sample-boundary"
MAX_SIZE = 5 * 1024 * 1024


def user_token(secret: str = DEV_JWT_SECRET, **claims: object) -> str:
    payload = {"sub": USER, "username": "demo", "iat": NOW, "exp": FOREVER, **claims}
    return jwt.encode(payload, secret, algorithm="HS256")


def unsigned_token(payload: dict[str, object]) -> str:
    def part(value: dict[str, object]) -> str:
        raw = json.dumps(value, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(payload)}."


def multipart(fields: dict[str, object]) -> tuple[bytes, str]:
    encoder = MultipartEncoder(fields=fields, boundary=BOUNDARY)
    return encoder.to_string(), encoder.content_type


def upload_event(
    case: str,
    body: bytes,
    content_type: str | None,
    token: str | None = None,
    *,
    authorization: str | None = None,
) -> dict[str, object]:
    headers = {"Host": "localhost:3000", "User-Agent": "curl/8.5.0", "Accept": "*/*"}
    if content_type:
        headers["Content-Type"] = content_type
    if authorization is None and token is not None:
        authorization = f"Bearer {token}"
    if authorization is not None:
        headers["Authorization"] = authorization
    return proxy_event(
        "POST",
        UPLOAD_PATH,
        resource=UPLOAD_RESOURCE,
        headers=headers,
        body=body,
        request_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"upload-{case}")),
        now=NOW,
    )


def file_upload(
    case: str,
    data: bytes,
    name: str,
    mime: str,
    token: str | None = None,
    **extra: str,
) -> dict[str, object]:
    body, ctype = multipart({"file": (name, data, mime), **extra})
    return upload_event(case, body, ctype, token if token is not None else user_token())


def upload_events() -> dict[str, dict[str, object]]:
    jpeg = images.jpeg_bytes()
    events = {
        f"valid-{ext}": file_upload(f"valid-{ext}", data, f"profile-photo.{ext}", mime)
        for ext, data, mime in (
            ("jpg", jpeg, "image/jpeg"),
            ("png", images.png_bytes(), "image/png"),
            ("gif", images.gif_bytes(), "image/gif"),
            ("webp", images.webp_bytes(), "image/webp"),
            ("heic", images.heic_bytes(), "image/heic"),
            ("heif", images.heif_bytes(), "image/heif"),
        )
    }
    oversize = jpeg[:4] + bytes(MAX_SIZE + 1 - 4)  # a JPEG magic number, then zeros
    empty_body, empty_type = multipart({"assetContext": "PROFILE_PICTURE"})
    events |= {
        "oversize": file_upload("oversize", oversize, "big.jpg", "image/jpeg"),
        "bmp": file_upload("bmp", images.bmp_bytes(), "photo.bmp", "image/bmp"),
        "mismatch": file_upload("mismatch", images.png_bytes(), "photo.jpg", "image/jpeg"),
        "empty-file": file_upload("empty-file", b"", "photo.jpg", "image/jpeg"),
        "missing-file": upload_event("missing-file", empty_body, empty_type, user_token()),
        "bad-asset-context": file_upload(
            "bad-asset-context", jpeg, "photo.jpg", "image/jpeg", assetContext="BANNER"
        ),
        "broken-multipart": upload_event(
            "broken-multipart",
            b"this is not a multipart body",
            f"multipart/form-data; boundary={BOUNDARY}",
            user_token(),
        ),
        "wrong-content-type": upload_event(
            "wrong-content-type", b'{"file": "x"}', "application/json", user_token()
        ),
        "no-token": file_upload("no-token", jpeg, "photo.jpg", "image/jpeg", token=""),
        "bad-token": file_upload(
            "bad-token",
            jpeg,
            "photo.jpg",
            "image/jpeg",
            token=user_token("another-secret-that-is-32-chars-or-more"),
        ),
        "expired-token": file_upload(
            "expired-token", jpeg, "photo.jpg", "image/jpeg", token=user_token(exp=NOW + 3600)
        ),
        "alg-none-token": file_upload(
            "alg-none-token",
            jpeg,
            "photo.jpg",
            "image/jpeg",
            token=unsigned_token({"sub": USER, "exp": FOREVER}),
        ),
        "bad-subject": file_upload(
            "bad-subject", jpeg, "photo.jpg", "image/jpeg", token=user_token(sub="../../etc")
        ),
    }
    # `no-token` carries no Authorization header at all.
    events["no-token"]["headers"].pop("Authorization")  # type: ignore[attr-defined]
    events["no-token"]["multiValueHeaders"].pop("Authorization")  # type: ignore[attr-defined]
    return events


def storage_token(path: str = SAMPLE_KEY, op: str = "GET", exp: int = FOREVER) -> str:
    claims = {"res": f"user-assets/{path}", "op": op, "iat": NOW, "exp": exp}
    return jwt.encode(claims, DEV_STORAGE_SECRET, algorithm="HS256")


def signed_event(
    case: str, token: str | None, *, method: str = "GET", key: str = SAMPLE_KEY
) -> dict[str, object]:
    return proxy_event(
        method,
        f"/api/storage/signed/user-assets/{key}",
        resource=SIGNED_RESOURCE,
        path_parameters={"bucket": "user-assets", "filePath": key},
        headers={"Host": "localhost:3000", "Accept": "image/*"},
        query={"token": [token]} if token is not None else None,
        request_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"signed-{case}")),
        now=NOW,
    )


def signed_events() -> dict[str, dict[str, object]]:
    valid = storage_token()
    header, payload, signature = valid.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["res"] = "user-assets/users/someone-else/profile-picture/x.jpg"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    other_key = SAMPLE_KEY.replace("0b5c7a36", "ffffffff")
    traversal = f"users/{USER}/../../../../etc/passwd"
    return {
        "get": signed_event("get", valid),
        "head": signed_event("head", valid, method="HEAD"),
        "expired": signed_event("expired", storage_token(exp=NOW + 3600)),
        "tampered": signed_event("tampered", f"{header}.{forged}.{signature}"),
        "missing-token": signed_event("missing-token", None),
        "other-path": signed_event("other-path", storage_token(path=other_key)),
        "put-token": signed_event("put-token", storage_token(op="PUT")),
        "alg-none": signed_event(
            "alg-none",
            unsigned_token({"res": f"user-assets/{SAMPLE_KEY}", "op": "GET", "exp": FOREVER}),
        ),
        "not-found": signed_event("not-found", storage_token(path=other_key), key=other_key),
        "traversal": signed_event("traversal", storage_token(path=traversal), key=traversal),
    }


GRAPHQL_QUERIES = {
    "user": (
        "query GetUserProfile($userId: ID!) { user(id: $userId) "
        "{ id username profilePhotoUrl profilePhotoUploadedAt } }",
        {"userId": USER},
    ),
    "me-photos": (
        "{ me { id username profilePhotoUrl profilePhotos "
        "{ assetId fileKey url contentType size uploadedAt } } }",
        None,
    ),
    "other-user-photos": (
        "query ($id: ID!) { user(id: $id) { id profilePhotos { assetId } } }",
        {"id": "someone-else"},
    ),
    "restore": (
        "mutation ($assetId: ID!) { restoreProfilePhoto(assetId: $assetId) "
        "{ photo { assetId url } user { profilePhotoUrl } } }",
        {"assetId": "0b5c7a36-3f4e-4c39-9d0e-2f6a4c1e9a01"},
    ),
    "delete": (
        "mutation ($assetId: ID!) { deleteProfilePhoto(assetId: $assetId) "
        "{ deletedCount deletedAssetIds currentPhoto { assetId } } }",
        {"assetId": "0b5c7a36-3f4e-4c39-9d0e-2f6a4c1e9a01"},
    ),
    "delete-all": ("mutation { deleteAllProfilePhotos { deletedCount deletedAssetIds } }", None),
    "export": (
        "mutation ($first: Int, $after: String) { exportProfilePhotos(first: $first, after: "
        "$after) { count expiresAt items { assetId fileKey url contentType size fileName "
        "uploadedAt archived archivedAt } pageInfo { hasNextPage endCursor } } }",
        {"first": 100, "after": None},
    ),
}


def graphql_event(case: str, query: str, variables: object, token: str | None) -> dict[str, object]:
    headers = {"Host": "localhost:3000", "Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    body = json.dumps({"query": query, "variables": variables}).encode()
    return proxy_event(
        "POST",
        "/graphql",
        resource="/graphql",
        headers=headers,
        body=body,
        request_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"graphql-{case}")),
        now=NOW,
    )


def graphql_events() -> dict[str, dict[str, object]]:
    events = {
        case: graphql_event(case, query, variables, user_token())
        for case, (query, variables) in GRAPHQL_QUERIES.items()
    }
    query, variables = GRAPHQL_QUERIES["me-photos"]
    events["no-token"] = graphql_event("no-token", query, variables, None)
    return events


def stream_record(
    user: str, asset_id: str, sort_key: str, sequence: int, event_name: str = "INSERT"
) -> dict[str, object]:
    """One record of the photos table's stream for an active photo, as Lambda delivers it."""
    image = {
        "userId": {"S": user},
        "assetId": {"S": asset_id},
        "activeSortKey": {"S": sort_key},
        "uploadedAt": {"S": sort_key.split("#", 1)[0]},
        "archived": {"BOOL": False},
    }
    return {
        "eventID": uuid.uuid5(uuid.NAMESPACE_URL, f"record-{user}-{asset_id}-{sequence}").hex,
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "eu-west-1",
        "dynamodb": {
            "ApproximateCreationDateTime": NOW + sequence,
            "Keys": {"userId": {"S": user}, "assetId": {"S": asset_id}},
            "NewImage": image,
            "SequenceNumber": f"{sequence:021d}",
            "SizeBytes": 200,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
        "eventSourceARN": "arn:aws:dynamodb:eu-west-1:123456789012:table/PhotosTable/stream/"
        "2026-01-01T00:00:00.000",
    }


def retention_events() -> dict[str, dict[str, object]]:
    ids = [str(uuid.uuid5(uuid.NAMESPACE_URL, f"photo-{i}")) for i in range(7)]
    records = [
        stream_record(USER, asset, f"2026-01-01T00:00:{i + 1:02d}.000Z#{asset}", i + 1)
        for i, asset in enumerate(ids)
    ]
    return {"batch": {"Records": records}}


def sample_events() -> dict[str, dict[str, object]]:
    """Every sample event, by its name in `events/` (without `.json`)."""
    return {
        **{f"upload-{case}": event for case, event in upload_events().items()},
        **{f"signed-fetch-{case}": event for case, event in signed_events().items()},
        **{f"graphql-{case}": event for case, event in graphql_events().items()},
        **{f"retention-{case}": event for case, event in retention_events().items()},
    }
