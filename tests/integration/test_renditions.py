"""Renditions under moto, both providers: made by the stream, on demand before it, erased
with their photo, exported beside it; and the same URL for every viewer within a window."""

from __future__ import annotations

import io
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import renditions_handler
import signed_fetch_handler
import upload_handler
from PIL import Image

from devkit.context import LambdaContext
from testkit.events import file_upload, signed_event, user_token
from testkit.images import gif_bytes, heic_bytes, webp_chunks
from testkit.invoke import HttpResult, invoke
from tests.integration.conftest import RenditionsFunction, Stack, stream_records
from tests.integration.test_graphql import gql

SIZES = {"SMALL": 128, "MEDIUM": 512, "LARGE": 1024}


def camera_jpeg(width: int = 2000, height: int = 1500, orientation: int = 6) -> bytes:
    """A landscape JPEG stored sideways (EXIF orientation 6: rotate 90 degrees to view)
    with a GPS position: the left half red, the right half blue."""
    picture = Image.new("RGB", (width, height), (200, 0, 0))
    picture.paste((0, 0, 200), (width // 2, 0, width, height))
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 24.0)}  # GPSInfo
    out = io.BytesIO()
    picture.save(out, "JPEG", exif=exif, quality=90)
    return out.getvalue()


def upload(data: bytes, name: str, mime: str, user: str = "demo-user") -> dict[str, Any]:
    event = file_upload("r", data, name, mime, token=user_token(sub=user))
    result = invoke(upload_handler.lambda_handler, event)
    assert result.status == 201, result.body
    return result.json()["data"]


def fetch(url: str, **headers: str) -> HttpResult:
    parts = urlsplit(url)
    key = parts.path.split("/signed/user-assets/", 1)[1]
    event = signed_event("r", parse_qs(parts.query)["token"][0], key=key)
    event["headers"] |= headers
    return invoke(signed_fetch_handler.lambda_handler, event)


def size_urls(user: str = "demo-user") -> dict[str, str]:
    fields = " ".join(f"{size}: profilePhotoUrl(size: {size})" for size in SIZES)
    response = gql(f'{{ user(id: "{user}") {{ ORIGINAL: profilePhotoUrl {fields} }} }}')
    assert "errors" not in response, response
    return response["data"]["user"]


def run_renditions(stack: Stack) -> dict[str, Any]:
    records = stream_records(stack, "RenditionsFunction")
    return renditions_handler.lambda_handler({"Records": records}, LambdaContext())


def assert_rendition(body: bytes, side: int, *, portrait: bool = True) -> Image.Image:
    picture = Image.open(io.BytesIO(body))
    assert picture.format == "WEBP"
    assert max(picture.size) == side
    assert (picture.height > picture.width) == portrait  # upright: orientation applied
    info = picture.info
    assert not {"exif", "icc_profile", "xmp"} & set(info)
    assert not {b"EXIF", b"XMP ", b"ICCP"} & set(webp_chunks(body))
    assert len(picture.getexif()) == 0
    return picture


def rendition_objects(stack: Stack) -> list[str]:
    return [key for key in stack.objects() if key.endswith((".small.webp", ".medium.webp"))]


def test_every_size_is_served_right_after_the_upload_before_the_stream(stack: Stack) -> None:
    uploaded = upload(camera_jpeg(), "camera.jpg", "image/jpeg")
    urls = size_urls()

    for size, side in SIZES.items():
        served = fetch(urls[size])
        assert served.status == 200, served.body
        assert served.headers["content-type"] == "image/webp"
        picture = assert_rendition(served.body, side)
        # upright: the stored left (red) half is now the top
        assert picture.convert("RGB").getpixel((picture.width // 2, 5))[0] > 150
    original = fetch(urls["ORIGINAL"])
    assert original.status == 200
    assert original.headers["content-type"] == "image/jpeg"
    assert uploaded["fileKey"] in urls["ORIGINAL"]


def test_an_explicit_null_size_is_the_original(stack: Stack) -> None:
    uploaded = upload(camera_jpeg(), "camera.jpg", "image/jpeg")
    query = "{ me { profilePhotoUrl(size: null) profilePhotos { url(size: null) } } }"

    response = gql(query)

    assert "errors" not in response, response
    me = response["data"]["me"]
    for url in (me["profilePhotoUrl"], me["profilePhotos"][0]["url"]):
        assert uploaded["fileKey"] in url
        assert fetch(url).headers["content-type"] == "image/jpeg"


def test_the_stream_makes_them_and_a_duplicate_delivery_changes_nothing(stack: Stack) -> None:
    uploaded = upload(camera_jpeg(), "camera.jpg", "image/jpeg")
    stem = uploaded["fileKey"].rpartition(".")[0]

    assert run_renditions(stack) == {"batchItemFailures": []}
    made = {key: stack.read("user-assets", key.split("/", 1)[1]) for key in stack.objects()}
    assert sorted(made) == sorted(
        [f"user-assets/{uploaded['fileKey']}"]
        + [f"user-assets/{stem}.{size.lower()}.webp" for size in SIZES]
        + [f"user-assets/{stem}.{size.lower()}.sq0.webp" for size in SIZES]  # the squares
    )
    assert run_renditions(stack) == {"batchItemFailures": []}  # at least once: again
    assert {key: stack.read("user-assets", key.split("/", 1)[1]) for key in made} == made
    for size, side in SIZES.items():
        assert_rendition(made[f"user-assets/{stem}.{size.lower()}.webp"], side)


def test_a_poison_record_fails_alone(stack: Stack) -> None:
    upload(camera_jpeg(), "camera.jpg", "image/jpeg")
    records = stream_records(stack, "RenditionsFunction")
    poison = {**records[0], "dynamodb": {**records[0]["dynamodb"], "SequenceNumber": "999"}}
    poison["dynamodb"]["NewImage"] = {"userId": {"S": "demo-user"}}  # no photo in it

    response = renditions_handler.lambda_handler({"Records": [*records, poison]}, LambdaContext())

    assert response == {"batchItemFailures": [{"itemIdentifier": "999"}]}
    assert len(rendition_objects(stack)) == 2  # the good record's sizes were made


def test_only_new_photos_reach_the_renditions_function(stack: Stack) -> None:
    first = upload(camera_jpeg(), "a.jpg", "image/jpeg")
    upload(camera_jpeg(), "b.jpg", "image/jpeg")
    restore = gql(
        "mutation ($id: ID!) { restoreProfilePhoto(assetId: $id) { photo { assetId } } }",
        {"id": first["assetId"]},
    )
    assert "errors" not in restore

    records = stream_records(stack, "RenditionsFunction")

    assert [r["eventName"] for r in records] == ["INSERT", "INSERT"]  # no render on restore


@pytest.mark.parametrize(
    ("data", "name", "mime"),
    [(heic_bytes(), "iphone.heic", "image/heic"), (gif_bytes(), "anim.gif", "image/gif")],
)
def test_heic_and_gif_originals_get_webp_sizes(
    stack: Stack, data: bytes, name: str, mime: str
) -> None:
    upload(data, name, mime)
    original = Image.open(io.BytesIO(fetch(size_urls()["ORIGINAL"]).body))
    served = fetch(size_urls()["SMALL"])

    assert served.status == 200
    picture = Image.open(io.BytesIO(served.body))
    assert picture.format == "WEBP"
    assert max(picture.size) == min(128, max(original.size))  # never upscaled


def test_delete_all_leaves_nothing_under_the_users_prefix(stack: Stack) -> None:
    upload(camera_jpeg(), "a.jpg", "image/jpeg")
    upload(camera_jpeg(), "b.jpg", "image/jpeg")
    run_renditions(stack)
    assert len(stack.objects()) == 14  # each: the original, 3 sizes, 3 squares

    response = gql("mutation { deleteAllProfilePhotos { deletedCount } }")

    assert response["data"]["deleteAllProfilePhotos"]["deletedCount"] == 2
    assert [key for key in stack.objects() if "/users/demo-user/" in f"/{key}"] == []


def test_a_photo_erased_meanwhile_gets_no_sizes(stack: Stack) -> None:
    uploaded = upload(camera_jpeg(), "a.jpg", "image/jpeg")
    records = stream_records(stack, "RenditionsFunction")
    gql(
        "mutation ($id: ID!) { deleteProfilePhoto(assetId: $id) { deletedCount } }",
        {"id": uploaded["assetId"]},
    )

    assert renditions_handler.lambda_handler({"Records": records}, LambdaContext()) == {
        "batchItemFailures": []
    }
    assert stack.objects() == []


def test_a_deleted_photos_size_url_is_not_found(stack: Stack) -> None:
    uploaded = upload(camera_jpeg(), "a.jpg", "image/jpeg")
    url = size_urls()["SMALL"]
    gql(
        "mutation ($id: ID!) { deleteProfilePhoto(assetId: $id) { deletedCount } }",
        {"id": uploaded["assetId"]},
    )

    served = fetch(url)

    assert served.status == 404
    assert served.json()["error"] == {"code": "NOT_FOUND", "message": "File not found"}
    assert stack.objects() == []


def test_two_viewers_get_the_same_url_and_a_304_on_revalidation(stack: Stack) -> None:
    upload(camera_jpeg(), "a.jpg", "image/jpeg")
    first = size_urls()["MEDIUM"]
    second = gql('{ user(id: "demo-user") { profilePhotoUrl(size: MEDIUM) } }', user="viewer")

    assert second["data"]["user"]["profilePhotoUrl"] == first
    served = fetch(first)
    again = fetch(first, **{"If-None-Match": served.headers["etag"]})
    assert again.status == 304
    assert served.headers["cache-control"].startswith("public, max-age=")
    assert served.headers["cache-control"].endswith(", immutable")


def test_the_export_lists_each_photos_renditions_beside_it(stack: Stack) -> None:
    uploaded = upload(camera_jpeg(), "a.jpg", "image/jpeg")
    response = gql(
        "mutation { exportProfilePhotos { items { assetId url renditions "
        "{ size url contentType } } } }"
    )

    (item,) = response["data"]["exportProfilePhotos"]["items"]
    assert item["assetId"] == uploaded["assetId"]
    sizes = [r["size"] for r in item["renditions"]]
    assert sizes == [size for size in SIZES for _ in ("size", "square")]  # each, and its square
    assert {r["contentType"] for r in item["renditions"]} == {"image/webp"}
    large = fetch(item["renditions"][4]["url"])
    assert large.status == 200
    assert_rendition(large.body, 1024)


def test_signed_fetch_invokes_the_renditions_function_on_a_miss(
    stack: Stack, renditions_function: RenditionsFunction
) -> None:
    uploaded = upload(camera_jpeg(), "a.jpg", "image/jpeg")
    url = size_urls()["SMALL"]

    served = fetch(url)
    fetch(url)  # made once: the second view reads the stored file

    assert served.status == 200
    assert_rendition(served.body, 128)
    ((name, event),) = renditions_function.invocations
    assert name == "RenditionsFunction"
    until = event["render"].pop("until")  # the render lease signed fetch took
    assert event == {"render": {"userId": "demo-user", "assetId": uploaded["assetId"]}}
    assert isinstance(until, int)
    # which the function gave back when its render was done
    (item,) = stack.items("PHOTOS_TABLE")
    assert "renderingUntil" not in item


def test_without_a_renditions_function_the_sizes_are_made_in_process(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, renditions_function: RenditionsFunction
) -> None:
    """A deployment without RENDITIONS_FUNCTION (self-hosted, one process) renders itself."""
    from profile_photos import renditions
    from profile_photos.services import reset, services

    uploaded = upload(camera_jpeg(), "a.jpg", "image/jpeg")
    monkeypatch.delenv("RENDITIONS_FUNCTION")
    reset()
    small = renditions.rendition_key(uploaded["fileKey"], "SMALL")

    assert renditions.ensure_rendition(services(), small) is True
    assert renditions.ensure_rendition(services(), uploaded["fileKey"]) is False  # an original
    assert renditions_function.invocations == []
    assert_rendition(stack.read("user-assets", small), 128)


@pytest.mark.parametrize("provider", ["R2"])  # injected into R2's S3 client
def test_a_failed_write_fails_its_record_and_the_redelivery_makes_every_size(
    stack: Stack,
) -> None:
    from botocore.exceptions import ClientError

    from profile_photos.services import services

    first_photo = upload(camera_jpeg(), "a.jpg", "image/jpeg")
    upload(camera_jpeg(), "b.jpg", "image/jpeg")
    records = stream_records(stack, "RenditionsFunction")
    failed: list[str] = []

    def slow_down_once(params: dict[str, Any], **_: Any) -> None:
        if not failed:  # R2 (like S3) asks a client to slow down: the first write fails
            failed.append(params["Key"])
            error = {"Error": {"Code": "SlowDown", "Message": "Reduce your request rate"}}
            raise ClientError(error, "PutObject")

    events = services().storage.client.meta.events  # type: ignore[attr-defined]
    events.register("before-parameter-build.s3.PutObject", slow_down_once)
    try:
        first = renditions_handler.lambda_handler({"Records": records}, LambdaContext())
        second = renditions_handler.lambda_handler({"Records": records}, LambdaContext())
    finally:
        events.unregister("before-parameter-build.s3.PutObject", slow_down_once)

    sequence = records[0]["dynamodb"]["SequenceNumber"]
    assert first == {"batchItemFailures": [{"itemIdentifier": sequence}]}
    assert failed[0].startswith(first_photo["fileKey"].rpartition(".")[0])
    assert second == {"batchItemFailures": []}
    assert len(rendition_objects(stack)) == 4  # small and medium of both photos
    stem = first_photo["fileKey"].rpartition(".")[0]
    for size, side in SIZES.items():
        assert_rendition(stack.read("user-assets", f"{stem}.{size.lower()}.webp"), side)
