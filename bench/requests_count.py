"""Requests per operation, counted with botocore's event hooks (bench/recorder.py).

Each operation runs once unrecorded first (a warm container: clients exist, the caller's
user record was refreshed), then once recorded, except where the first call in a container
is the point (the caller's refresh write). LOCAL keeps files on disk, so its object-store
figure is not an AWS request; R2 is moto's S3 on loopback.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from functools import partial
from typing import Any

from bench import images, stack
from bench.budgets import Row, at_most, exactly, failed
from bench.recorder import OBJECT_READS, OBJECT_WRITES, Recorder
from testkit.events import stream_record

SECTION = "requests per operation (botocore hooks)"
PHOTO = 32 * 1024
UPLOAD = "UploadFunction"
FETCH = "SignedFetchFunction"
GRAPHQL = "GraphQLFunction"
# An upload: the limiter's read before the decode (a user over the limit makes the service
# decode nothing), the charge, the registration; with Idempotency-Key, its record's two writes.
PLAIN_UPLOAD = 3
KEYED_UPLOAD = 5  # an upload with Idempotency-Key (what mobile clients send)
KEYED_RETRY = 2  # its retry: the stored answer comes back


def record(action: Callable[[], Any]) -> Recorder:
    with Recorder() as recorder:
        action()
    return recorder


def run(service: stack.Service) -> list[Row]:
    rows: list[Row] = []
    everything: list[tuple[str, Recorder]] = []

    def keep(label: str, recorder: Recorder) -> Recorder:
        everything.append((label, recorder))
        return recorder

    for name, scenario in (
        ("upload", _uploads),
        ("signed fetch", _signed_fetch),
        ("graphql", _graphql),
        ("retention", _retention),
    ):
        try:
            rows += scenario(service, keep)
        except Exception as exc:  # one broken scenario must not hide the others' figures
            rows.append(failed(SECTION, f"{name}: requests", f"{type(exc).__name__}: {exc}"))
    scans = sum(recorder.count("dynamodb", {"Scan"}) for _, recorder in everything)
    rows.append(
        Row(
            SECTION,
            "Scan calls, every operation above",
            scans,
            "",
            exactly(0),
            f"{len(everything)} recorded operations",
        )
    )
    return rows


def _uploads(service: stack.Service, keep: Callable[[str, Recorder], Recorder]) -> list[Row]:
    rows = []
    data = images.photo(PHOTO)
    for provider in ("R2", "LOCAL"):
        service.use(provider)
        user = f"req-upload-{provider.lower()}"
        service.call(UPLOAD, stack.upload_event(user, data))  # warm: clients, imports
        plain = keep(
            f"upload {provider}",
            record(partial(service.call, UPLOAD, stack.upload_event(user, data))),
        )
        key = str(uuid.uuid4())
        event = stack.upload_event(user, data, idempotency_key=key)
        keyed = keep(f"upload {provider} key", record(partial(service.call, UPLOAD, event)))
        again = stack.upload_event(user, data, idempotency_key=key)  # a retry: new boundary
        replay = keep(f"upload {provider} replay", record(partial(service.call, UPLOAD, again)))
        label = f"upload ({provider})"
        rows.append(
            Row(
                SECTION,
                f"{label}, no Idempotency-Key: DynamoDB round trips",
                plain.dynamodb,
                "",
                at_most(PLAIN_UPLOAD),
                plain.describe(),
                plain.summary(),
            )
        )
        if provider == "R2":
            writes = plain.count("s3", OBJECT_WRITES)
            rows.append(
                Row(
                    SECTION,
                    f"{label}, no Idempotency-Key: object-store writes",
                    writes,
                    "",
                    exactly(1),
                    f"every object-store call: {plain.count('s3')}",
                )
            )
        rows.append(
            Row(
                SECTION,
                f"{label}, with Idempotency-Key: DynamoDB round trips",
                keyed.dynamodb,
                "",
                at_most(KEYED_UPLOAD),
                keyed.describe(),
                keyed.summary(),
            )
        )
        rows.append(
            Row(
                SECTION,
                f"{label}, Idempotency-Key retried: DynamoDB round trips",
                replay.dynamodb,
                "",
                at_most(KEYED_RETRY),
                replay.describe() + " (the first answer is returned, nothing is stored again)",
                replay.summary(),
            )
        )
    return rows


def _signed_fetch(service: stack.Service, keep: Callable[[str, Recorder], Recorder]) -> list[Row]:
    rows = []
    key = f"users/req-fetch/profile-picture/{uuid.uuid4()}.jpg"
    for provider in ("R2", "LOCAL"):
        service.use(provider)
        service.put_object(key, images.photo(PHOTO))
        event = stack.signed_get(key)
        service.call(FETCH, event)
        fetch = keep(f"signed fetch {provider}", record(partial(service.call, FETCH, event)))
        label = f"signed fetch ({provider})"
        rows.append(
            Row(
                SECTION,
                f"{label}: DynamoDB calls",
                fetch.dynamodb,
                "",
                exactly(0),
                fetch.describe(),
                fetch.summary(),
            )
        )
        if provider == "R2":
            reads = fetch.count("s3", OBJECT_READS)
            rows.append(
                Row(
                    SECTION,
                    f"{label}: object-store requests",
                    fetch.count("s3"),
                    "",
                    exactly(1, "= 1, a read"),
                    fetch.describe(),
                    holds=reads == fetch.count("s3"),
                )
            )
    return rows


def _graphql(service: stack.Service, keep: Callable[[str, Recorder], Recorder]) -> list[Row]:
    service.use("R2")
    rows = []
    user = "req-graphql"
    photos = stack.seed_user(service.dynamodb, user, active=6, archived=3)
    for photo in photos:
        service.put_object(photo.file_key, images.photo(16 * 1024))

    def ask(case: str, variables: dict[str, Any] | None = None) -> Callable[[], Any]:
        query, defaults = stack.graphql_query(case)
        event = stack.graphql(user, query, variables if variables is not None else defaults)
        return lambda: service.call(GRAPHQL, event)

    service.reset()  # a new container: it has refreshed nobody yet
    first = keep("user(id) first", record(ask("user", {"userId": user})))
    repeat = keep("user(id)", record(ask("user", {"userId": user})))
    rows += [
        Row(
            SECTION,
            "user(id): DynamoDB reads",
            repeat.dynamodb_reads,
            "",
            exactly(1, "= 1, a GetItem"),
            repeat.describe() + " (a warm container, caller refreshed < 5 min ago)",
            repeat.summary(),
            holds=repeat.count("dynamodb", {"GetItem"}) == repeat.dynamodb_reads,
        ),
        Row(
            SECTION,
            "user(id), first call in a container: writes",
            first.dynamodb_writes,
            "",
            at_most(1),
            first.describe() + " (the caller's user-record refresh)",
            first.summary(),
        ),
        Row(
            SECTION,
            "user(id), warm repeat within 5 min: writes",
            repeat.dynamodb_writes,
            "",
            exactly(0),
            "the refresh is skipped for the same claims",
        ),
    ]
    service.reset()
    first_me = keep("me first", record(ask("me-photos")))
    me = keep("me", record(ask("me-photos")))
    rows += [
        Row(
            SECTION,
            "me { profilePhotos }: Query calls",
            me.count("dynamodb", {"Query"}),
            "",
            exactly(1),
            me.describe() + " (the GetItem is `me` itself)",
            me.summary(),
        ),
        Row(
            SECTION,
            "me { profilePhotos }, first call in a container: writes",
            first_me.dynamodb_writes,
            "",
            at_most(1),
            first_me.describe(),
            first_me.summary(),
        ),
        Row(
            SECTION,
            "me { profilePhotos }, warm repeat: writes",
            me.dynamodb_writes,
            "",
            exactly(0),
            "",
        ),
    ]
    export = keep("export", record(ask("export")))
    rows.append(
        Row(
            SECTION,
            "export (9 photos, 3 archived): DynamoDB calls",
            export.dynamodb,
            "",
            None,
            export.describe() + "; full history is a Query of the base table by design",
            export.summary(),
        )
    )
    archived = photos[0].asset_id
    restore = keep("restore", record(ask("restore", {"assetId": archived})))
    rows.append(
        Row(
            SECTION,
            "restore an archived photo: DynamoDB calls",
            restore.dynamodb,
            "",
            None,
            restore.describe(),
            restore.summary(),
        )
    )
    victim = photos[2].asset_id
    delete = keep("delete", record(ask("delete", {"assetId": victim})))
    rows.append(
        Row(
            SECTION,
            "delete a photo: requests",
            delete.dynamodb + delete.count("s3"),
            "",
            None,
            delete.describe(),
            delete.summary(),
        )
    )
    current = photos[-1].asset_id
    delete_current = keep("delete current", record(ask("delete", {"assetId": current})))
    rows.append(
        Row(
            SECTION,
            "delete the current photo: requests",
            delete_current.dynamodb + delete_current.count("s3"),
            "",
            None,
            delete_current.describe() + " (the pointer moves to the newest active photo)",
            delete_current.summary(),
        )
    )
    return rows


def _archived(service: stack.Service, users: list[str]) -> int:
    """Archived photos of `users` (read outside any recorder)."""
    total = 0
    for user in users:
        response = service.dynamodb.query(
            TableName=stack.DEV_ENV["PHOTOS_TABLE"],
            KeyConditionExpression="userId = :u",
            FilterExpression="archived = :t",
            ExpressionAttributeValues={":u": {"S": user}, ":t": {"BOOL": True}},
            ConsistentRead=True,
        )
        total += response["Count"]
    return total


def _retention(service: stack.Service, keep: Callable[[str, Recorder], Recorder]) -> list[Row]:
    service.use("R2")
    rows = []
    limit = 5  # RETENTION_ACTIVE_LIMIT, the template's default

    # one record: a user's 6th active photo arrives
    photos = stack.seed_user(service.dynamodb, "ret-one", active=limit + 1)
    newest = photos[-1]
    event = stack.stream_event(
        [stream_record("ret-one", newest.asset_id, newest.sort_key or "", 1)]
    )
    single = keep("retention 1", record(lambda: service.retention(event)))
    archived = _archived(service, ["ret-one"])
    rows += _retention_rows("retention, 1 record", single, archived, users=1)

    # the sample batch's shape: 7 records of one user
    photos = stack.seed_user(service.dynamodb, "ret-seven", active=7)
    records = [
        stream_record("ret-seven", p.asset_id, p.sort_key or "", i) for i, p in enumerate(photos)
    ]
    seven = keep("retention 7", record(lambda: service.retention(stack.stream_event(records))))
    rows += _retention_rows(
        "retention, 7 records of 1 user", seven, _archived(service, ["ret-seven"]), users=1
    )

    # one batch of 100 records over 100 users, each with one photo too many
    users = [f"ret-batch-{i:03d}" for i in range(100)]
    records = []
    for i, user in enumerate(users):
        photos = stack.seed_user(service.dynamodb, user, active=limit + 1)
        records.append(stream_record(user, photos[-1].asset_id, photos[-1].sort_key or "", i))
    batch = keep("retention 100", record(lambda: service.retention(stack.stream_event(records))))
    rows += _retention_rows(
        "retention, 100 records over 100 users", batch, _archived(service, users), users=100
    )
    return rows


def _retention_rows(label: str, recorder: Recorder, archived: int, *, users: int) -> list[Row]:
    queries = recorder.count("dynamodb", {"Query"})
    return [
        Row(
            SECTION,
            f"{label}: Query calls",
            queries,
            "",
            at_most(users, f"<= {users} (1 per user)"),
            recorder.describe(),
            recorder.summary(),
        ),
        Row(
            SECTION,
            f"{label}: writes",
            recorder.dynamodb_writes,
            "",
            exactly(archived, f"= {archived} (1 per photo archived)"),
            f"{archived} photos archived",
        ),
    ]
