"""Rate limits, idempotent retries, direct upload and metadata stripping over HTTP."""

from __future__ import annotations

import io
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from PIL import Image

from devkit.token import make_token
from testkit import images
from tests.e2e.conftest import RunningStack

PREFIX = "/api/storage/profile-photo"
MIB = 1024 * 1024
# A read: GraphQL mutations (an export page included) spend the same budget as uploads.
PHOTOS = "{ me { profilePhotos { assetId } } }"


def auth(user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token(user, user)}"}


def upload(
    stack: RunningStack,
    user: str,
    data: bytes,
    name: str = "p.jpg",
    mime: str = "image/jpeg",
    headers: dict[str, str] | None = None,
) -> requests.Response:
    return stack.post(
        f"{PREFIX}/upload",
        headers=auth(user) | (headers or {}),
        files={"file": (name, data, mime)},
    )


def padded_jpeg(size: int) -> bytes:
    """A real JPEG followed by padding up to `size` bytes (decoders stop at EOI)."""
    return images.jpeg_bytes() + bytes(size - len(images.jpeg_bytes()))


def photo_count(stack: RunningStack, user: str) -> int:
    """The user's active photos (at most RETENTION_ACTIVE_LIMIT: these tests store fewer)."""
    response = stack.post("/graphql", headers=auth(user), json={"query": PHOTOS}).json()
    return len(response["data"]["me"]["profilePhotos"])


def direct_upload(stack: RunningStack, user: str, data: bytes) -> requests.Response:
    grant = stack.post(
        f"{PREFIX}/upload-url",
        headers=auth(user),
        json={"fileName": "big.jpg", "contentType": "image/jpeg", "size": len(data)},
    )
    assert grant.status_code == 201, grant.text
    body = grant.json()["data"]
    put = requests.put(body["uploadUrl"], data=data, headers=body["headers"], timeout=30)
    assert put.status_code == 200, put.text
    return stack.post(f"{PREFIX}/complete", headers=auth(user), json={"fileKey": body["fileKey"]})


def wait_for_a_fresh_minute_if_close_to_its_end(margin: float = 8.0) -> None:
    """Fixed windows: keep one test's requests inside one minute."""
    left = 60 - time.time() % 60
    if left < margin:
        time.sleep(left + 0.1)


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    running = RunningStack(tmp_path_factory.mktemp("limited"), {"RATE_LIMIT_PER_MINUTE": "5"})
    yield running
    running.stop()


def test_sixth_upload_in_a_minute_is_429_with_retry_after_and_stores_nothing(
    limited: RunningStack,
) -> None:
    wait_for_a_fresh_minute_if_close_to_its_end()
    answers = [upload(limited, "rita", images.png_bytes(), "p.png", "image/png") for _ in range(6)]

    assert [a.status_code for a in answers] == [201] * 5 + [429]
    assert [a.headers.get("X-RateLimit-Remaining") for a in answers[:5]] == [
        "4",
        "3",
        "2",
        "1",
        "0",
    ]
    assert {a.headers["X-RateLimit-Limit"] for a in answers[:5]} == {"5"}
    refused = answers[5]
    assert refused.json()["error"]["code"] == "RATE_LIMITED"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert photo_count(limited, "rita") == 5


def test_a_3_mib_upload_costs_3_units(limited: RunningStack) -> None:
    wait_for_a_fresh_minute_if_close_to_its_end()
    first = upload(limited, "sam", padded_jpeg(3 * MIB))
    second = upload(limited, "sam", padded_jpeg(3 * MIB))

    assert first.status_code == 201
    assert first.headers["X-RateLimit-Remaining"] == "2"
    assert second.status_code == 429  # 3 more units do not fit in the 2 left
    assert photo_count(limited, "sam") == 1


def test_a_retried_upload_with_the_same_key_returns_the_same_asset(
    limited: RunningStack,
) -> None:
    key = {"Idempotency-Key": "retry-7f3a"}
    first = upload(limited, "tom", images.jpeg_bytes(), headers=key)
    retry = upload(limited, "tom", images.jpeg_bytes(), headers=key)
    reused = upload(limited, "tom", images.png_bytes(), "p.png", "image/png", headers=key)

    assert first.status_code == retry.status_code == 201
    assert retry.json()["data"]["assetId"] == first.json()["data"]["assetId"]
    assert reused.status_code == 422
    assert photo_count(limited, "tom") == 1


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    running = RunningStack(tmp_path_factory.mktemp("safe"))
    yield running
    running.stop()


def test_a_5_mib_file_goes_through_upload_url_put_and_complete(stack: RunningStack) -> None:
    data = padded_jpeg(5 * MIB)

    done = direct_upload(stack, "uma", data)

    assert done.status_code == 201, done.text
    photo = done.json()["data"]
    assert photo["size"] == len(data)
    served = requests.get(photo["uploadUrl"], timeout=30)
    assert served.status_code == 200
    assert served.content == data
    staging = stack.data_dir / "object-storage" / "user-assets" / "staging"
    assert not any(path.is_file() for path in staging.rglob("*"))


def gps_jpeg() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 CW
    exif[0x010F] = "SecretPhoneMaker"
    exif.get_ifd(0x8825).update({1: "N", 2: (52.0, 31.0, 12.0), 3: "E", 4: (13.0, 24.0, 1.0)})
    buffer = io.BytesIO()
    Image.new("RGB", (32, 24), (200, 40, 40)).save(buffer, "JPEG", exif=exif, quality=95)
    return buffer.getvalue()


def test_a_jpeg_with_gps_comes_back_without_it_and_keeps_orientation(
    stack: RunningStack,
) -> None:
    original = gps_jpeg()
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(0x8825)  # the fixture has GPS

    answer = upload(stack, "vic", original)

    assert answer.status_code == 201
    served = requests.get(answer.json()["data"]["uploadUrl"], timeout=10).content
    assert answer.json()["data"]["size"] == len(served) < len(original)
    image = Image.open(io.BytesIO(served))
    assert not image.getexif().get_ifd(0x8825)
    assert b"SecretPhoneMaker" not in served
    assert image.getexif()[0x0112] == 6
    assert image.tobytes() == Image.open(io.BytesIO(original)).tobytes()


def test_a_decompression_bomb_header_is_415(stack: RunningStack) -> None:
    import struct
    import zlib

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(kind + payload)
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 20000, 20000, 8, 2, 0, 0, 0)
    bomb = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")

    answer = upload(stack, "wes", bomb, "bomb.png", "image/png")

    assert answer.status_code == 415
    assert answer.json()["error"] == {
        "code": "VALIDATION_FAILED",
        "message": "Image is 20000x20000 px; the maximum is 16384 px a side and 100 megapixels",
    }


def test_emulated_lambda_limits_refuse_a_5_mib_multipart_but_not_a_direct_upload(
    tmp_path: Path,
) -> None:
    # R2 mode with the embedded moto S3 standing in for R2: the PUT bypasses Lambda, as on AWS
    running = RunningStack(
        tmp_path, {"LOCAL_EMULATE_LAMBDA_LIMITS": "1", "OBJECT_STORAGE_PROVIDER": "R2"}
    )
    try:
        data = padded_jpeg(5 * MIB)
        small = upload(running, "xan", padded_jpeg(4 * MIB))
        too_big = upload(running, "xan", data)
        direct = direct_upload(running, "xan", data)

        assert small.status_code == 201
        assert too_big.status_code == 413
        assert too_big.json()["success"] is False
        assert too_big.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
        assert "upload-url" in too_big.json()["error"]["message"]
        assert direct.status_code == 201, direct.text
        served = requests.get(direct.json()["data"]["uploadUrl"], timeout=30)
        assert served.status_code in (200, 302)
        final = (
            served
            if served.status_code == 200
            else requests.get(served.headers["Location"], timeout=30)
        )
        assert final.content == data
    finally:
        running.stop()


def test_stale_staged_uploads_are_removed_on_the_next_run(tmp_path: Path) -> None:
    staged = tmp_path / "object-storage" / "user-assets" / "staging" / "users" / "u" / "x.jpg"
    staged.parent.mkdir(parents=True)
    staged.write_bytes(b"never completed")
    old = time.time() - 3600
    os.utime(staged, (old, old))

    running = RunningStack(tmp_path)
    running.stop()

    assert not staged.exists()
    assert "removed 1 stale staged upload" in running.banner


def test_a_direct_upload_grant_registers_one_photo_however_it_is_replayed(
    stack: RunningStack,
) -> None:
    # Given one grant (one charge), PUT and completed once
    data = images.jpeg_bytes()
    grant = stack.post(
        f"{PREFIX}/upload-url",
        headers=auth("rita"),
        json={"fileName": "r.jpg", "contentType": "image/jpeg", "size": len(data)},
    ).json()["data"]
    first_put = requests.put(grant["uploadUrl"], data=data, headers=grant["headers"], timeout=30)
    second_put = requests.put(grant["uploadUrl"], data=data, headers=grant["headers"], timeout=30)
    complete = {"fileKey": grant["fileKey"]}
    first = stack.post(f"{PREFIX}/complete", headers=auth("rita"), json=complete)

    # When the same URL and complete are replayed
    requests.put(grant["uploadUrl"], data=data, headers=grant["headers"], timeout=30)
    replayed = stack.post(f"{PREFIX}/complete", headers=auth("rita"), json=complete)
    never_granted = stack.post(
        f"{PREFIX}/complete",
        headers=auth("rita"),
        json={"fileKey": f"staging/users/rita/{uuid.uuid4()}.jpg"},
    )

    # Then the staged key took one object, and one photo was registered
    assert first_put.status_code == 200
    assert second_put.status_code == 409
    assert second_put.json()["error"] == {"code": "CONFLICT", "message": "Upload already received"}
    assert first.status_code == 201, first.text
    assert replayed.status_code == 409
    assert replayed.json()["error"] == {"code": "CONFLICT", "message": "Upload already completed"}
    assert never_granted.status_code == 404
    assert never_granted.json()["error"]["message"] == "Upload not found"
    photos = stack.post(
        "/graphql", headers=auth("rita"), json={"query": "{ me { profilePhotos { assetId } } }"}
    ).json()["data"]["me"]["profilePhotos"]
    assert photos == [{"assetId": first.json()["data"]["assetId"]}]
    staging = stack.data_dir / "object-storage" / "user-assets" / "staging"
    assert not any(path.is_file() for path in staging.rglob("*"))
