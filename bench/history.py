"""Growth with history: does a user's archive cost anything on the active path?

Two users, each with 5 active photos (the retention limit); one also has 10,000 archived
photos, seeded straight into the table with BatchWriteItem. For each: an upload and the
retention run its stream record triggers, then `me { profilePhotos }` (after one unrecorded
call, so both are a warm container's request). Every DynamoDB request asks for
`ReturnConsumedCapacity=TOTAL`. The figures are the differences, 10,000 archived minus none:
requests, read capacity as moto reports it (a constant per call), and read capacity by
DynamoDB's 4 KB rule on the items each read returned (what a read of archived items would
make grow).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from bench import images, stack
from bench.budgets import Row, exactly, failed
from bench.recorder import Recorder
from testkit.events import stream_record

SECTION = "growth with history (10,000 archived photos vs none)"
ARCHIVED = 10_000
ACTIVE = 5
USERS = {0: "hist-00000", ARCHIVED: f"hist-{ARCHIVED:05d}"}  # same length: same item sizes


def run(service: stack.Service, progress: Callable[[str], None]) -> list[Row]:
    try:
        return _run(service, progress)
    except Exception as exc:
        return [failed(SECTION, "history", f"{type(exc).__name__}: {exc}")]


def _run(service: stack.Service, progress: Callable[[str], None]) -> list[Row]:
    service.use("R2")
    started = time.perf_counter()
    for archived, user in USERS.items():
        stack.seed_user(service.dynamodb, user, active=ACTIVE, archived=archived)
    progress(
        f"history: seeded {ARCHIVED:,} archived photos in {time.perf_counter() - started:.1f} s"
    )
    data = images.photo(32 * 1024)
    service.call("UploadFunction", stack.upload_event("hist-warm", data))  # warm clients

    query, variables = stack.graphql_query("me-photos")
    measured: dict[int, dict[str, Recorder]] = {}
    for archived, user in USERS.items():
        service.call("GraphQLFunction", stack.graphql(user, query, variables))  # refresh
        with Recorder(capacity=True) as cycle:
            answer = service.call("UploadFunction", stack.upload_event(user, data)).json()["data"]
            sort_key = f"{answer['uploadedAt']}#{answer['assetId']}"
            record = stream_record(user, answer["assetId"], sort_key, 1)
            service.retention(stack.stream_event([record]))
        with Recorder(capacity=True) as me:
            result = service.call("GraphQLFunction", stack.graphql(user, query, variables)).json()
        photos = result["data"]["me"]["profilePhotos"]
        if len(photos) != ACTIVE:
            raise RuntimeError(f"{user}: me lists {len(photos)} active photos, expected {ACTIVE}")
        measured[archived] = {"upload + retention": cycle, "me { profilePhotos }": me}

    rows = []
    for operation in ("upload + retention", "me { profilePhotos }"):
        none, many = measured[0][operation], measured[ARCHIVED][operation]
        rows += [
            _row(f"{operation}: DynamoDB requests", none, many, lambda r: r.dynamodb, _describe),
            _row(
                f"{operation}: read capacity, DynamoDB's 4 KB rule",
                none,
                many,
                lambda r: r.estimated_rcu,
                lambda r: f"{r.estimated_rcu:g} RCU, {r.items_read} items read",
            ),
            _row(
                f"{operation}: read capacity as moto reports it",
                none,
                many,
                lambda r: r.reported_rcu,
                lambda r: f"{r.reported_rcu:g} RCU",
            ),
        ]
    return rows


def _describe(recorder: Recorder) -> str:
    return f"{recorder.dynamodb} ({recorder.describe()})"


def _row(
    metric: str,
    none: Recorder,
    many: Recorder,
    value: Callable[[Recorder], float],
    describe: Callable[[Recorder], str],
) -> Row:
    data: dict[str, Any] = {"none": none.summary(), "archived": many.summary()}
    return Row(
        SECTION,
        metric,
        value(many) - value(none),
        "delta",
        exactly(0, "same (+0)"),
        f"none: {describe(none)}; {ARCHIVED:,} archived: {describe(many)}",
        data,
    )
