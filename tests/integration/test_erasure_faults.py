"""Erasure finishes on a retry whichever of its steps fails (issue 24, item 4).

Each photo has its original, its three sizes and their three squares (the stream made
them) and the user a staged direct upload. A clean `deleteProfilePhoto` /
`deleteAllProfilePhotos` is recorded (`faults_matrix`: AWS calls through botocore hooks,
LOCAL file operations through an audit hook); then every step of the erasure fails in each
of its ways, once, on a fresh user, and the same mutation is sent again. The steps are every
call up to the last photo item's delete: what follows only reads the answer (a failure there
finds the photo gone on the retry, as asked). After the retry, nothing of an erased photo is
left, no file and no item, and the retry reports every photo that the failed attempt left
behind.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

import graphql_handler
import pytest
import renditions_handler

from devkit.context import LambdaContext
from profile_photos.services import reset
from testkit.events import graphql_event, user_token
from testkit.invoke import invoke
from tests.integration import faults_matrix as fm
from tests.integration.conftest import Stack
from tests.integration.test_faults import Case, setup_erasure, user_records

fm.install()

DELETE_ONE = (
    "mutation D($id: ID!) { deleteProfilePhoto(assetId: $id) { deletedCount deletedAssetIds } }"
)
DELETE_ALL = "mutation { deleteAllProfilePhotos { deletedCount deletedAssetIds } }"


@dataclass(frozen=True)
class Erasure:
    name: str
    erased: Callable[[Case], set[str]]  # the labels of the photos it erases
    send: Callable[[Case], dict]  # the GraphQL answer

    def run(self, case: Case) -> dict:
        return self.send(case)


def send_delete_one(case: Case) -> dict:
    return _send(case, DELETE_ONE, {"id": case.photos["b"]["assetId"]})


def send_delete_all(case: Case) -> dict:
    return _send(case, DELETE_ALL, None)


def _send(case: Case, query: str, variables: dict | None) -> dict:
    """The mutation's answer: `ok`, `unavailable` (the 503 envelope, or a GraphQL error with
    `extensions.code` SERVICE_UNAVAILABLE and no data), `data` and `shown`."""
    event = graphql_event("erase", query, variables, user_token(sub=case.user))
    result = invoke(graphql_handler.lambda_handler, event)
    payload = result.json()
    codes = [e.get("extensions", {}).get("code") for e in payload.get("errors") or []]
    return {
        "ok": result.status == 200 and not codes,
        "unavailable": result.status == 503 or codes == ["SERVICE_UNAVAILABLE"],
        "data": payload.get("data"),
        "shown": f"{result.status} {json.dumps(payload)[:300]}",
    }


ERASURES = [
    Erasure("deleteProfilePhoto", lambda case: {"b"}, send_delete_one),
    Erasure("deleteAllProfilePhotos", lambda case: {"a", "b"}, send_delete_all),
]


def setup(case: Case) -> None:
    """Photos a and b with every size made, and a staged direct upload never completed."""
    setup_erasure(case)
    records = user_records(case, "RenditionsFunction")
    result = renditions_handler.lambda_handler({"Records": records}, LambdaContext("setup"))
    assert result == {"batchItemFailures": []}


def files_of(state: fm.UserState, label: str) -> set[str]:
    return {
        key for key in state.files if key == f"photo:{label}" or key.startswith(f"photo:{label}:")
    }


@pytest.mark.error_log_expected  # checked per case below
@pytest.mark.parametrize("erasure", ERASURES, ids=lambda erasure: erasure.name)
def test_a_retry_after_a_failure_at_any_step_of_erasure_leaves_nothing_and_reports_the_photo(
    erasure: Erasure, stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    reset()
    caplog.set_level(logging.INFO)
    problems: list[str] = []
    with fm.storage_base(stack.base_path):
        # Given a clean run, recorded: which calls erasure makes, in order
        clean = Case(stack, f"erase-{erasure.name.lower()}-clean-{stack.provider.lower()}", {})
        setup(clean)
        labels = fm.Labels({data["assetId"]: label for label, data in clean.photos.items()})
        # the original, 3 sizes, 3 squares
        assert len(files_of(fm.user_state(stack, clean.user, labels), "b")) == 7
        with fm.recording() as (recorder, files):
            assert erasure.run(clean)["ok"]
        steps = erasure_steps(recorder, files, labels, stack.provider)
        assert steps, "no step recorded"

        count = 0
        for index, site in enumerate(fm.sampled(steps)):
            for kind in fm.kinds_for(site, index):
                count += 1
                problems += [
                    f"{site} {kind}: {problem}"
                    for problem in failed_then_retried(
                        erasure, stack, f"f{count}", site, kind, caplog
                    )
                ]
    assert problems == [], "\n".join(problems)


def erasure_steps(
    recorder: fm.Recorder, files: list[tuple[str, str]], labels: fm.Labels, provider: str
) -> list[fm.Site]:
    """The calls up to the last photo item's delete (the last `DeleteItem`): LOCAL, its file
    operations (every one of them is a delete of erasure); R2, its AWS calls."""
    every = fm.sites(recorder, files, labels.path)
    if provider == "LOCAL":
        return [site for site in every if site.service == "file"]
    aws = [site for site in every if site.service != "file"]
    last = max(i for i, site in enumerate(aws) if site.operation == "DeleteItem")
    return aws[: last + 1]


def failed_then_retried(
    erasure: Erasure,
    stack: Stack,
    tag: str,
    site: fm.Site,
    kind: str,
    caplog: pytest.LogCaptureFixture,
) -> list[str]:
    case = Case(stack, f"erase-{erasure.name.lower()}-{tag}-{stack.provider.lower()}", {})
    setup(case)
    labels = fm.Labels({data["assetId"]: label for label, data in case.photos.items()})
    erased = erasure.erased(case)
    caplog.clear()

    # When one step fails
    with fm.failing(site, kind) as fault:
        first = erasure.run(case)
    problems = [] if fault.fired else ["the call was not made this time (not injected)"]
    if not (first["ok"] or first["unavailable"]):
        problems.append(f"answered {first['shown']}")
    errors = [r.getMessage() for r in caplog.get_records("call") if r.levelno >= logging.ERROR]
    if errors:
        problems.append(f"logged at ERROR: {errors[:2]}")
    failed_state = fm.user_state(stack, case.user, labels)
    left = {label for label, _ in failed_state.photos if label in erased}

    # Then the same mutation again finishes the job and reports what was left
    retry = erasure.run(case)
    if not retry["ok"]:
        return [*problems, f"the retry answered {retry['shown']}"]
    data = next(iter(retry["data"].values()))
    reported = {labels(asset_id) for asset_id in data["deletedAssetIds"]}
    if first["ok"]:
        left = set()  # the failing call was not needed: done the first time
    if not left <= reported:
        problems.append(f"the retry reported {sorted(reported)}, not {sorted(left)}")
    after = fm.user_state(stack, case.user, labels)
    for label in erased:
        if files_of(after, label):
            problems.append(f"files of {label} left: {sorted(files_of(after, label))}")
        if any(photo == label for photo, _ in after.photos):
            problems.append(f"the item of {label} left")
    if {f for f in after.files if f.startswith("staged:")} or after.grants:
        problems.append(f"staged upload left: {after}")
    kept = {"a"} - erased
    for label in kept:
        if len(files_of(after, label)) != 7 or label not in {p for p, _ in after.photos}:
            problems.append(f"{label} was not to be erased: {after}")
    return problems + [f"after the retry: {p}" for p in after.problems()]
