"""Face-aware squares over HTTP against the local stack: a portrait near the right edge of a
wide photo is framed `FACE` with the whole face inside its square, a photo without a face is
framed `CENTER`, and the square URLs serve exactly that square; another user sees the
placeholders. The renditions function runs from the stream as deployed (its real detector)."""

from __future__ import annotations

import io
from typing import Any

import requests
from PIL import Image

from testkit import faces
from tests.e2e.conftest import RunningStack
from tests.e2e.test_photo_lifecycle import eventually, gql, headers

UPLOAD = "/api/storage/profile-photo/upload"
USER = "faye"
PHOTO = """{ me { profilePhotos { assetId width height crop { left top side source }
  square: url(size: LARGE, square: true) } } }"""


def upload_and_frame(stack: RunningStack, photo: faces.Photo) -> dict[str, Any]:
    """Upload `photo`, then its crop once the stream's renditions wrote it."""
    uploaded = stack.post(
        UPLOAD, headers=headers(USER), files={"file": ("p.jpg", photo.data, "image/jpeg")}
    )
    assert uploaded.status_code == 201, uploaded.text
    asset = uploaded.json()["data"]["assetId"]
    framed: dict[str, Any] = {}

    def cropped() -> None:
        response = gql(stack, USER, PHOTO)
        (found,) = [p for p in response["data"]["me"]["profilePhotos"] if p["assetId"] == asset]
        assert found["crop"] is not None
        framed.update(found)

    eventually(cropped)
    return framed


def test_a_face_off_centre_is_framed_whole(stack: RunningStack) -> None:
    # hopper's portrait at the right edge of a 2400x1600 photo
    photo = next(p for p in faces.face_photos() if p.name.endswith("2400x1600 at (1.00, 0.50)"))
    (face,) = photo.faces

    framed = upload_and_frame(stack, photo)

    crop = framed["crop"]
    assert crop["source"] == "FACE"
    assert (framed["width"], framed["height"]) == (2400, 1600)
    left, top, right, bottom = face
    assert crop["left"] <= left
    assert right <= crop["left"] + crop["side"]
    assert crop["top"] <= top
    assert bottom <= crop["top"] + crop["side"]
    assert crop["left"] > 2400 // 2  # not the centre square
    served = requests.get(framed["square"], timeout=30)
    assert served.status_code == 200, served.text
    square = Image.open(io.BytesIO(served.content))
    assert square.format == "WEBP"
    assert square.size == (min(1024, crop["side"]),) * 2


def test_a_photo_without_a_face_is_framed_in_the_centre(stack: RunningStack) -> None:
    photo = faces.faceless_photos()[0]

    framed = upload_and_frame(stack, photo)

    side = min(photo.width, photo.height)
    assert framed["crop"] == {
        "left": (photo.width - side) // 2,
        "top": (photo.height - side) // 2,
        "side": side,
        "source": "CENTER",
    }


def test_another_user_sees_the_current_photos_placeholders(stack: RunningStack) -> None:
    response = gql(
        stack,
        "someone-else",
        f'{{ user(id: "{USER}") {{ profilePhotoThumbhash profilePhotoColor '
        "profilePhotoUrl(size: SMALL, square: true) } }",
    )

    seen = response["data"]["user"]
    assert seen["profilePhotoThumbhash"]
    assert seen["profilePhotoColor"].startswith("#")
    small = requests.get(seen["profilePhotoUrl"], timeout=30)
    assert small.status_code == 200
    assert Image.open(io.BytesIO(small.content)).size == (128, 128)
