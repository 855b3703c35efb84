"""Renditions over HTTP against the local stack: a HEIC, a large JPEG with GPS and
orientation 6, an animated GIF; every size served as upright, metadata-free WebP right after
the 201 (signed fetch invokes the renditions function through the local Lambda API) and
after the stream made them; the same URL for two viewers, 304 on revalidation; nothing left
under the user's prefix after deleteAll."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
import requests
from PIL import Image

from testkit import images
from testkit.images import webp_chunks
from tests.e2e.conftest import RunningStack
from tests.e2e.test_photo_lifecycle import eventually, gql, headers

UPLOAD = "/api/storage/profile-photo/upload"
SIZES = {"SMALL": 128, "MEDIUM": 512, "LARGE": 1024}
USER = "rena"


def camera_jpeg() -> bytes:
    """3000x2000, stored sideways (orientation 6), with GPS: the left half red."""
    picture = Image.new("RGB", (3000, 2000), (200, 0, 0))
    picture.paste((0, 0, 200), (1500, 0, 3000, 2000))
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 24.0)}
    out = io.BytesIO()
    picture.save(out, "JPEG", exif=exif, quality=90)
    return out.getvalue()


FILES = {
    "jpeg": ("camera.jpg", camera_jpeg(), "image/jpeg", (2000, 3000)),
    "heic": ("iphone.heic", images.heic_bytes(), "image/heic", None),
    "gif": ("anim.gif", images.gif_bytes(), "image/gif", None),
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """Its own stack: the last test erases everything under its user's prefix and asserts
    at once that nothing is left, so no render of this user's photos may still be running
    then; on the worker's shared stack, the other modules' renders delay this module's own
    (a view's render-on-miss, then the stream's render of the same photo, still writing)."""
    running = RunningStack(tmp_path_factory.mktemp("renditions"))
    yield running
    running.stop()


def size_urls(stack: RunningStack, viewer: str = USER) -> dict[str, str]:
    fields = " ".join(f"{size}: profilePhotoUrl(size: {size})" for size in SIZES)
    response = gql(stack, viewer, f'{{ user(id: "{USER}") {{ {fields} }} }}')
    assert "errors" not in response, response
    return response["data"]["user"]


def check(body: bytes, side: int, upright_size: tuple[int, int] | None) -> None:
    picture = Image.open(io.BytesIO(body))
    assert picture.format == "WEBP"
    assert not {"exif", "icc_profile", "xmp"} & set(picture.info)
    assert not {b"EXIF", b"XMP ", b"ICCP"} & set(webp_chunks(body))
    assert len(picture.getexif()) == 0
    if upright_size is None:
        assert max(picture.size) <= side
        return
    width, height = upright_size
    scale = side / max(width, height)
    assert max(picture.size) == side
    assert abs(picture.width - width * scale) <= 1  # the aspect ratio kept, to the pixel
    assert abs(picture.height - height * scale) <= 1
    # upright: the stored left (red) half is the top once orientation 6 is applied
    red, _, blue = picture.convert("RGB").getpixel((picture.width // 2, 3))
    assert red > 150 > blue


@pytest.mark.parametrize("kind", list(FILES))
def test_every_size_is_served_right_after_the_201_and_after_the_stream(
    stack: RunningStack, kind: str
) -> None:
    name, data, mime, upright = FILES[kind]
    uploaded = stack.post(UPLOAD, headers=headers(USER), files={"file": (name, data, mime)})
    assert uploaded.status_code == 201, uploaded.text

    urls = size_urls(stack)  # at once: before the stream has necessarily run
    for size, side in SIZES.items():
        served = requests.get(urls[size], timeout=30)
        assert served.status_code == 200, served.text
        assert served.headers["Content-Type"] == "image/webp"
        check(served.content, side, upright)

    stem = uploaded.json()["data"]["fileKey"].rpartition(".")[0].rpartition("/")[2]

    def made_by_the_stream() -> None:
        names = {path.name for path in stack.objects()}
        assert {f"{stem}.{size.lower()}.webp" for size in SIZES} <= names

    eventually(made_by_the_stream)
    for size, side in SIZES.items():
        check(requests.get(urls[size], timeout=30).content, side, upright)


def test_two_viewers_get_the_same_url_and_a_304(stack: RunningStack) -> None:
    stack.post(
        UPLOAD,
        headers=headers(USER),
        files={"file": ("p.png", images.png_bytes(), "image/png")},
    )
    first, second = size_urls(stack, "viewer-one"), size_urls(stack, "viewer-two")

    assert first == second
    served = requests.get(first["MEDIUM"], timeout=30)
    revalidate = {"If-None-Match": served.headers["ETag"]}
    again = requests.get(first["MEDIUM"], headers=revalidate, timeout=30)
    assert again.status_code == 304
    assert "immutable" in served.headers["Cache-Control"]


def test_delete_all_leaves_nothing_under_the_users_prefix(stack: RunningStack) -> None:
    stack.settled_objects()  # the stream's renditions of every upload above
    response = gql(stack, USER, "mutation { deleteAllProfilePhotos { deletedCount } }")

    assert response["data"]["deleteAllProfilePhotos"]["deletedCount"] >= 4
    assert [path for path in stack.objects() if f"/users/{USER}/" in str(path)] == []
