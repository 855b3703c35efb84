"""Fault injection: every operation, every call it makes, every way that call fails.

One file: one matrix (operations x recorded calls x ways to fail) and the assertions each cell
must meet; faults_matrix.py holds the recording and injection.

For each operation (a row of `OPERATIONS`) and provider, a clean run is recorded first
(`faults_matrix.recording`: the AWS calls through botocore hooks, LOCAL file operations
through an audit hook). Then each recorded call fails in each of its ways, once, on a fresh
user (Given the operation's setup; When the operation runs with that call failing):

- the client gets the operation's failure answer (the envelope's 503 SERVICE_UNAVAILABLE;
  GraphQL: `extensions.code` SERVICE_UNAVAILABLE; a stream batch: the user's records in
  `batchItemFailures`), or its success when the failing call was not needed for it;
- the state is "nothing happened" or "it happened once" (equal to the state after the retry),
  with no orphan file, no photo without its file, no pointer to a missing photo (erasure
  may stop half way: bytes go first, so a photo may lose its file, never the other way);
- the same request again (same `Idempotency-Key`; the same stream records redelivered)
  succeeds, and leaves exactly the state a clean run leaves;
- nothing is logged at ERROR, except where an unhandled failure is the designed answer (the
  renditions function invoked by signed fetch fails as a function: Lambda's FunctionError).

Not a 500 anywhere, not a traceback. Rate-limit units a failed request spent are not given
back (the budget counts attempts), so they are not part of the compared state.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import graphql_handler
import pytest
import renditions_handler
import retention_handler
import signed_fetch_handler
import upload_handler
from PIL import Image

from devkit.context import LambdaContext
from profile_photos.services import reset, services
from testkit.events import file_upload, graphql_event, signed_event, user_token
from testkit.images import encode, jpeg_bytes
from testkit.invoke import HttpResult, invoke
from tests.integration import faults_matrix as fm
from tests.integration.conftest import Stack, stream_records
from tests.integration.test_direct_upload import announce, post_json, put

fm.install()

UNAVAILABLE = "SERVICE_UNAVAILABLE"


# ------------------------------------------------------------------------------ one case


@dataclass
class Case:
    """What one case works on: its user, the photos its setup made (label -> asset id), and
    whatever the operation needs to send its request again."""

    stack: Stack
    user: str
    photos: dict[str, dict[str, Any]]
    request: Any = None


@dataclass
class Answer:
    ok: bool  # the operation's success
    unavailable: bool  # the operation's failure answer for a dependency failure
    shown: str  # for messages

    @staticmethod
    def http(result: HttpResult, ok: int = 201) -> Answer:
        body = result.body[:300].decode("utf-8", "replace")
        envelope = result.json() if result.headers.get("content-type") == "application/json" else {}
        unavailable = result.status == 503 and envelope == {
            "success": False,
            "error": {"code": UNAVAILABLE, "message": envelope.get("error", {}).get("message")},
        }
        return Answer(result.status == ok, unavailable, f"{result.status} {body}")


def upload_photo(
    case: Case, label: str, name: str = "me.jpg", data: bytes | None = None
) -> dict[str, Any]:
    data = jpeg_bytes() if data is None else data
    event = file_upload(label, data, name, "image/jpeg", token=user_token(sub=case.user))
    result = invoke(upload_handler.lambda_handler, event)
    assert result.status == 201, result.body
    time.sleep(0.002)  # distinct upload times
    data = result.json()["data"]
    case.photos[label] = data
    return data


def graphql(case: Case, query: str, variables: dict[str, Any] | None = None) -> Answer:
    event = graphql_event("fault", query, variables, user_token(sub=case.user))
    result = invoke(graphql_handler.lambda_handler, event)
    payload = result.json()
    if result.status == 503:  # before execution (the caller's claims): the REST envelope,
        return Answer.http(result)  # as for the 401 of a request without a valid token
    errors = payload.get("errors") or []
    codes = [error.get("extensions", {}).get("code") for error in errors]
    unavailable = (
        result.status == 200
        and codes == [UNAVAILABLE]
        and not any((payload.get("data") or {}).values())
    )
    return Answer(result.status == 200 and not errors, unavailable, json.dumps(payload)[:300])


# ----------------------------------------------------------------------------- operations


@dataclass(frozen=True)
class Operation:
    name: str
    setup: Callable[[Case], None]
    run: Callable[[Case], Answer]
    providers: tuple[str, ...] = ("LOCAL", "R2")
    erasing: bool = False  # may stop half way (bytes first), a retry finishes
    partial: bool = False  # a stream batch writes record by record; F lies between S0 and R
    retry_answers: tuple[str, ...] = ()  # what a retry may answer besides success, and why
    spent_staging: bool = False  # a staged copy may outlive its completed upload (it expires)
    local_files: bool = True  # LOCAL: the operation reads or writes files
    # a failure inside the function it invokes is that function's unhandled error (logged
    # ERROR by its Tracer; the test's Invoke API then drops the connection, which the Lambda
    # client retries, as it would a real dropped connection)
    function_error: bool = False
    env: tuple[tuple[str, str], ...] = ()
    # sizes not asked for are made later (the stream, or their own first view)
    asked_sizes_only: bool = False


def nothing(case: Case) -> None:
    return None


def run_upload(case: Case) -> Answer:
    if case.request is None:
        event = file_upload(
            "fault", jpeg_bytes(), "me.jpg", "image/jpeg", token=user_token(sub=case.user)
        )
        event["headers"]["Idempotency-Key"] = f"key-{case.user}"  # type: ignore[index]
        case.request = event
    return Answer.http(invoke(upload_handler.lambda_handler, case.request))


def run_upload_url(case: Case) -> Answer:
    return Answer.http(
        announce(1000, user=case.user, headers={"Idempotency-Key": f"key-{case.user}"})
    )


def setup_grant(case: Case) -> None:
    result = announce(len(jpeg_bytes()), user=case.user)
    assert result.status == 201, result.body
    case.request = result.json()["data"]


def run_put(case: Case) -> Answer:
    result = put_result(case.stack, case.request, jpeg_bytes())
    return Answer.http(result, ok=200)


def put_result(stack: Stack, grant: dict[str, Any], data: bytes) -> HttpResult:
    """The LOCAL PUT to the signed endpoint, as `test_direct_upload.put` sends it."""
    url = urlsplit(grant["uploadUrl"])
    key = url.path.removeprefix("/api/storage/signed/user-assets/")
    event = signed_event("put", parse_qs(url.query)["token"][0], method="PUT", key=key)
    event["headers"] |= grant["headers"]  # type: ignore[operator]
    event["body"] = base64.b64encode(data).decode()
    event["isBase64Encoded"] = True
    return invoke(signed_fetch_handler.lambda_handler, event)


def setup_staged(case: Case) -> None:
    setup_grant(case)
    assert put(case.stack, case.request, jpeg_bytes()) == 200


def run_complete(case: Case) -> Answer:
    result = post_json(
        "complete",
        {"fileKey": case.request["fileKey"]},
        user=case.user,
        headers={"Idempotency-Key": f"key-{case.user}"},
    )
    return Answer.http(result)


def setup_one_photo(case: Case) -> None:
    upload_photo(case, "a")


def fetch(url: str) -> HttpResult:
    parts = urlsplit(url)
    key = parts.path.split("/signed/user-assets/", 1)[1]
    return invoke(
        signed_fetch_handler.lambda_handler,
        signed_event("fault", parse_qs(parts.query)["token"][0], key=key),
    )


def run_fetch(case: Case) -> Answer:
    return Answer.http(fetch(case.photos["a"]["uploadUrl"]), ok=200)


def setup_size_url(case: Case) -> None:
    upload_photo(case, "a")
    from profile_photos.renditions import rendition_key

    key = rendition_key(case.photos["a"]["fileKey"], "SMALL")
    case.request = services().signer.photo_url("user-assets", key, now=int(time.time())).url


def run_fetch_size(case: Case) -> Answer:
    return Answer.http(fetch(case.request), ok=200)


def setup_restore(case: Case) -> None:
    """Two photos; the older one archived (as retention would), the newer one current."""
    from profile_photos.store import photos
    from profile_photos.times import iso_ms

    upload_photo(case, "a")
    upload_photo(case, "b")
    photo = photos.get_photo(case.user, case.photos["a"]["assetId"])
    assert photo is not None
    assert photos.archive(photo, iso_ms(datetime.now(UTC)))


def run_restore(case: Case) -> Answer:
    query = (
        "mutation R($id: ID!) { restoreProfilePhoto(assetId: $id) "
        "{ photo { assetId url } user { profilePhotoUrl } } }"
    )
    return graphql(case, query, {"id": case.photos["a"]["assetId"]})


def setup_two_photos(case: Case) -> None:
    upload_photo(case, "a")
    upload_photo(case, "b")


def run_delete(case: Case) -> Answer:
    query = (
        "mutation D($id: ID!) { deleteProfilePhoto(assetId: $id) "
        "{ deletedCount currentPhoto { assetId } user { profilePhotoUrl } } }"
    )
    return graphql(case, query, {"id": case.photos["b"]["assetId"]})


def setup_erasure(case: Case) -> None:
    """Two photos and a direct upload staged but never completed."""
    setup_two_photos(case)
    grant = announce(len(jpeg_bytes()), user=case.user)
    assert grant.status == 201
    assert put(case.stack, grant.json()["data"], jpeg_bytes()) == 200


def run_delete_all(case: Case) -> Answer:
    query = "mutation { deleteAllProfilePhotos { deletedCount currentPhoto { assetId } } }"
    return graphql(case, query)


def run_export(case: Case) -> Answer:
    query = (
        "mutation { exportProfilePhotos(first: 10) { count expiresAt "
        "items { assetId url renditions { url } } pageInfo { hasNextPage endCursor } } }"
    )
    return graphql(case, query)


def user_records(case: Case, function: str) -> list[dict[str, Any]]:
    return [
        record
        for record in stream_records(case.stack, function)
        if record["dynamodb"]["Keys"]["userId"]["S"] == case.user
    ]


def setup_retention(case: Case) -> None:
    setup_two_photos(case)  # RETENTION_ACTIVE_LIMIT=1: one to archive
    case.request = user_records(case, "RetentionFunction")


def run_batch(handler: Callable[..., Any]) -> Callable[[Case], Answer]:
    def run(case: Case) -> Answer:
        response = handler({"Records": case.request}, LambdaContext("fault"))
        failed = {item["itemIdentifier"] for item in response["batchItemFailures"]}
        sequences = {record["dynamodb"]["SequenceNumber"] for record in case.request}
        return Answer(not failed, bool(failed) and failed <= sequences, json.dumps(response))

    return run


def setup_rendered(case: Case) -> None:
    """One photo of 64 x 48 px whose renditions (and so its upright size) are made."""
    upload_photo(case, "a", data=encode(Image.new("RGB", (64, 48), (90, 120, 200)), "JPEG"))
    response = renditions_handler.lambda_handler(
        {"Records": user_records(case, "RenditionsFunction")}, LambdaContext("fault")
    )
    assert response == {"batchItemFailures": []}


def run_set_crop(case: Case) -> Answer:
    query = (
        "mutation C($id: ID!) { setProfilePhotoCrop(assetId: $id,"
        " crop: {left: 16, top: 0, side: 48}) { crop { source } url(size: SMALL, square: true) } }"
    )
    return graphql(case, query, {"id": case.photos["a"]["assetId"]})


def setup_renditions(case: Case) -> None:
    setup_one_photo(case)
    case.request = user_records(case, "RenditionsFunction")


OPERATIONS = [
    Operation("upload", nothing, run_upload),
    Operation("upload-url", nothing, run_upload_url, local_files=False),
    # R2: the PUT goes to R2 itself. A PUT whose bytes landed before its answer failed is
    # answered 409 "Upload already received" when repeated: the client goes on to complete.
    Operation("put", setup_grant, run_put, providers=("LOCAL",), retry_answers=("409",)),
    Operation("complete", setup_staged, run_complete, spent_staging=True),
    Operation("signed-fetch", setup_one_photo, run_fetch),
    Operation(
        "signed-fetch-size",
        setup_size_url,
        run_fetch_size,
        function_error=True,
        partial=True,
        asked_sizes_only=True,
    ),
    Operation("restoreProfilePhoto", setup_restore, run_restore, local_files=False),
    # an erasure that was done before its answer failed: NOT_FOUND for the photo, when asked
    # again (it is gone, as asked)
    Operation(
        "deleteProfilePhoto",
        setup_two_photos,
        run_delete,
        erasing=True,
        retry_answers=("NOT_FOUND",),
    ),
    Operation("deleteAllProfilePhotos", setup_erasure, run_delete_all, erasing=True),
    Operation("exportProfilePhotos", setup_one_photo, run_export, local_files=False),
    # the old crop's squares go after the new crop is written, so a failure may leave some
    # of them (removal, like erasure's, stops half way); a retry (a new change) removes the
    # rest, and erasure looks at every crop version
    Operation("setProfilePhotoCrop", setup_rendered, run_set_crop, erasing=True),
    Operation(
        "retention",
        setup_retention,
        run_batch(retention_handler.lambda_handler),
        env=(("RETENTION_ACTIVE_LIMIT", "1"),),
        local_files=False,
    ),
    Operation(
        "renditions", setup_renditions, run_batch(renditions_handler.lambda_handler), partial=True
    ),
]
MATRIX = [
    pytest.param(op, provider, id=f"{op.name}-{provider}")
    for op in OPERATIONS
    for provider in op.providers
]


def test_every_mutation_of_the_schema_is_in_the_matrix() -> None:
    from graphql_protocol import SCHEMA

    mutations = set(SCHEMA.mutation_type.fields) if SCHEMA.mutation_type else set()
    assert mutations <= {op.name for op in OPERATIONS}


# ---------------------------------------------------------------------------------- the test


@pytest.mark.error_log_expected  # checked per case below
@pytest.mark.parametrize(("operation", "provider"), MATRIX)
def test_a_failing_call_answers_cleanly_and_a_retry_converges(
    operation: Operation,
    stack: Stack,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    for name, value in operation.env:
        monkeypatch.setenv(name, value)
    reset()
    caplog.set_level(logging.INFO)
    with fm.storage_base(stack.base_path):
        run_case(operation, stack, "warm", None, None, caplog)  # buckets' folders, clients
        reference = run_case(operation, stack, "clean", None, None, caplog)
        assert reference.problems == [], reference.problems
        # LOCAL: its file operations; R2: every AWS call (DynamoDB's fail the same way with
        # either provider, so they are injected once, where storage is a client too)
        sites = [
            site
            for site in reference.sites
            if (site.service == "file") == (stack.provider == "LOCAL")
        ]
        assert sites or not operation.local_files, f"{operation.name}: no call that can fail"
        problems: list[str] = []
        count = 0
        for index, site in enumerate(fm.sampled(sites)):
            for kind in fm.kinds_for(site, index):
                count += 1
                outcome = run_case(
                    operation, stack, f"f{count}", site, kind, caplog, reference.final
                )
                problems += [f"{site} {kind}: {problem}" for problem in outcome.problems]
    assert problems == [], "\n".join(problems)


@dataclass
class Outcome:
    sites: list[fm.Site]
    problems: list[str]
    final: fm.UserState | None = None


def run_case(
    operation: Operation,
    stack: Stack,
    tag: str,
    site: fm.Site | None,
    kind: str | None,
    caplog: pytest.LogCaptureFixture,
    clean: fm.UserState | None = None,
) -> Outcome:
    user = f"fault-{operation.name.lower()}-{tag}-{stack.provider.lower()}"
    case = Case(stack, user, {})
    operation.setup(case)
    labels = fm.Labels({data["assetId"]: label for label, data in case.photos.items()})
    before = fm.user_state(stack, user, labels)
    caplog.clear()
    problems: list[str] = []
    if site is None or kind is None:
        with fm.recording() as (recorder, files):
            answer = operation.run(case)
        if not answer.ok:
            return Outcome([], [f"clean run failed: {answer.shown}"])
        final = fm.user_state(stack, user, labels)
        return Outcome(fm.sites(recorder, files, labels.path), final.problems(), final)

    with fm.failing(site, kind) as fault:
        answer = operation.run(case)
    if not fault.fired:
        problems.append("the call was not made this time (not injected)")
    errors = [
        f"{record.name}: {record.getMessage()}"
        for record in caplog.get_records("call")
        if record.levelno >= logging.ERROR
        # the renditions function's crash, in the thread that serves Lambda's Invoke API
        and not (operation.function_error and record.threadName != "MainThread")
    ]
    if errors:
        problems.append(f"logged at ERROR: {errors[:2]}")
    if not (answer.ok or answer.unavailable):
        problems.append(f"answered {answer.shown}")
    failed_state = fm.user_state(stack, user, labels)
    if operation.spent_staging:
        failed_state = failed_state.without_spent_staging()
    problems += [
        f"after the failure: {p}" for p in failed_state.problems(erasing=operation.erasing)
    ]

    # the same request again, with nothing failing
    retry = operation.run(case) if not answer.ok else answer
    if not retry.ok and not any(answer in retry.shown for answer in operation.retry_answers):
        problems.append(f"the retry answered {retry.shown}")
    after = fm.user_state(stack, user, labels)
    if operation.spent_staging:
        after = after.without_spent_staging()
    problems += [f"after the retry: {p}" for p in after.problems()]
    if operation.asked_sizes_only and clean is not None:
        unasked = {  # the other sizes and every square: made later, when asked for
            key for key in clean.files if key.count(":") >= 2 and not key.endswith(":SMALL")
        }

        def asked(state: fm.UserState) -> fm.UserState:
            return fm.UserState(state.photos, state.current, state.grants, state.files - unasked)

        after, clean, failed_state = asked(after), asked(clean), asked(failed_state)
    if after != clean:
        problems.append(
            f"the retry did not end where a clean run ends:\n  clean {clean}\n  after {after}"
        )
    if operation.partial:
        if not (before.files <= failed_state.files <= after.files) or (
            failed_state.photos != after.photos
        ):
            problems.append(f"not between before and after: {failed_state} vs {after}")
    elif operation.erasing:
        if not (failed_state.files <= before.files and failed_state.photos <= before.photos):
            problems.append(f"erasure made something: {failed_state}")
    elif failed_state not in (before, after):
        problems.append(
            f"neither nothing nor once:\n  before {before}\n  failed {failed_state}\n"
            f"  after  {after}"
        )
    return Outcome([], problems)
