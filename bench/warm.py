"""Warm time per operation, in process, each beside its floor, as a ratio.

Floors (what the operation could cost at best, in the same process and the same run):

- signed fetch: the bare Powertools handler (bench/bare_handler) returning the same bytes,
  read from disk on every request: same decorators, same base64 response, no token, no store.
- 5 MiB upload: what any upload that keeps the contract must do with the same file:
  base64-decode the event body, SHA-256 the file, decode it as the decode check must (a bare
  Pillow open + `draft` + `load`, issue 15) and, in LOCAL mode, write it durably (a temporary
  file, fsync, rename, fsync of the folder: what a crash-safe store does, issue 14; in R2 mode
  the write is PutObject, inside the AWS window). Beside it, without budget, the first
  round's floor (decode + SHA-256 + a plain write), which the checks added since are not in.

An operation and its floor alternate, one call each, so drift falls on both; each figure is
the ratio of medians. DynamoDB and R2 calls go to moto on loopback, in another process, and
moto is no model of DynamoDB's latency (its TransactWriteItems deep-copies every table it
touches, so it slows as the tables grow): the figure is the handler's own time, the call's
wall time minus the time spent inside AWS calls (botocore's before-call to after-call,
bench/recorder.py). The wall time and the AWS share are in the notes. The other operations
are shown beside the bare handler's empty 200, without a budget.

Tracing is on as the template deploys it (`Tracing: Active`, bench/stack.py `Service`): the
Tracer's patches, subsegments and segments are in every figure, the floors' bare handler's
included; a row checks the handlers' Tracer was on.

Signed fetch's Lambda duration, per body size (R2, warm, wall time with its GetObject on
moto): what the cost per view (bench/cost.py) bills, instead of an assumed figure.
"""

from __future__ import annotations

import binascii
import hashlib
import io
import os
import statistics
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from bench import images, stack
from bench.budgets import Row, at_most, exactly, failed
from bench.recorder import Recorder
from testkit.events import stream_record

SECTION = "warm time (in process; own time, AWS calls excluded; ratio of medians)"
FETCH_BYTES = 256 * 1024  # a profile photo as served
UPLOAD_BYTES = 5 * images.MIB
SMALL_UPLOAD = 32 * 1024
# Bodies the signed fetch's duration is measured at (about SMALL, MEDIUM, LARGE renditions
# and the 256 KiB above): bench/cost.py fits a line through them.
DURATION_BYTES = (4 * 1024, 32 * 1024, 96 * 1024, FETCH_BYTES)
DURATION_METRIC = "signed fetch (R2), {kib} KiB body: Lambda duration, warm"


@dataclass(frozen=True)
class Timing:
    own: float  # median seconds outside AWS calls
    wall: float  # median seconds, AWS calls included
    aws: float  # median seconds inside AWS calls
    floor: float  # median seconds of the floor

    @property
    def ratio(self) -> float:
        return self.own / self.floor

    def notes(self) -> str:
        return (
            f"own {self.own * 1000:.2f} ms vs floor {self.floor * 1000:.2f} ms; wall "
            f"{self.wall * 1000:.2f} ms of which AWS calls (moto) {self.aws * 1000:.2f} ms"
        )

    def data(self) -> dict[str, float]:
        return {"own_s": self.own, "wall_s": self.wall, "aws_s": self.aws, "floor_s": self.floor}


def timed(action: Callable[[], Any]) -> tuple[float, float]:
    """(wall seconds, seconds inside AWS calls) of one call of `action`."""
    with Recorder() as recorder:
        started = time.perf_counter()
        action()
        wall = time.perf_counter() - started
    return wall, recorder.aws_seconds


def alternate(
    op: Callable[[], Any], floor: Callable[[], Any], runs: int, warmup: int = 3
) -> Timing:
    """`op` and `floor` called alternately, `runs` times each after `warmup` rounds."""
    for _ in range(warmup):
        op()
        floor()
    walls, awss, owns, floors = [], [], [], []
    for _ in range(runs):
        wall, aws = timed(op)
        walls.append(wall)
        awss.append(aws)
        owns.append(wall - aws)
        started = time.perf_counter()
        floor()
        floors.append(time.perf_counter() - started)
    median = statistics.median
    return Timing(median(owns), median(walls), median(awss), median(floors))


def run(service: stack.Service, runs: int, upload_runs: int, workdir: Path) -> list[Row]:
    rows: list[Row] = [
        Row(
            SECTION,
            "warm calls whose Tracer was on (Tracing: Active, as deployed)",
            1.0 if service.traced else 0.0,
            "",
            exactly(1, "= 1, on"),
            "the handlers' Powertools Tracer saw Lambda with tracing active: X-Ray's patches "
            "and segments are in every figure below",
        )
    ]
    for name, section in (
        ("signed fetch", lambda: _signed_fetch(service, runs)),
        ("signed fetch durations", lambda: _fetch_durations(service, runs)),
        ("5 MiB upload", lambda: _upload(service, upload_runs, workdir)),
        ("other operations", lambda: _others(service, runs)),
    ):
        try:
            rows += section()
        except Exception as exc:
            rows.append(failed(SECTION, f"{name}: warm", f"{type(exc).__name__}: {exc}"))
    return rows


def _signed_fetch(service: stack.Service, runs: int) -> list[Row]:
    data = images.photo(FETCH_BYTES)
    service.bare_file.write_bytes(data)
    key = f"users/warm-fetch/profile-picture/{uuid.uuid4()}.jpg"
    bare_event = stack.signed_get(key)
    rows = []
    for provider, limit in (("LOCAL", 2.0), ("R2", 2.0)):
        service.use(provider)
        service.put_object(key, data)
        event = stack.signed_get(key)
        timing = alternate(
            partial(service.call, "SignedFetchFunction", event),
            lambda: service.call(stack.BARE, bare_event),
            runs,
        )
        rows.append(
            Row(
                SECTION,
                f"signed fetch ({provider}) / bare handler serving the file",
                timing.ratio,
                "x",
                at_most(limit) if limit else None,
                f"{timing.notes()}; {FETCH_BYTES // 1024} KiB photo, n={runs}",
                timing.data(),
            )
        )
    return rows


def _fetch_durations(service: stack.Service, runs: int) -> list[Row]:
    """Signed fetch (R2) at each of DURATION_BYTES: the wall time Lambda bills (own time and
    the GetObject on moto), beside the bare handler serving the same bytes."""
    service.use("R2")
    rows = []
    for size in DURATION_BYTES:
        data = images.photo(size)
        service.bare_file.write_bytes(data)
        key = f"users/warm-fetch/profile-picture/{uuid.uuid4()}.jpg"
        service.put_object(key, data)
        event, bare_event = stack.signed_get(key), stack.signed_get(key)
        timing = alternate(
            partial(service.call, "SignedFetchFunction", event),
            lambda bare_event=bare_event: service.call(stack.BARE, bare_event),
            runs,
        )
        rows.append(
            Row(
                SECTION,
                DURATION_METRIC.format(kib=size // 1024),
                timing.wall * 1000,
                "ms",
                None,
                f"{timing.notes()}; n={runs}; on a whole core of this machine, GetObject on "
                "moto over loopback (R2 from Lambda is farther)",
                timing.data() | {"bytes": size},
            )
        )
    return rows


def _upload(service: stack.Service, runs: int, workdir: Path) -> list[Row]:
    from PIL import Image

    data = images.photo(UPLOAD_BYTES)
    target = workdir / "floor-upload.jpg"
    rows = []
    for provider, limit in (("LOCAL", 2.0), ("R2", 2.0)):
        service.use(provider)
        event = stack.upload_event(f"warm-upload-{provider.lower()}", data)
        body = event["body"]

        def floor(body: str = body, durable: bool = provider == "LOCAL") -> None:
            raw = binascii.a2b_base64(body)  # what web.raw_body does
            hashlib.sha256(data).hexdigest()
            with Image.open(io.BytesIO(data)) as image:
                image.draft("RGB", (1, 1))  # libjpeg's smallest scale, 1/8
                image.load()
            if durable:
                _durable_write(target, data)
            del raw

        def first_floor(body: str = body) -> None:
            raw = binascii.a2b_base64(body)
            hashlib.sha256(data).hexdigest()
            target.write_bytes(data)
            del raw

        timing = alternate(partial(service.call, "UploadFunction", event), floor, runs, warmup=2)
        what = "base64-decode + sha256 + Pillow draft decode" + (
            " + durable write" if provider == "LOCAL" else ""
        )
        rows.append(
            Row(
                SECTION,
                f"5 MiB upload ({provider}) / {what}",
                timing.ratio,
                "x",
                at_most(limit) if limit else None,
                f"{timing.notes()}; n={runs}"
                + (
                    "; R2's PutObject checksum and signing run inside the AWS window"
                    if provider == "R2"
                    else ""
                ),
                timing.data(),
            )
        )
        first = statistics.median(_seconds(first_floor) for _ in range(runs))
        rows.append(
            Row(
                SECTION,
                f"5 MiB upload ({provider}) / base64-decode + sha256 + plain write (first floor)",
                timing.own / first,
                "x",
                None,
                f"own {timing.own * 1000:.2f} ms vs {first * 1000:.2f} ms; this floor leaves"
                " out the decode check" + (" and the durable write" if provider == "LOCAL" else ""),
                {"own_s": timing.own, "floor_s": first},
            )
        )
    target.unlink(missing_ok=True)
    return rows


def _durable_write(path: Path, data: bytes) -> None:
    """A crash-safe write at its cheapest: temporary file, fsync, rename, fsync the folder."""
    temporary = path.with_suffix(".tmp")
    with temporary.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def _seconds(action: Callable[[], Any]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def _others(service: stack.Service, runs: int) -> list[Row]:
    """Everyday operations beside the bare handler's empty 200 (information, no budget)."""
    service.use("LOCAL")
    user = "warm-graphql"
    photos = stack.seed_user(service.dynamodb, user, active=5, archived=3)
    small = images.photo(SMALL_UPLOAD)
    bare_event = stack.signed_get("users/x/profile-picture/x.jpg")
    saved = os.environ.pop("BARE_FILE", None)  # the anchor's empty 200

    def graphql(case: str, variables: dict[str, Any] | None = None) -> Callable[[], Any]:
        query, defaults = stack.graphql_query(case)
        event = stack.graphql(user, query, variables if variables is not None else defaults)
        return lambda: service.call("GraphQLFunction", event)

    retention_user = "warm-retention"
    kept = stack.seed_user(service.dynamodb, retention_user, active=5)
    retention_event = stack.stream_event(
        [stream_record(retention_user, kept[-1].asset_id, kept[-1].sort_key or "", 1)]
    )
    operations: list[tuple[str, Callable[[], Any]]] = [
        (
            "upload 32 KiB (LOCAL)",
            lambda: service.call("UploadFunction", stack.upload_event("warm-small", small)),
        ),
        ("user(id)", graphql("user", {"userId": user})),
        ("me { profilePhotos }", graphql("me-photos")),
        ("export (8 photos)", graphql("export")),
        ("restore", graphql("restore", {"assetId": photos[0].asset_id})),
        ("retention, 1 record (nothing to archive)", lambda: service.retention(retention_event)),
    ]
    rows = []
    try:
        for label, action in operations:
            timing = alternate(action, lambda: service.call(stack.BARE, bare_event), runs)
            rows.append(
                Row(
                    SECTION,
                    f"{label} / bare handler's empty 200",
                    timing.ratio,
                    "x",
                    None,
                    f"{timing.notes()}; n={runs}",
                    timing.data(),
                )
            )
    finally:
        if saved is not None:
            os.environ["BARE_FILE"] = saved
    return rows
