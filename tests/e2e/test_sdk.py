"""The Python SDK (clients/python, installed into the venv as a user installs it) against the
real local stack over HTTP.

One file: one client surface, the SDK's client class, with the stacks its paths need (Lambda's
6 MB ceiling emulated, short URL lifetimes) and the proxy that drops a connection, shared by
the tests of its retries, its upload paths and its URL cache."""

from __future__ import annotations

import contextlib
import random
import re
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from PIL import Image
from profile_photos_client import (
    Crop,
    ProfilePhoto,
    ProfilePhotosClient,
    ProfilePhotosError,
    RetryPolicy,
)
from profile_photos_client.client import url_expiry

from devkit.token import make_token
from testkit import images
from tests.e2e.conftest import RunningStack

FAST = RetryPolicy(attempts=4, base=0.05, cap=0.2)
KEY = re.compile(rb"^idempotency-key:\s*(\S+)\r$", re.IGNORECASE | re.MULTILINE)


def client(url: str, user: str) -> ProfilePhotosClient:
    return ProfilePhotosClient(url, make_token(user, user.title()), retry=FAST)


def noise_png(side: int, seed: int = 0) -> bytes:
    """A real PNG of random pixels (barely compressible: about 3 bytes per pixel), with no
    metadata, so the service stores it byte for byte."""
    pixels = random.Random(seed).randbytes(side * side * 3)
    out = BytesIO()
    Image.frombytes("RGB", (side, side), pixels).save(out, "PNG", compress_level=1)
    return out.getvalue()


def fetch(url: str) -> bytes:
    response = requests.get(url, timeout=30, allow_redirects=False)
    if response.status_code == 302:  # R2 mode, a file too big to return inline: storage
        response = requests.get(response.headers["Location"], timeout=30)
    assert response.status_code == 200, response.text
    return response.content


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.fixture(scope="module")
def limited_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """AWS's ceiling emulated (an event over 6 MB after base64 is 413); R2 mode with the
    embedded S3 standing in for R2, so a direct upload's PUT bypasses Lambda as on AWS."""
    running = RunningStack(
        tmp_path_factory.mktemp("limited-stack"),
        {"LOCAL_EMULATE_LAMBDA_LIMITS": "1", "OBJECT_STORAGE_PROVIDER": "R2"},
    )
    yield running
    running.stop()


@pytest.fixture(scope="module")
def short_ttl_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """Signed URLs valid 3 s, minted per 3 s window: each lives at most 6 s."""
    running = RunningStack(
        tmp_path_factory.mktemp("short-ttl-stack"),
        {"SIGNED_URL_TTL_SECONDS": "3", "SIGNED_URL_WINDOW_SECONDS": "3"},
    )
    yield running
    running.stop()


def test_upload_progress_is_monotonic_and_ends_at_the_file_size(
    stack: RunningStack, tmp_path: Path
) -> None:
    # Given a 500 kB photo on disk
    data = noise_png(400)
    calls: list[tuple[int, int]] = []

    # When it is uploaded with a progress callback
    photo = client(stack.url, "sdk-progress").upload(
        write(tmp_path, "me.png", data), on_progress=lambda sent, total: calls.append((sent, total))
    )

    # Then progress only grows, in several steps, to the file's size; the photo is stored
    sent = [s for s, _ in calls]
    assert len(calls) > 3
    assert sent == sorted(sent)
    assert {total for _, total in calls} == {len(data)}
    assert calls[-1] == (len(data), len(data))
    assert photo.size == len(data)
    assert photo.file_name == "me.png"
    assert photo.content_type == "image/png"
    assert fetch(photo.upload_url) == data


def test_a_5_mb_file_goes_through_the_direct_upload_under_aws_limits(
    limited_stack: RunningStack, tmp_path: Path
) -> None:
    # Given a 5 MB photo (above the multipart ceiling AWS imposes)
    data = noise_png(1300)
    assert 5_000_000 < len(data) <= 5 * 1024 * 1024
    sdk = client(limited_stack.url, "sdk-big")
    routes: list[tuple[str, int]] = []
    sdk.session.hooks["response"].append(
        lambda r, **_: routes.append((urlsplit(r.url).path, r.status_code))
    )
    calls: list[int] = []

    # When it is uploaded
    photo = sdk.upload(write(tmp_path, "big.png", data), on_progress=lambda s, _: calls.append(s))

    # Then the SDK chose upload-url + PUT + complete by itself, and the bytes are intact
    paths = [path for path, _ in routes]
    assert "/api/storage/profile-photo/upload" not in paths
    assert paths[0] == "/api/storage/profile-photo/upload-url"
    assert paths[-1] == "/api/storage/profile-photo/complete"
    assert calls == sorted(calls)
    assert calls[-1] == len(data)
    assert photo.size == len(data)
    assert fetch(photo.upload_url) == data


def test_a_413_from_the_platform_switches_to_the_direct_upload(
    limited_stack: RunningStack, tmp_path: Path
) -> None:
    # Given a client told the deployment takes any multipart size (a self-hosted stack)
    data = noise_png(1300, seed=1)
    sdk = ProfilePhotosClient(
        limited_stack.url, make_token("sdk-413", None), retry=FAST, multipart_limit=10**9
    )
    routes: list[tuple[str, int]] = []
    sdk.session.hooks["response"].append(
        lambda r, **_: routes.append((urlsplit(r.url).path, r.status_code))
    )
    calls: list[int] = []

    # When the platform refuses the multipart body with 413
    photo = sdk.upload(write(tmp_path, "big.png", data), on_progress=lambda s, _: calls.append(s))

    # Then the upload still succeeds through upload-url + PUT + complete, and one photo exists
    # (after the token check a file over token_check_threshold starts with, on /graphql)
    uploads = [route for route in routes if route[0] != "/graphql"]
    assert uploads[0] == ("/api/storage/profile-photo/upload", 413)
    assert ("/api/storage/profile-photo/upload-url", 201) in routes
    assert routes[-1] == ("/api/storage/profile-photo/complete", 201)
    assert calls == sorted(calls)
    assert calls[-1] == len(data)
    assert fetch(photo.upload_url) == data
    assert [p.asset_id for p in sdk.photos()] == [photo.asset_id]


class DroppingProxy:
    """A loopback TCP proxy in front of the stack that breaks its first connection: `request`
    resets it after part of the request body arrived (nothing reaches the stack);
    `response` passes the whole request on and resets the connection instead of returning
    the answer (the stack did the work, the client never hears of it)."""

    def __init__(self, target: str, mode: str) -> None:
        parts = urlsplit(target)
        self.target = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.mode = mode
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.heads: list[bytes] = []  # the first bytes each connection carried
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                downstream, _ = self.listener.accept()
            except OSError:
                return
            index = len(self.heads)
            self.heads.append(b"")
            threading.Thread(target=self._serve, args=(downstream, index), daemon=True).start()

    def _serve(self, downstream: socket.socket, index: int) -> None:
        upstream = socket.create_connection(self.target)
        breaking = index == 0
        if breaking and self.mode == "request":
            received = b""
            while len(received) < 128 * 1024:
                chunk = downstream.recv(65536)
                if not chunk:
                    break
                received += chunk
                self.heads[index] = received[:8192]
            reset(downstream)
            upstream.close()
            return

        def pump_up() -> None:
            try:
                while chunk := downstream.recv(65536):
                    if not self.heads[index]:
                        self.heads[index] = chunk[:8192]
                    upstream.sendall(chunk)
            except OSError:
                pass

        threading.Thread(target=pump_up, daemon=True).start()
        try:
            while chunk := upstream.recv(65536):
                if breaking:  # the stack answered: the client never gets it
                    break
                downstream.sendall(chunk)
        except OSError:
            pass
        reset(downstream)
        upstream.close()

    def close(self) -> None:
        self.listener.close()


def reset(connection: socket.socket) -> None:
    """Close with RST (SO_LINGER 0): what a dropped mobile connection looks like."""
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    with contextlib.suppress(OSError):  # wakes the pump thread blocked on it
        connection.shutdown(socket.SHUT_RDWR)
    connection.close()


@pytest.mark.parametrize("mode", ["request", "response"])
def test_a_dropped_connection_is_retried_under_one_key_and_stores_one_photo(
    stack: RunningStack, tmp_path: Path, mode: str
) -> None:
    # Given a connection that breaks on the first upload attempt
    user = f"sdk-drop-{mode}"
    proxy = DroppingProxy(stack.url, mode)
    data = noise_png(320, seed=2)
    try:
        # When the SDK uploads through it
        photo = client(proxy.url, user).upload(write(tmp_path, "drop.png", data))
    finally:
        proxy.close()

    # Then the first attempt really broke, the retry carried the same Idempotency-Key,
    # and exactly one photo exists, the one the SDK returned
    uploads = [
        head for head in proxy.heads if head.startswith(b"POST /api/storage/profile-photo/upload ")
    ]
    assert len(uploads) == 2
    keys = [KEY.search(head) for head in uploads]
    assert all(keys)
    assert keys[0][1] == keys[1][1]  # type: ignore[index]
    assert [p.asset_id for p in client(stack.url, user).photos()] == [photo.asset_id]
    assert fetch(photo.upload_url) == data


def test_the_url_cache_refetches_before_the_url_expires(
    short_ttl_stack: RunningStack, tmp_path: Path
) -> None:
    # Given a user with a photo, and URLs that live a few seconds
    sdk = client(short_ttl_stack.url, "sdk-cache")
    sdk.upload(write(tmp_path, "c.png", images.png_bytes()))
    asked: list[str] = []
    sdk.session.hooks["response"].append(lambda r, **_: asked.append(urlsplit(r.url).path))

    # When the URL is asked for twice at once, then again once its expiry is close
    first = sdk.profile_photo_url("sdk-cache")
    again = sdk.profile_photo_url("sdk-cache")
    assert first is not None
    expiry = url_expiry(first)
    assert expiry is not None
    assert expiry - time.time() <= 6
    cached_calls = asked.count("/graphql")
    time.sleep(max(0.0, expiry - time.time() - 0.4))
    later = sdk.profile_photo_url("sdk-cache")

    # Then the second came from the cache; the later one was fetched anew and still works
    assert again == first
    assert cached_calls == 1
    assert asked.count("/graphql") == 2
    assert later is not None
    assert later != first
    assert (url_expiry(later) or 0) > expiry
    assert fetch(later) == images.png_bytes()


def test_export_downloads_every_photo_with_matching_bytes(
    stack: RunningStack, tmp_path: Path
) -> None:
    # Given a user with three photos
    sdk = client(stack.url, "sdk-export")
    sent = {}
    for seed in range(3):
        data = noise_png(40, seed=seed)
        sent[sdk.upload(write(tmp_path, f"{seed}.png", data)).asset_id] = data

    # When they export into a directory, one photo per page
    export = sdk.export(tmp_path / "out", page_size=1)

    # Then every photo is there, byte for byte, with a manifest
    assert export.count == 3
    assert {p.asset_id: p.path.read_bytes() for p in export.photos} == sent
    assert all(p.path.parent == tmp_path / "out" for p in export.photos)
    assert (tmp_path / "out" / "export.json").is_file()


def test_restore_delete_and_delete_all_manage_the_callers_photos(
    stack: RunningStack, tmp_path: Path
) -> None:
    # Given two photos, the second current
    sdk = client(stack.url, "sdk-manage")
    first = sdk.upload(write(tmp_path, "a.png", noise_png(30, seed=5)))
    second = sdk.upload(write(tmp_path, "b.png", noise_png(30, seed=6)))
    assert [p.asset_id for p in sdk.photos()] == [second.asset_id, first.asset_id]

    # When the first is restored, the second deleted, then everything erased
    restored = sdk.restore(first.asset_id)
    now_first = sdk.photos()[0].asset_id
    deleted = sdk.delete(second.asset_id)
    erased = sdk.delete_all()

    # Then each step shows in the answers and the photo list
    assert restored.asset_id == first.asset_id
    assert now_first == first.asset_id
    assert deleted.deleted_asset_ids == (second.asset_id,)
    assert deleted.current_photo is not None
    assert deleted.current_photo.asset_id == first.asset_id
    assert erased.deleted_asset_ids == (first.asset_id,)
    assert erased.current_photo is None
    assert sdk.photos() == []
    assert sdk.profile_photo_url("sdk-manage") is None


def test_errors_carry_the_contracts_status_code_and_message(
    stack: RunningStack, tmp_path: Path
) -> None:
    sdk = client(stack.url, "sdk-errors")

    with pytest.raises(ProfilePhotosError) as bmp:
        sdk.upload(write(tmp_path, "x.bmp", images.bmp_bytes()), content_type="image/bmp")
    with pytest.raises(ProfilePhotosError) as unknown:
        sdk.delete(str(uuid.uuid4()))
    with pytest.raises(ProfilePhotosError) as unauthenticated:
        ProfilePhotosClient(stack.url, "not-a-jwt", retry=FAST).photos()

    assert (bmp.value.status, bmp.value.code) == (415, "VALIDATION_FAILED")
    assert bmp.value.message.startswith("Content type image/bmp not allowed.")
    assert unknown.value.code == "NOT_FOUND"
    assert (unauthenticated.value.status, unauthenticated.value.code) == (401, "UNAUTHORIZED")
    assert sdk.photos() == []


# --- avatars: square renditions, crops, placeholders ------------------------------------------

RED, BLUE = (220, 20, 20), (20, 40, 220)
# a 240 x 160 photo: blue, with a red 100 px square at (40, 10); its centre square (40, 0, 160)
# is red in the middle, the square (140, 60, 100) is all blue
LEFT_RED = (40, 10, 100)
RIGHT_BLUE = (140, 60, 100)
HEX = re.compile(r"^#[0-9a-f]{6}$")


def two_colour_png() -> bytes:
    picture = Image.new("RGB", (240, 160), BLUE)
    picture.paste(RED, (40, 10, 140, 110))
    out = BytesIO()
    picture.save(out, "PNG")
    return out.getvalue()


def rendered(sdk: ProfilePhotosClient, asset_id: str, timeout: float = 60.0) -> ProfilePhoto:
    """The photo once the service has made its renditions (crop, size and placeholders are
    null until then, normally for a second or two)."""
    deadline = time.monotonic() + timeout
    while True:
        found = [p for p in sdk.photos() if p.asset_id == asset_id]
        assert found, f"{asset_id} is not an active photo"
        if found[0].thumbhash is not None or time.monotonic() > deadline:
            return found[0]
        time.sleep(0.25)


def square_of(url: str) -> Image.Image:
    picture = Image.open(BytesIO(fetch(url)))
    picture.load()
    return picture


def colour_at_centre(picture: Image.Image) -> tuple[int, ...]:
    pixel = picture.convert("RGB").getpixel((picture.width // 2, picture.height // 2))
    assert isinstance(pixel, tuple)
    return pixel


def near(colour: tuple[int, ...], expected: tuple[int, int, int]) -> bool:
    return all(abs(a - b) <= 40 for a, b in zip(colour, expected, strict=True))


@pytest.mark.parametrize("route", ["multipart", "direct"])
def test_a_crop_given_at_upload_is_the_photos_crop_and_its_squares(
    stack: RunningStack, tmp_path: Path, route: str
) -> None:
    # Given a photo whose centre is red and whose lower right is blue
    sdk = client(stack.url, f"sdk-crop-{route}")
    if route == "direct":
        sdk.multipart_limit = 0  # upload-url + PUT + complete, the crop in upload-url's JSON

    # When it is uploaded with the lower right square as its crop
    uploaded = sdk.upload(write(tmp_path, "two.png", two_colour_png()), crop=RIGHT_BLUE)

    # Then the photo's crop is that square, chosen by the user, with the photo's placeholders
    photo = rendered(sdk, uploaded.asset_id)
    assert photo.crop == Crop(*RIGHT_BLUE, "USER")
    assert (photo.width, photo.height) == (240, 160)
    assert photo.thumbhash
    assert photo.dominant_color is not None
    assert HEX.match(photo.dominant_color)
    # and its squares are cut from it: 100 x 100 (never upscaled to 128), blue throughout
    small = square_of(sdk.photos(size="SMALL", square=True)[0].url)
    assert (small.format, small.size) == ("WEBP", (100, 100))
    assert near(colour_at_centre(small), BLUE)


def test_set_crop_changes_the_square_and_its_url(stack: RunningStack, tmp_path: Path) -> None:
    # Given a photo framed by the service (no face: the centre square, red in the middle)
    sdk = client(stack.url, "sdk-set-crop")
    uploaded = sdk.upload(write(tmp_path, "two.png", two_colour_png()))
    framed = rendered(sdk, uploaded.asset_id)
    assert framed.crop == Crop(40, 0, 160, "CENTER")
    before = sdk.photos(size="MEDIUM", square=True)[0].url
    assert near(colour_at_centre(square_of(before)), RED)

    # When the owner sets the lower right square as the crop
    changed = sdk.set_crop(uploaded.asset_id, *RIGHT_BLUE)

    # Then the photo says so, its square URL is a new one, and that square is the new crop
    assert changed.crop == Crop(*RIGHT_BLUE, "USER")
    assert changed.url != before
    current = sdk.profile_photo_url("sdk-set-crop", "MEDIUM", square=True)
    assert current is not None
    assert urlsplit(current).path == urlsplit(changed.url).path
    after = square_of(changed.url)
    assert after.size == (100, 100)
    assert near(colour_at_centre(after), BLUE)


def test_a_bad_crop_is_refused_with_the_services_message_and_changes_nothing(
    stack: RunningStack, tmp_path: Path
) -> None:
    sdk = client(stack.url, "sdk-bad-crop")
    photo = write(tmp_path, "two.png", two_colour_png())

    # A crop that does not lie inside the 240 x 160 photo: refused, nothing stored
    with pytest.raises(ProfilePhotosError) as outside:
        sdk.upload(photo, crop=(200, 0, 100))
    assert (outside.value.status, outside.value.code) == (400, "VALIDATION_FAILED")
    assert "inside the image" in outside.value.message
    assert sdk.photos() == []

    # A side below 32 later on: refused, the crop stays the service's own
    uploaded = sdk.upload(photo)
    framed = rendered(sdk, uploaded.asset_id)
    with pytest.raises(ProfilePhotosError) as small:
        sdk.set_crop(uploaded.asset_id, 0, 0, 31)
    assert small.value.code == "BAD_USER_INPUT"
    assert "32" in small.value.message
    assert rendered(sdk, uploaded.asset_id).crop == framed.crop

    # A square of the stored original is not a thing: said before anything is sent
    with pytest.raises(ValueError, match="square"):
        sdk.profile_photo_url("sdk-bad-crop", "ORIGINAL", square=True)
    with pytest.raises(ValueError, match="crop"):
        sdk.upload(photo, crop=(0, 0))  # type: ignore[arg-type]


def test_another_user_sees_the_avatar_with_its_placeholder(
    stack: RunningStack, tmp_path: Path
) -> None:
    # Given a user's photo, rendered
    owner = client(stack.url, "sdk-avatar-owner")
    uploaded = owner.upload(write(tmp_path, "two.png", two_colour_png()))
    photo = rendered(owner, uploaded.asset_id)

    # When another user asks for their avatar
    avatar = client(stack.url, "sdk-avatar-viewer").avatar("sdk-avatar-owner")

    # Then it is the MEDIUM square with the photo's own placeholder and colour
    assert avatar is not None
    assert (avatar.thumbhash, avatar.dominant_color) == (photo.thumbhash, photo.dominant_color)
    assert square_of(avatar.url).size == (160, 160)  # the crop's side: never upscaled
    assert client(stack.url, "sdk-avatar-viewer").avatar("sdk-nobody-here") is None


def test_a_deleted_photos_urls_stop_serving(stack: RunningStack, tmp_path: Path) -> None:
    # Given a photo and URLs handed out for it: the original, a size, a square
    sdk = client(stack.url, "sdk-gone")
    uploaded = sdk.upload(write(tmp_path, "two.png", two_colour_png()))
    rendered(sdk, uploaded.asset_id)
    urls = [
        uploaded.upload_url,
        sdk.photos(size="SMALL")[0].url,
        sdk.photos(size="LARGE", square=True)[0].url,
    ]
    assert all(requests.get(url, timeout=30).status_code == 200 for url in urls)

    # When it is deleted
    result = sdk.delete(uploaded.asset_id)

    # Then no CDN was there to purge (the local stack has none), and every URL is a 404
    assert result.purge is not None
    assert (result.purge.cdn, result.purge.invalidation_id) == (False, None)
    assert [requests.get(url, timeout=30).status_code for url in urls] == [404, 404, 404]
