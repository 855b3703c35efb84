"""One render at a time per photo (issue 24, item 3): concurrent first views of a size not
made yet start one render, the others get the file when it lands or a quick 503 with
`Retry-After`; a size URL of a photo that is gone starts none.

Signed fetch and the renditions function run in process under moto, the function behind
Lambda's Invoke API on loopback (`renditions_function` in conftest), as the template wires
them. Renders are counted where they happen: `images.avatar.render_photo`, the one call
that decodes and resizes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import renditions_handler
import signed_fetch_handler

from devkit.context import LambdaContext
from profile_photos import delivery, renditions
from profile_photos.delivery import SignedGet, deliver_signed
from profile_photos.errors import RenderPending
from profile_photos.services import services
from profile_photos.store import photo_renders, photos
from testkit.events import signed_event
from testkit.invoke import HttpResult, invoke
from tests.integration.conftest import RenditionsFunction, Stack, stream_records
from tests.integration.test_graphql import gql
from tests.integration.test_renditions import assert_rendition, camera_jpeg, size_urls, upload

VIEWERS = 6


def signed_get(url: str) -> dict[str, Any]:
    parts = urlsplit(url)
    key = parts.path.split("/signed/user-assets/", 1)[1]
    return signed_event("single-flight", parse_qs(parts.query)["token"][0], key=key)


def hold_renders_until(
    monkeypatch: pytest.MonkeyPatch, released: threading.Event
) -> Callable[..., Any]:
    """The renditions function, held in flight until `released` (at most 20 s)."""
    real = renditions_handler.lambda_handler

    def held(event: dict[str, Any], context: Any) -> Any:
        released.wait(20)
        return real(event, context)

    monkeypatch.setattr(renditions_handler, "lambda_handler", held)
    return held


def test_concurrent_first_views_render_once_and_the_others_answer_503_retry_after(
    stack: Stack,
    monkeypatch: pytest.MonkeyPatch,
    renditions_function: RenditionsFunction,
    renders: list[str],
) -> None:
    # Given a new photo whose sizes the stream has not made yet, and a render that takes
    # until every other viewer has had an answer
    uploaded = upload(camera_jpeg(), "a.jpg", "image/jpeg")
    url = size_urls()["SMALL"]
    monkeypatch.setattr(delivery, "RENDER_WAITS", (0.01,))  # the others' wait, shortened
    released = threading.Event()
    hold_renders_until(monkeypatch, released)
    answers: list[HttpResult] = []
    lock = threading.Lock()

    def view() -> None:
        result = invoke(signed_fetch_handler.lambda_handler, signed_get(url))
        with lock:
            answers.append(result)
            if len(answers) == VIEWERS - 1:
                released.set()  # everyone but the render's own viewer has an answer

    # When six viewers ask for the SMALL size at once
    threads = [threading.Thread(target=view) for _ in range(VIEWERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    released.set()

    # Then one render ran, for one of them, and the five others were told when to retry
    assert len(answers) == VIEWERS
    assert len(renditions_function.invocations) == 1
    assert renders == ["image/jpeg"]
    served = [a for a in answers if a.status == 200]
    pending = [a for a in answers if a.status != 200]
    assert len(served) == 1
    assert_rendition(served[0].body, 128)
    assert [a.status for a in pending] == [503] * (VIEWERS - 1)
    for answer in pending:
        assert answer.headers["retry-after"] == str(renditions.RETRY_AFTER_SECONDS)
        assert answer.json()["error"] == {
            "code": "SERVICE_UNAVAILABLE",
            "message": renditions.PENDING,
        }
    # and their retry is served the stored file, with no render
    again = invoke(signed_fetch_handler.lambda_handler, signed_get(url))
    assert again.status == 200
    assert again.body == served[0].body
    assert len(renditions_function.invocations) == 1
    assert renders == ["image/jpeg"]
    assert stack.read("user-assets", renditions.rendition_key(uploaded["fileKey"], "SMALL"))


def test_a_view_while_another_renders_gets_the_file_once_it_lands(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, renders: list[str]
) -> None:
    """The waiting viewer is served, not refused, when the render finishes within its wait."""
    uploaded = upload(camera_jpeg(), "a.jpg", "image/jpeg")
    small = renditions.rendition_key(uploaded["fileKey"], "SMALL")
    token = parse_qs(urlsplit(size_urls()["SMALL"]).query)["token"][0]
    now = int(time.time())
    # another viewer holds the lease; its render lands while this one waits
    assert photo_renders.claim_render("demo-user", uploaded["assetId"], now, now + 10) is not None
    photo = photos.get_photo("demo-user", uploaded["assetId"])
    assert photo is not None
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        if not waits:
            renditions.make_renditions(services(), photo)  # the holder's render lands
        waits.append(seconds)

    monkeypatch.setattr(delivery.time, "sleep", sleep)

    got = deliver_signed(services(), SignedGet("user-assets", small, token), now)

    assert got.file.size > 0
    assert_rendition(stack.read("user-assets", small), 128)
    assert len(waits) == 1
    assert renders == ["image/jpeg"]  # the holder's render only


def test_a_lease_left_by_a_viewer_that_died_runs_out(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, renders: list[str]
) -> None:
    uploaded = upload(camera_jpeg(), "a.jpg", "image/jpeg")
    small = renditions.rendition_key(uploaded["fileKey"], "SMALL")
    token = parse_qs(urlsplit(size_urls()["SMALL"]).query)["token"][0]
    now = int(time.time())
    until = now + renditions.RENDER_LEASE_SECONDS
    assert photo_renders.claim_render("demo-user", uploaded["assetId"], now, until) is not None
    monkeypatch.setattr(delivery, "RENDER_WAITS", ())
    request = SignedGet("user-assets", small, token)

    with pytest.raises(RenderPending):
        deliver_signed(services(), request, now + 1)
    got = deliver_signed(services(), request, until + 1)

    assert got.file.size > 0
    assert renders == ["image/jpeg"]


def test_a_size_url_of_an_erased_photo_invokes_nothing(
    stack: Stack, renditions_function: RenditionsFunction, renders: list[str]
) -> None:
    uploaded = upload(camera_jpeg(), "a.jpg", "image/jpeg")
    url = size_urls()["SMALL"]
    gql(
        "mutation ($id: ID!) { deleteProfilePhoto(assetId: $id) { deletedCount } }",
        {"id": uploaded["assetId"]},
    )

    served = invoke(signed_fetch_handler.lambda_handler, signed_get(url))

    assert served.status == 404
    assert served.json()["error"] == {"code": "NOT_FOUND", "message": "File not found"}
    assert renditions_function.invocations == []
    assert renders == []
    assert stack.items("PHOTOS_TABLE") == []  # the lease wrote no item back


def test_a_size_url_of_a_photo_whose_original_is_gone_invokes_nothing(
    stack: Stack, renditions_function: RenditionsFunction, renders: list[str]
) -> None:
    """An erasure stopped after the original went (the retry would finish it)."""
    uploaded = upload(camera_jpeg(), "a.jpg", "image/jpeg")
    url = size_urls()["SMALL"]
    services().storage.delete("user-assets", uploaded["fileKey"])

    first = invoke(signed_fetch_handler.lambda_handler, signed_get(url))
    second = invoke(signed_fetch_handler.lambda_handler, signed_get(url))

    assert (first.status, second.status) == (404, 404)  # no lease left behind either
    assert renditions_function.invocations == []
    assert renders == []


def test_the_stream_does_not_render_again_what_a_view_just_rendered(
    stack: Stack, renditions_function: RenditionsFunction, renders: list[str]
) -> None:
    upload(camera_jpeg(), "a.jpg", "image/jpeg")
    viewed = invoke(signed_fetch_handler.lambda_handler, signed_get(size_urls()["SMALL"]))
    assert viewed.status == 200
    assert renders == ["image/jpeg"]

    records = stream_records(stack, "RenditionsFunction")
    result = renditions_handler.lambda_handler({"Records": records}, LambdaContext())

    assert result == {"batchItemFailures": []}
    assert renders == ["image/jpeg"]
    assert (
        len([o for o in stack.objects() if o.endswith(".webp")]) == 6
    )  # 3 sizes and their 3 squares


def test_the_lease_outlasts_the_wait_for_the_renditions_function() -> None:
    """No second render starts while the first one's viewer still waits for it."""
    from profile_photos.store.aws import RENDER_FUNCTION

    assert RENDER_FUNCTION.worst_case < renditions.RENDER_LEASE_SECONDS


def test_a_render_that_outlasts_the_wait_is_503_retry_after_and_keeps_its_lease(
    stack: Stack, renditions_function: RenditionsFunction
) -> None:
    # Given a renditions function whose answer does not come back within signed fetch's
    # read timeout (a busy container: the render goes on there)
    from botocore.exceptions import ReadTimeoutError

    from profile_photos.store import render_function

    upload(camera_jpeg(), "a.jpg", "image/jpeg")
    url = size_urls()["SMALL"]

    calls: list[str] = []

    def answer_too_late(**_: Any) -> None:
        calls.append("Invoke")
        raise ReadTimeoutError(endpoint_url="http://lambda.local")

    events = render_function.lambda_client().meta.events
    events.register("before-call.lambda.Invoke", answer_too_late)
    try:
        first = invoke(signed_fetch_handler.lambda_handler, signed_get(url))
        second = invoke(signed_fetch_handler.lambda_handler, signed_get(url))
    finally:
        events.unregister("before-call.lambda.Invoke", answer_too_late)

    # Then the viewer is told when to ask again, not that the service failed
    assert first.status == 503
    assert first.headers["retry-after"] == str(renditions.RETRY_AFTER_SECONDS)
    assert first.json()["error"]["message"] == renditions.PENDING
    # and the render in flight keeps its lease: the next view starts no second one
    assert second.status == 503
    assert second.headers["retry-after"] == str(renditions.RETRY_AFTER_SECONDS)
    assert calls == ["Invoke"]
