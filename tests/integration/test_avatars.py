"""Avatars under moto, both providers: square renditions cut from the crop box, the user's
crop at upload (multipart and direct) and later (`setProfilePhotoCrop`), the placeholders,
and square URLs that follow the crop and stop serving when the photo is erased."""

from __future__ import annotations

import io
from typing import Any

import pytest
import upload_handler
from PIL import Image

from testkit.events import file_upload, user_token
from testkit.invoke import invoke
from tests.integration.conftest import Stack, stream_records
from tests.integration.test_direct_upload import post_json, put
from tests.integration.test_graphql import codes, gql
from tests.integration.test_renditions import fetch, run_renditions

SIDES = {"SMALL": 128, "MEDIUM": 512, "LARGE": 1024}
PHOTO = """query { me { profilePhotos {
  assetId width height thumbhash dominantColor crop { left top side source }
  small: url(size: SMALL, square: true) large: url(size: LARGE, square: true)
} } }"""
SET_CROP = """mutation ($id: ID!, $crop: CropInput!) {
  setProfilePhotoCrop(assetId: $id, crop: $crop) {
    crop { left top side source } url(size: SMALL, square: true)
  }
}"""


def quadrants(width: int = 1600, height: int = 1200) -> bytes:
    """A landscape JPEG in four flat colours: red, green (top); blue, yellow (bottom)."""
    picture = Image.new("RGB", (width, height), (220, 0, 0))
    picture.paste((0, 200, 0), (width // 2, 0, width, height // 2))
    picture.paste((0, 0, 220), (0, height // 2, width // 2, height))
    picture.paste((230, 230, 0), (width // 2, height // 2, width, height))
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=92)
    return out.getvalue()


def upload(data: bytes, user: str = "demo-user", **fields: str) -> Any:
    event = file_upload("a", data, "q.jpg", "image/jpeg", token=user_token(sub=user), **fields)
    return invoke(upload_handler.lambda_handler, event)


def my_photo() -> dict[str, Any]:
    response = gql(PHOTO)
    assert "errors" not in response, response
    (photo,) = response["data"]["me"]["profilePhotos"]
    return photo


def picture(url: str) -> Image.Image:
    served = fetch(url)
    assert served.status == 200, served.body
    assert served.headers["content-type"] == "image/webp"
    return Image.open(io.BytesIO(served.body)).convert("RGB")


def near(colour: tuple[int, ...], expected: tuple[int, int, int]) -> bool:
    return all(abs(a - b) < 40 for a, b in zip(colour, expected, strict=False))


def test_a_users_crop_at_upload_cuts_every_square(stack: Stack) -> None:
    # the bottom-right quadrant (yellow) as the user's square
    assert upload(quadrants(), crop="900,650,500").status == 201

    photo = my_photo()
    assert photo["crop"] == {"left": 900, "top": 650, "side": 500, "source": "USER"}
    for url, side in ((photo["small"], 128), (photo["large"], 500)):  # never upscaled
        square = picture(url)
        assert square.size == (side, side)
        assert near(square.getpixel((side // 2, side // 2)), (230, 230, 0))


def test_placeholders_appear_once_the_renditions_are_made(stack: Stack) -> None:
    upload(quadrants())
    before = my_photo()
    assert [before[k] for k in ("width", "height", "thumbhash", "dominantColor")] == [None] * 4
    assert before["crop"] is None

    assert run_renditions(stack) == {"batchItemFailures": []}

    photo = my_photo()
    assert (photo["width"], photo["height"]) == (1600, 1200)
    assert photo["crop"] == {"left": 200, "top": 0, "side": 1200, "source": "CENTER"}
    assert photo["dominantColor"].startswith("#")
    assert len(photo["dominantColor"]) == 7
    assert len(photo["thumbhash"]) > 10
    # another user sees the current photo's placeholder on its public profile
    other = gql(
        '{ user(id: "demo-user") { profilePhotoThumbhash profilePhotoColor } }', user="viewer"
    )
    assert other["data"]["user"] == {
        "profilePhotoThumbhash": photo["thumbhash"],
        "profilePhotoColor": photo["dominantColor"],
    }


def test_writing_the_placeholders_wakes_no_retention(stack: Stack) -> None:
    upload(quadrants())
    run_renditions(stack)

    events = [record["eventName"] for record in stream_records(stack, "RetentionFunction")]

    assert events == ["INSERT"]  # not the placeholders' nor the render lease's MODIFY


@pytest.mark.parametrize(
    ("crop", "message"),
    [
        ("1500,0,200", "inside the image"),
        ("0,0,31", "at least 32"),
        ("0,0", "left,top,side"),
        ("-1,0,100", "left,top,side"),
        ("1,2,3e9", "left,top,side"),
    ],
)
def test_a_bad_crop_at_upload_is_refused_and_changes_nothing(
    stack: Stack, crop: str, message: str
) -> None:
    result = upload(quadrants(), crop=crop)

    assert result.status == 400, result.body
    error = result.json()["error"]
    assert error["code"] == "VALIDATION_FAILED"
    assert message in error["message"]
    stack.assert_unchanged()


def test_a_direct_uploads_crop_is_checked_at_complete(stack: Stack) -> None:
    data = quadrants()
    announced = {"fileName": "q.jpg", "contentType": "image/jpeg", "size": len(data)}
    bad = post_json("upload-url", {**announced, "crop": {"left": 0, "top": 0, "side": 8}})
    assert bad.status == 400
    assert "at least 32" in bad.json()["error"]["message"]

    grant = post_json("upload-url", {**announced, "crop": {"left": 100, "top": 100, "side": 400}})
    assert grant.status == 201, grant.body
    assert put(stack, grant.json()["data"], data) in (200, 204)
    done = post_json("complete", {"fileKey": grant.json()["data"]["fileKey"]})
    assert done.status == 201, done.body
    assert my_photo()["crop"] == {"left": 100, "top": 100, "side": 400, "source": "USER"}

    outside = post_json("upload-url", {**announced, "crop": {"left": 1500, "top": 0, "side": 400}})
    assert put(stack, outside.json()["data"], data) in (200, 204)
    refused = post_json("complete", {"fileKey": outside.json()["data"]["fileKey"]})
    assert refused.status == 400
    assert "inside the image" in refused.json()["error"]["message"]
    assert len(stack.items("PHOTOS_TABLE")) == 1


def test_a_new_crop_gives_new_square_urls_and_the_old_ones_stop(stack: Stack) -> None:
    upload(quadrants())
    run_renditions(stack)
    before = my_photo()
    old_url = before["small"]
    assert picture(old_url).size == (128, 128)
    old_squares = [key for key in stack.objects() if ".sq0." in key]
    assert len(old_squares) == 3

    changed = gql(SET_CROP, {"id": before["assetId"], "crop": {"left": 0, "top": 0, "side": 500}})

    assert "errors" not in changed, changed
    after = changed["data"]["setProfilePhotoCrop"]
    assert after["crop"] == {"left": 0, "top": 0, "side": 500, "source": "USER"}
    assert after["url"] != old_url
    assert [key for key in stack.objects() if ".sq0." in key] == []  # old squares removed
    assert fetch(old_url).status == 404  # an old URL never renders the new crop
    square = picture(after["url"])  # made on demand, from the new crop: the red quadrant
    assert near(square.getpixel((64, 64)), (220, 0, 0))
    assert my_photo()["small"] == after["url"]


@pytest.mark.parametrize(
    ("crop", "message"),
    [({"left": 1200, "top": 0, "side": 500}, "inside"), ({"left": 0, "top": 0, "side": 10}, "32")],
)
def test_a_bad_crop_later_is_bad_user_input_and_changes_nothing(
    stack: Stack, crop: dict[str, int], message: str
) -> None:
    upload(quadrants())
    run_renditions(stack)
    before = my_photo()

    response = gql(SET_CROP, {"id": before["assetId"], "crop": crop})

    assert codes(response) == ["BAD_USER_INPUT"]
    assert message in response["errors"][0]["message"]
    assert my_photo() == before


def test_only_the_owner_sets_a_crop(stack: Stack) -> None:
    upload(quadrants())
    run_renditions(stack)
    asset = my_photo()["assetId"]

    response = gql(
        SET_CROP, {"id": asset, "crop": {"left": 0, "top": 0, "side": 100}}, user="intruder"
    )

    assert codes(response) == ["NOT_FOUND"]
    assert my_photo()["crop"]["source"] == "CENTER"


def test_square_needs_a_rendition_size(stack: Stack) -> None:
    upload(quadrants())

    response = gql('{ user(id: "demo-user") { profilePhotoUrl(square: true) } }')

    assert codes(response) == ["BAD_USER_INPUT"]


def test_the_export_lists_each_sizes_square(stack: Stack) -> None:
    upload(quadrants())
    response = gql("mutation { exportProfilePhotos { items { renditions { size square url } } } }")

    (item,) = response["data"]["exportProfilePhotos"]["items"]
    listed = {(r["size"], r["square"]) for r in item["renditions"]}
    assert listed == {(size, square) for size in SIDES for square in (False, True)}
    for rendition in item["renditions"]:
        if rendition["square"]:
            side = SIDES[rendition["size"]]
            assert picture(rendition["url"]).size == (min(side, 1200), min(side, 1200))


def test_erasure_takes_every_square_with_it(stack: Stack) -> None:
    upload(quadrants())
    run_renditions(stack)
    photo = my_photo()

    response = gql(
        "mutation ($id: ID!) { deleteProfilePhoto(assetId: $id) {"
        " deletedCount purge { cdn invalidationId paths } } }",
        {"id": photo["assetId"]},
    )

    assert "errors" not in response, response
    purge = response["data"]["deleteProfilePhoto"]["purge"]
    assert purge["cdn"] is False
    assert purge["invalidationId"] is None
    assert purge["paths"]
    assert all(photo["assetId"] in path for path in purge["paths"])
    assert stack.objects() == []
    for url in (photo["small"], photo["large"]):
        assert fetch(url).status == 404


@pytest.fixture
def cdn(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> str:
    """A CDN as EnableCdn deploys it (moto's CloudFront): the distribution, the SSM
    parameter naming it, and the GraphQL function's env pointing at the parameter."""
    import boto3

    from profile_photos.services import reset
    from tests.integration.test_cdn_purge import PARAMETER, create_distribution

    distribution = create_distribution()
    boto3.client("ssm").put_parameter(Name=PARAMETER, Value=distribution, Type="String")
    monkeypatch.setenv("CDN_DISTRIBUTION_PARAMETER", PARAMETER)
    reset()
    return distribution


def test_erasure_and_a_new_crop_purge_the_photo_from_the_cdn_before_answering(
    stack: Stack, cdn: str
) -> None:
    from tests.integration.test_cdn_purge import invalidations, purged_paths

    upload(quadrants())
    run_renditions(stack)
    asset = my_photo()["assetId"]
    prefix = f"/api/storage/signed/user-assets/users/demo-user/profile-picture/{asset}*"

    cropped = gql(SET_CROP, {"id": asset, "crop": {"left": 0, "top": 0, "side": 500}})
    assert "errors" not in cropped, cropped
    assert [purged_paths(i) for i in invalidations(cdn)] == [[prefix]]  # the old squares

    response = gql(
        "mutation ($id: ID!) { deleteProfilePhoto(assetId: $id) {"
        " purge { cdn invalidationId paths } } }",
        {"id": asset},
    )

    purge = response["data"]["deleteProfilePhoto"]["purge"]
    assert purge["cdn"] is True
    assert purge["paths"] == [prefix]
    made = {i["Id"]: purged_paths(i) for i in invalidations(cdn)}
    assert made[purge["invalidationId"]] == [prefix]
    assert len(made) == 2
