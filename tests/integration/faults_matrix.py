"""The fault matrix's machinery: which calls an operation makes, how each one fails, and what
the state of one user looks like (for `test_faults.py`).

- Enumeration: an operation runs once cleanly under the bench's `Recorder`
  (`bench/recorder.py`, botocore hooks on every client), which lists its AWS calls in order
  (`dynamodb.TransactWriteItems`, `s3.PutObject`, ...). LOCAL storage's file operations are
  listed the same way by a Python audit hook (`sys.addaudithook`: `open`, `os.rename`,
  `os.link`, `os.remove`, `os.mkdir` under the storage's base path): a new call is in the
  next recording, and so in the matrix, without editing a table.
- Injection: the n-th occurrence of one call fails, once. AWS calls fail in a botocore
  `before-call` hook (`testkit.aws_calls`) that raises the exception botocore itself raises
  once its retries are exhausted: a `ClientError` with the service's real error shape, or
  `EndpointConnectionError` / `ReadTimeoutError` / `ConnectionClosedError`. `before-call`
  runs once per API call, before botocore's retry loop, so retries neither hide the fault
  nor slow the matrix down. A file operation fails in the audit hook with the `OSError` the
  kernel gives (ENOSPC, EACCES): the `os` seam itself, so no code of the storage is patched
  (a read-only directory would not do: CI runs as root, who may write anywhere).
- Depth: `make faults` (`FAULT_MATRIX=full`, in CI) fails every call in every way; `make
  test` the first and last call of each kind (nothing done yet, nearly all), once each.
- State: what one user has (photos with their flags, the current pointer, direct-upload
  grants, stored files), with asset and upload ids replaced by stable labels, so the state
  after a failure can be compared with "nothing happened" and "it happened once".
"""

from __future__ import annotations

import errno
import json
import os
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from bench.recorder import Recorder
from bench.recorder import install as install_recorder
from devkit.defaults import DEV_ENV
from profile_photos.renditions import SIZES, rendition_key
from testkit import aws_calls

# --------------------------------------------------------------------------- the errors
# (code, HTTP status, message) as each service answers them.
THROTTLED = {
    "dynamodb": ("ThrottlingException", 400, "Rate of requests exceeds the allowed throughput."),
    "s3": ("SlowDown", 503, "Please reduce your request rate."),
    "lambda": ("TooManyRequestsException", 429, "Rate Exceeded."),
}
SERVER_ERRORS = {
    "dynamodb": [
        (
            "ProvisionedThroughputExceededException",
            400,
            "The level of configured provisioned throughput for the table was exceeded.",
        ),
        ("InternalServerError", 500, "Internal server error"),
        ("ServiceUnavailable", 503, "Service Unavailable"),
    ],
    "s3": [
        ("InternalError", 500, "We encountered an internal error. Please try again."),
        ("ServiceUnavailable", 503, "Service Unavailable"),
    ],
    "lambda": [("ServiceException", 500, "The AWS Lambda service encountered an internal error.")],
}
CONNECTION_ERRORS = ("EndpointConnectionError", "ReadTimeoutError", "ConnectionClosedError")
TRANSACTION_CANCELED = "TransactionCanceledException"
DISK_ERRORS = {"ENOSPC": errno.ENOSPC, "EACCES": errno.EACCES}


def error_kinds(service: str, operation: str) -> list[str]:  # every way it can fail
    if service == "file":
        return list(DISK_ERRORS) if operation in WRITES else ["EACCES"]
    kinds = [THROTTLED[service][0]] + [code for code, _, _ in SERVER_ERRORS[service]]
    if service == "dynamodb" and operation == "TransactWriteItems":
        kinds.append(TRANSACTION_CANCELED)
    return kinds + list(CONNECTION_ERRORS)


FULL = os.environ.get("FAULT_MATRIX", "") == "full"  # `make faults`: every way, every call


def sampled(sites: list[Site], *, full: bool = FULL) -> list[Site]:
    """All the calls (`full`), else the first and the last of each `service.operation`."""
    last = {(site.service, site.operation): site.occurrence for site in sites}  # in order
    return [s for s in sites if full or s.occurrence in (1, last[s.service, s.operation])]


def kinds_for(site: Site, index: int, *, full: bool = FULL) -> list[str]:
    """The ways the `index`-th call fails: one error response and one broken connection, the
    kinds taking turns from call to call (each is an exception of the same class to the
    code); `TransactionCanceledException` on a transaction; LOCAL files: disk full and
    permission denied on writes, permission on the rest. Not `full`: one of those, in turn."""
    every = error_kinds(site.service, site.operation)
    if site.service == "file":
        picked = every
    else:
        responses = [THROTTLED[site.service][0], *(c for c, _, _ in SERVER_ERRORS[site.service])]
        broken = CONNECTION_ERRORS[index % len(CONNECTION_ERRORS)]
        picked = [responses[index % len(responses)], broken]
        if TRANSACTION_CANCELED in every:
            picked.append(TRANSACTION_CANCELED)
    return picked if full else [picked[index % len(picked)]]


def aws_error(kind: str, service: str, operation: str, params: dict[str, Any]) -> Exception:
    """The exception botocore raises for `kind` once its retries gave up."""
    url = params.get("url", "https://example.invalid/")
    if kind == "EndpointConnectionError":
        return EndpointConnectionError(endpoint_url=url)
    if kind == "ReadTimeoutError":
        return ReadTimeoutError(endpoint_url=url)
    if kind == "ConnectionClosedError":
        return ConnectionClosedError(endpoint_url=url)
    if kind == TRANSACTION_CANCELED:
        # another transaction holds an item: a reason per item, in order ("None": it was fine)
        body = json.loads(params.get("body") or b"{}")
        reasons = [{"Code": "None"} for _ in body.get("TransactItems", [])]
        reasons[-1] = {"Code": "TransactionConflict", "Message": "Transaction is ongoing"}
        codes = ", ".join(reason["Code"] for reason in reasons)
        response: dict[str, Any] = {
            "Error": {
                "Code": kind,
                "Message": f"Transaction cancelled, please refer cancellation reasons for "
                f"specific reasons [{codes}]",
            },
            "CancellationReasons": reasons,
            "ResponseMetadata": {"HTTPStatusCode": 400},
        }
        return ClientError(response, operation)  # type: ignore[arg-type]
    for code, status, message in [THROTTLED[service], *SERVER_ERRORS[service]]:
        if code == kind:
            response = {
                "Error": {"Code": code, "Message": message},
                "ResponseMetadata": {"HTTPStatusCode": status},
            }
            return ClientError(response, operation)  # type: ignore[arg-type]
    raise ValueError(f"unknown error kind {kind!r} for {service}")


# ------------------------------------------------------------------- calls and faults


@dataclass(frozen=True)
class Site:
    """One call of an operation: the `occurrence`-th (from 1) `service.operation`."""

    service: str  # "dynamodb", "s3", "lambda", or "file" (LOCAL storage)
    operation: str  # botocore's name, or the audit event ("open", "os.rename", ...)
    occurrence: int
    detail: str = ""  # file operations: the path under the base, with ids replaced

    def __str__(self) -> str:
        where = f" {self.detail}" if self.detail else ""
        return f"{self.service}.{self.operation}#{self.occurrence}{where}"


@dataclass
class Fault:
    site: Site
    kind: str
    fired: int = 0
    seen: Counter[tuple[str, str]] = field(default_factory=Counter)


_LOCK = threading.Lock()
_FAULTS: list[Fault] = []
_FILE_RECORDINGS: list[list[tuple[str, str]]] = []
_BASE: list[Path] = []  # the LOCAL storage base path of the running test


def install() -> None:
    """Hook botocore clients (recorder and injector) and the interpreter's audit events."""
    install_recorder()
    aws_calls.hook("before-call", _before_call)
    if not getattr(sys, "_faults_matrix_audit", False):
        sys.addaudithook(_audit)
        sys._faults_matrix_audit = True  # type: ignore[attr-defined]


def _before_call(model: Any, params: dict[str, Any], **_: Any) -> None:
    if not _FAULTS:
        return
    service, operation = model.service_model.service_name, model.name
    with _LOCK:
        for fault in _FAULTS:
            if fault.site.service != service or fault.site.operation != operation:
                continue
            fault.seen[service, operation] += 1
            if fault.fired == 0 and fault.seen[service, operation] == fault.site.occurrence:
                fault.fired += 1
                raise aws_error(fault.kind, service, operation, params)


FILE_EVENTS = {"open", "os.rename", "os.link", "os.remove", "os.mkdir"}
WRITES = {"open", "os.rename", "os.link", "os.mkdir"}  # "open" for writing; reads: "open-read"


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event not in FILE_EVENTS or not (_FAULTS or _FILE_RECORDINGS) or not _BASE:
        return
    target = args[0]
    if isinstance(target, int) or target is None:
        return
    try:
        path = Path(os.fsdecode(target))
    except TypeError:
        return
    if not path.is_relative_to(_BASE[0]):
        return
    if event == "open" and not _writes(args):
        event = "open-read"
    detail = str(path.relative_to(_BASE[0]))
    for recording in _FILE_RECORDINGS:
        recording.append((event, detail))
    with _LOCK:
        for fault in _FAULTS:
            if fault.site.service != "file" or fault.site.operation != event:
                continue
            fault.seen["file", event] += 1
            if fault.fired == 0 and fault.seen["file", event] == fault.site.occurrence:
                fault.fired += 1
                code = DISK_ERRORS[fault.kind]
                raise OSError(code, os.strerror(code), str(path))


def _writes(args: tuple[Any, ...]) -> bool:
    mode, flags = ((*args, None, None))[1:3]
    if isinstance(mode, str) and any(m in mode for m in "wax+"):
        return True
    return isinstance(flags, int) and bool(flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT))


@contextmanager
def storage_base(path: Path) -> Iterator[None]:
    _BASE.append(path.resolve())
    try:
        yield
    finally:
        _BASE.remove(path.resolve())


@contextmanager
def recording() -> Iterator[tuple[Recorder, list[tuple[str, str]]]]:
    """The AWS calls (the bench's recorder) and LOCAL file operations made meanwhile."""
    files: list[tuple[str, str]] = []
    _FILE_RECORDINGS.append(files)
    try:
        with Recorder() as recorder:
            yield recorder, files
    finally:
        _FILE_RECORDINGS.remove(files)


def sites(
    recorder: Recorder, files: list[tuple[str, str]], labels: Callable[[str], str]
) -> list[Site]:
    """Every call of a recorded run, numbered per kind of call."""
    seen: Counter[tuple[str, str]] = Counter()
    found = []
    for call in recorder.calls:
        seen[call.service, call.operation] += 1
        found.append(Site(call.service, call.operation, seen[call.service, call.operation]))
    for event, detail in files:
        seen["file", event] += 1
        found.append(Site("file", event, seen["file", event], labels(detail)))
    return found


@contextmanager
def failing(site: Site, kind: str) -> Iterator[Fault]:
    fault = Fault(site, kind)
    with _LOCK:
        _FAULTS.append(fault)
    try:
        yield fault
    finally:
        with _LOCK:
            _FAULTS.remove(fault)


# --------------------------------------------------------------------------- one user's state


@dataclass(frozen=True)
class UserState:
    photos: frozenset[tuple[str, bool]]  # (label, active)
    current: str | None
    grants: frozenset[tuple[str, bool]]  # (label, completed)
    files: frozenset[str]  # labelled keys

    def without_spent_staging(self) -> UserState:
        """The state without staged copies of completed direct uploads (left behind when
        removing one failed after its photo was registered; they expire)."""
        spent = {f"staged:{label}" for label, done in self.grants if done}
        return UserState(self.photos, self.current, self.grants, self.files - spent)

    def problems(self, *, erasing: bool = False) -> list[str]:
        """What breaks the invariants: a file without its photo, a photo without its file
        (allowed while an erasure is under way: bytes go first), a pointer to no active
        photo, a staged file without an open grant."""
        found = []
        labels = {label for label, _ in self.photos}
        originals = {f"photo:{label}" for label in labels}
        sizes = {f"photo:{label}:{size}" for label in labels for size in SIZES}
        open_grants = {f"staged:{label}" for label, done in self.grants if not done}
        for key in self.files:
            rendition = key.rsplit(":", 1)[0] if key.count(":") == 3 else key  # a square
            if rendition not in originals | sizes | open_grants:
                found.append(f"orphan file {key}")
        if not erasing:
            for key in originals - self.files:
                found.append(f"photo without its file: {key}")
        active = {label for label, is_active in self.photos if is_active}
        if self.current is not None and self.current not in active:
            found.append(f"current pointer names no active photo: {self.current}")
        if self.current is None and active and not erasing:
            found.append("active photos but no current one")
        return found


class Labels:
    """Stable names for the ids of one case: the setup's photos as named by the test, any
    other id as `new1`, `new2`, ... in the order first seen (sorted, to be deterministic)."""

    def __init__(self, known: dict[str, str]) -> None:
        self.known = dict(known)

    def __call__(self, ident: str) -> str:
        if ident not in self.known:
            self.known[ident] = (
                f"new{sum(1 for v in self.known.values() if v.startswith('new')) + 1}"
            )
        return self.known[ident]

    def key(self, relative: str) -> str:
        """A stored object's key (`user-assets/users/u/profile-picture/<id>.<ext>`), labelled."""
        name = relative.rsplit("/", 1)[-1]
        ident, _, rest = name.partition(".")
        if "/staging/" in f"/{relative}" or relative.startswith("staging/"):
            return f"staged:{self(ident)}"
        parts = rest.split(".")  # ext | size.webp | size.sqN.webp (a square of crop N)
        size = parts[0].upper() if len(parts) in (2, 3) else ""
        square = f":{parts[1]}" if len(parts) == 3 and parts[1].startswith("sq") else ""
        return f"photo:{self(ident)}" + (f":{size}{square}" if size in SIZES else "")

    def path(self, relative: str) -> str:
        """A LOCAL path under the base (buckets, `.metadata`), with ids labelled."""
        parts = relative.split("/")
        name = parts[-1]
        ident, dot, rest = name.partition(".")
        if len(ident) == 36 and ident.count("-") == 4:
            parts[-1] = f"<{self(ident)}>{dot}{rest}"
        elif name.startswith(".upload-"):
            parts[-1] = ".upload-<tmp>"
        return "/".join(parts)


def user_state(stack: Any, user: str, labels: Labels) -> UserState:
    def scan(table: str, key: str) -> list[dict[str, Any]]:
        # filtered by moto, not here: a matrix's stack holds hundreds of users' items
        filtered = stack.dynamodb.scan(
            TableName=ENV[table],
            ScanFilter={key: {"AttributeValueList": [{"S": user}], "ComparisonOperator": "EQ"}},
        )
        return list(filtered["Items"])

    photo_items = scan("PHOTOS_TABLE", "userId")
    photo_items.sort(key=lambda item: item["assetId"]["S"])
    grant_items = sorted(scan("UPLOADS_TABLE", "userId"), key=lambda item: item["uploadId"]["S"])
    (user_item,) = scan("USERS_TABLE", "id") or [None]
    current = user_item.get("currentAssetId", {}).get("S") if user_item else None
    grants = frozenset(
        (labels(item["uploadId"]["S"]), "completedAt" in item) for item in grant_items
    )
    photos = frozenset(
        (
            labels(item["assetId"]["S"]),
            "activeSortKey" in item and not item.get("archived", {}).get("BOOL", False),
        )
        for item in photo_items
    )
    files = frozenset(labels.key(key) for key in sorted(stack.objects()) if f"users/{user}/" in key)
    return UserState(photos, labels(current) if current else None, grants, files)


def rendition_keys_of(file_key: str) -> list[str]:
    return [rendition_key(file_key, size) for size in SIZES]


ENV = DEV_ENV
