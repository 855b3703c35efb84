"""Delete means gone without a window (issue 26, item 5): once `deleteProfilePhoto` or
`deleteAllProfilePhotos` answers, no rendition file of the erased photos exists, even when a
render was writing them meanwhile. Every render holds the photo's render lease while it reads
the original and writes, and gives it back when done; erasure waits while a lease is held,
then deletes the renditions again (`profile_photos.renditions`, "Erasure").

The interleavings are made with a botocore event hook on R2's S3 client: the stream's render
is held at its first rendition PutObject, in a thread, while the mutation runs. The erasure's
pause (`renditions.sleep`) is stood in for where a test needs to see that it waited, or to
let the held render go on once the erasure waits for it.

One file: every case runs one protocol (a render holding the lease, an erasure reading it)
through the same held-render fixtures, from both ends.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import renditions_handler

from devkit.context import LambdaContext
from profile_photos import renditions
from profile_photos.errors import DependencyUnavailable, ValidationFailed
from profile_photos.services import services
from profile_photos.store import photo_renders, photos
from tests.integration.conftest import Stack, stream_records
from tests.integration.test_graphql import gql
from tests.integration.test_renditions import camera_jpeg, fetch, size_urls, upload

DELETE = "mutation ($id: ID!) { deleteProfilePhoto(assetId: $id) { deletedCount } }"
DELETE_ALL = "mutation { deleteAllProfilePhotos { deletedCount } }"
HELD_AT_MOST = 20  # seconds a held render waits to be let go (a test that fails ends)


class HeldRender:
    """The stream's render of `records`, in its own thread, held at its first rendition
    PutObject (R2's S3 client) until `go` is set."""

    def __init__(self, records: list[dict[str, Any]]) -> None:
        self.records = records
        self.writing = threading.Event()  # it holds the lease, has read the original and renders
        self.go = threading.Event()
        self.puts: list[str] = []  # the renditions it stored, in order
        self.result: dict[str, Any] | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        self.result = renditions_handler.lambda_handler({"Records": self.records}, LambdaContext())

    def hold(self, params: dict[str, Any], **_: Any) -> None:
        if threading.current_thread() is not self.thread or not params["Key"].endswith(".webp"):
            return
        if not self.writing.is_set():
            self.writing.set()
            self.go.wait(HELD_AT_MOST)
        self.puts.append(params["Key"])

    def start(self) -> None:
        self.thread.start()
        assert self.writing.wait(HELD_AT_MOST), "the render never wrote"

    def finish(self) -> dict[str, Any] | None:
        self.go.set()
        self.thread.join(HELD_AT_MOST * 2)
        return self.result


@pytest.fixture
def held_render(stack: Stack) -> Iterator[list[HeldRender]]:
    """Renders to hold: each appended one is hooked on R2's S3 client, and let go and
    joined when the test ends (whatever happened)."""
    held: list[HeldRender] = []
    events = services().storage.client.meta.events  # type: ignore[attr-defined]

    def hook(**kwargs: Any) -> None:
        for render in list(held):
            render.hold(**kwargs)

    events.register("before-parameter-build.s3.PutObject", hook)
    yield held
    events.unregister("before-parameter-build.s3.PutObject", hook)
    for render in held:
        render.finish()


@pytest.fixture
def erasure_sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every pause an erasure makes while it waits for a render (each really taken)."""
    pauses: list[float] = []
    real = time.sleep

    def pause(seconds: float) -> None:
        pauses.append(seconds)
        real(seconds)

    monkeypatch.setattr(renditions, "sleep", pause)
    return pauses


def let_go_when_erasure_waits(monkeypatch: pytest.MonkeyPatch, render: HeldRender) -> list[float]:
    """The erasure's pauses; at its first one (it waits for the held render), the render
    goes on. An erasure that does not wait never lets it go."""
    pauses: list[float] = []
    real = time.sleep

    def pause(seconds: float) -> None:
        pauses.append(seconds)
        render.go.set()
        real(seconds)

    monkeypatch.setattr(renditions, "sleep", pause)
    return pauses


def files_of(stack: Stack, asset_id: str) -> list[str]:
    return [key for key in stack.objects() if asset_id in key]


def lease_of(stack: Stack, asset_id: str) -> dict[str, Any] | None:
    (item,) = [i for i in stack.items("PHOTOS_TABLE") if i["assetId"]["S"] == asset_id]
    return item.get("renderingUntil")


# ------------------------------------------------------------------ a render in flight


@pytest.mark.parametrize("provider", ["R2"])  # the hold is a hook on R2's S3 client
def test_delete_waits_for_a_render_in_flight_and_leaves_none_of_its_files(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, held_render: list[HeldRender]
) -> None:
    # Given a new photo whose stream render holds its lease and is about to write its sizes
    uploaded = upload(camera_jpeg(), "a.jpg", "image/jpeg")
    render = HeldRender(stream_records(stack, "RenditionsFunction"))
    held_render.append(render)
    pauses = let_go_when_erasure_waits(monkeypatch, render)
    render.start()

    # When the owner deletes the photo meanwhile
    response = gql(DELETE, {"id": uploaded["assetId"]})
    written_before_the_answer = list(render.puts)
    left_at_the_answer = files_of(stack, uploaded["assetId"])

    # Then the mutation waited for the render: every size and square it wrote was written
    # before the answer, and none of them (nor anything else of the photo) is left
    assert response["data"]["deleteProfilePhoto"] == {"deletedCount": 1}
    assert pauses
    assert len(written_before_the_answer) == 6  # 3 sizes and their 3 squares
    assert left_at_the_answer == []
    # and the render, done, leaves nothing behind later either
    assert render.finish() == {"batchItemFailures": []}
    assert render.puts == written_before_the_answer
    assert files_of(stack, uploaded["assetId"]) == []
    assert stack.items("PHOTOS_TABLE") == []


@pytest.mark.parametrize("provider", ["R2"])
def test_delete_all_waits_for_a_render_in_flight_and_leaves_nothing_under_the_prefix(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, held_render: list[HeldRender]
) -> None:
    # Given two new photos, the stream's render of the first one about to write its sizes
    first = upload(camera_jpeg(), "a.jpg", "image/jpeg")
    second = upload(camera_jpeg(), "b.jpg", "image/jpeg")
    render = HeldRender(stream_records(stack, "RenditionsFunction"))
    held_render.append(render)
    pauses = let_go_when_erasure_waits(monkeypatch, render)
    render.start()

    # When the user erases all their photos meanwhile
    response = gql(DELETE_ALL)
    written_before_the_answer = list(render.puts)
    left_at_the_answer = [key for key in stack.objects() if "/users/demo-user/" in f"/{key}"]

    # Then the mutation waited for the render, and nothing of the user is left
    assert response["data"]["deleteAllProfilePhotos"] == {"deletedCount": 2}
    assert pauses
    assert len(written_before_the_answer) == 6
    assert left_at_the_answer == []
    assert render.finish() == {"batchItemFailures": []}
    assert files_of(stack, first["assetId"]) == files_of(stack, second["assetId"]) == []
    assert stack.items("PHOTOS_TABLE") == []


@pytest.mark.parametrize("provider", ["R2"])
def test_a_render_that_fails_after_writing_is_cleaned_up_by_the_erasure_it_raced(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, held_render: list[HeldRender]
) -> None:
    """A render whose check of the original fails (DynamoDB unreachable) leaves its files;
    it still gives its lease back, and the erasure that waited for it deletes them."""
    from botocore.exceptions import EndpointConnectionError

    uploaded = upload(camera_jpeg(), "a.jpg", "image/jpeg")
    render = HeldRender(stream_records(stack, "RenditionsFunction"))
    held_render.append(render)
    pauses = let_go_when_erasure_waits(monkeypatch, render)
    real_get_photo = photos.get_photo

    def unreachable_for_the_render(user_id: str, asset_id: str) -> Any:
        if threading.current_thread() is render.thread:
            raise DependencyUnavailable("Photo could not be read") from (
                EndpointConnectionError(endpoint_url="https://dynamodb.local")
            )
        return real_get_photo(user_id, asset_id)

    monkeypatch.setattr(photos, "get_photo", unreachable_for_the_render)
    render.start()

    response = gql(DELETE, {"id": uploaded["assetId"]})
    left_at_the_answer = files_of(stack, uploaded["assetId"])

    assert response["data"]["deleteProfilePhoto"] == {"deletedCount": 1}
    assert pauses
    assert len(render.puts) == 6
    assert left_at_the_answer == []
    result = render.finish()
    assert result is not None
    assert len(result["batchItemFailures"]) == 1  # the record is retried later
    assert files_of(stack, uploaded["assetId"]) == []


# ------------------------------------------------------------------ the stream's render


def test_the_streams_render_skips_a_photo_whose_lease_a_view_holds(
    stack: Stack, renders: list[str]
) -> None:
    # Given a new photo whose sizes a view is making (it holds the render lease)
    uploaded = upload(camera_jpeg(), "a.jpg", "image/jpeg")
    now = int(time.time())
    until = now + renditions.RENDER_LEASE_SECONDS
    assert photo_renders.claim_render("demo-user", uploaded["assetId"], now, until) is not None

    # When the stream's render of the photo runs
    result = renditions_handler.lambda_handler(
        {"Records": stream_records(stack, "RenditionsFunction")}, LambdaContext()
    )

    # Then it renders nothing, writes nothing, and the view's lease stays the view's
    assert result == {"batchItemFailures": []}
    assert renders == []
    assert [key for key in stack.objects() if key.endswith(".webp")] == []
    assert lease_of(stack, uploaded["assetId"]) == {"N": str(until)}


def test_the_streams_render_of_an_erased_photo_writes_nothing(
    stack: Stack, renders: list[str]
) -> None:
    uploaded = upload(camera_jpeg(), "a.jpg", "image/jpeg")
    records = stream_records(stack, "RenditionsFunction")
    assert gql(DELETE, {"id": uploaded["assetId"]})["data"]["deleteProfilePhoto"]

    result = renditions_handler.lambda_handler({"Records": records}, LambdaContext())

    assert result == {"batchItemFailures": []}
    assert renders == []
    assert stack.objects() == []
    assert stack.items("PHOTOS_TABLE") == []  # the claim wrote no item back


# ------------------------------------------------------------------ no render in flight


def test_a_finished_stream_render_leaves_no_lease_and_erasure_does_not_wait(
    stack: Stack, erasure_sleeps: list[float]
) -> None:
    # Given a photo the stream rendered
    uploaded = upload(camera_jpeg(), "a.jpg", "image/jpeg")
    result = renditions_handler.lambda_handler(
        {"Records": stream_records(stack, "RenditionsFunction")}, LambdaContext()
    )
    assert result == {"batchItemFailures": []}
    assert len(files_of(stack, uploaded["assetId"])) == 7  # the original, 3 sizes, 3 squares

    # Then its render gave the lease back (with what it learnt)
    assert lease_of(stack, uploaded["assetId"]) is None
    photo = photos.get_photo("demo-user", uploaded["assetId"])
    assert photo is not None
    assert photo.thumbhash is not None

    # and erasing it does not wait
    assert gql(DELETE, {"id": uploaded["assetId"]})["data"]["deleteProfilePhoto"]
    assert erasure_sleeps == []
    assert stack.objects() == []


def test_a_finished_view_render_leaves_no_lease_and_erasure_does_not_wait(
    stack: Stack, erasure_sleeps: list[float]
) -> None:
    """Signed fetch renders through the renditions function, which gives back the lease
    signed fetch took."""
    uploaded = upload(camera_jpeg(), "a.jpg", "image/jpeg")
    assert fetch(size_urls()["SMALL"]).status == 200

    assert lease_of(stack, uploaded["assetId"]) is None
    assert gql(DELETE, {"id": uploaded["assetId"]})["data"]["deleteProfilePhoto"]
    assert erasure_sleeps == []
    assert stack.objects() == []


def test_an_erasure_with_no_render_in_flight_does_not_wait(
    stack: Stack, erasure_sleeps: list[float]
) -> None:
    first = upload(camera_jpeg(), "a.jpg", "image/jpeg")
    upload(camera_jpeg(), "b.jpg", "image/jpeg")
    # a lease that ran out long ago (its holder died) is no render in flight either
    now = int(time.time())
    assert photo_renders.claim_render("demo-user", first["assetId"], now - 30, now - 20)

    assert gql(DELETE, {"id": first["assetId"]})["data"]["deleteProfilePhoto"]
    assert gql(DELETE_ALL)["data"]["deleteAllProfilePhotos"] == {"deletedCount": 1}

    assert erasure_sleeps == []
    assert stack.objects() == []


def test_a_lease_whose_holder_died_holds_the_erasure_until_it_runs_out_at_most(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a photo whose lease a viewer took and never gave back (its container died)
    uploaded = upload(camera_jpeg(), "a.jpg", "image/jpeg")
    now = int(time.time())
    until = now + renditions.RENDER_LEASE_SECONDS
    assert photo_renders.claim_render("demo-user", uploaded["assetId"], now, until)
    clock = [float(now)]
    pauses: list[float] = []

    def pause(seconds: float) -> None:  # the erasure's clock moves with its pauses only
        pauses.append(seconds)
        clock[0] += seconds

    monkeypatch.setattr(renditions, "clock", lambda: clock[0])
    monkeypatch.setattr(renditions, "sleep", pause)

    # When the owner deletes the photo
    response = gql(DELETE, {"id": uploaded["assetId"]})

    # Then the erasure waited until the lease ran out, no longer, and erased the photo
    assert response["data"]["deleteProfilePhoto"] == {"deletedCount": 1}
    assert sum(pauses) == pytest.approx(renditions.RENDER_LEASE_SECONDS)
    assert max(pauses) <= renditions.RENDER_POLL_SECONDS
    assert stack.objects() == []
    assert stack.items("PHOTOS_TABLE") == []


# ------------------------------------------------------------------ the function's request


def test_the_function_gives_back_exactly_the_lease_named_in_its_request(
    stack: Stack, renders: list[str]
) -> None:
    uploaded = upload(camera_jpeg(), "a.jpg", "image/jpeg")
    asset_id = uploaded["assetId"]
    now = int(time.time())
    until = now + renditions.RENDER_LEASE_SECONDS
    assert photo_renders.claim_render("demo-user", asset_id, now, until)
    request = {"userId": "demo-user", "assetId": asset_id}

    # a request naming another lease (one that ran out and was taken again) leaves this one
    stale = renditions_handler.lambda_handler(
        {"render": request | {"until": until - 1}}, LambdaContext()
    )
    assert stale == {"rendered": True}
    assert lease_of(stack, asset_id) == {"N": str(until)}

    # the holder's request gives it back
    held = renditions_handler.lambda_handler(
        {"render": request | {"until": until}}, LambdaContext()
    )
    assert held == {"rendered": True}
    assert lease_of(stack, asset_id) is None
    assert renders == ["image/jpeg", "image/jpeg"]


@pytest.mark.error_log_expected  # only signed fetch invokes it: a malformed request is its bug
@pytest.mark.parametrize("provider", ["LOCAL"])  # refused before storage is reached
@pytest.mark.parametrize(
    "request_",
    [
        {"userId": "demo-user", "assetId": "a"},  # no lease
        {"userId": "demo-user", "assetId": "a", "until": "1796694730"},
        {"userId": "demo-user", "assetId": "a", "until": 1796694730.5},
        {"userId": "demo-user", "assetId": "a", "until": True},
        {"userId": "demo-user", "assetId": "a", "until": 0},
        {"userId": "demo-user", "assetId": "a", "until": 10**12},
        {"userId": "demo-user", "assetId": "a", "until": 1796694730, "extra": 1},
        {"userId": 7, "assetId": "a", "until": 1796694730},
        ["demo-user", "a", 1796694730],
    ],
)
def test_a_malformed_render_request_is_refused_before_anything_is_read(
    stack: Stack, renders: list[str], request_: Any
) -> None:
    uploaded = upload(camera_jpeg(), "a.jpg", "image/jpeg")
    before = stack.items("PHOTOS_TABLE")
    if isinstance(request_, dict) and request_.get("assetId") == "a":
        request_ = request_ | {"assetId": uploaded["assetId"]}

    with pytest.raises(ValidationFailed):
        renditions_handler.lambda_handler({"render": request_}, LambdaContext())

    assert renders == []
    assert stack.items("PHOTOS_TABLE") == before
    assert [key for key in stack.objects() if key.endswith(".webp")] == []
