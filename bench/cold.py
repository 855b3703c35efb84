"""Cold init as deployed: fresh python3.13 processes importing the shipped handler and serving
one event, beside two anchors measured in the same run.

One file: the measurement itself, from the built targets through each function's discovered
floor to the interleaved fresh processes, all over the same `Target` and `State`; the rows
that judge it are in bench/cold_rows.py, the import-time profile of slow targets in
bench/cold_importtime.py.

Each process is `python3.13 -I -S -B bench/cold_child.py`: no site-packages, no PYTHON*
variables, no bytecode written, sys.path = the function's built folder + its built layers
(the template's, in order) + the standard library (as tools/check_build.sh and Lambda).

What is deployed, and so what is measured:

- **The build that ships**: `sam build`, then tools/precompile.py (bytecode, unchecked-hash),
  as `make build` / `make deploy`.
- **Tracing as the template sets it** (`Tracing: Active`): the process looks like Lambda to
  Powertools and the X-Ray SDK (`LAMBDA_TASK_ROOT`, a sampled `_X_AMZN_TRACE_ID`, no
  `POWERTOOLS_TRACE_DISABLED`), so the Tracer patches and sends real segments, over UDP to a
  loopback port nobody listens on (`AWS_XRAY_DAEMON_ADDRESS`). A first pass points it at a
  socket the bench reads, to prove each function does send segments.
- **Both providers**: R2 (the template's default; moto's S3 on loopback) and LOCAL.
- **The client the README recommends**: upload's first event carries `Idempotency-Key`.
- **Small tables**: moto's TransactWriteItems deep-copies whole tables, so before each process
  moto is reset and holds only what that process's first event needs.

First events: upload, a multipart 32 KiB JPEG with a fresh Idempotency-Key; signed fetch, a
signed GET of a stored 256 KiB photo; graphql, `me { profilePhotos }` over 5 photos (a
sample counts only when the answer has no `errors`); retention, a stream batch of 7 records
of one user with 7 active photos.

Anchors, all in the same run, interleaved with the functions round-robin (drift on a noisy
machine falls on everything alike):

- **A'** (the anchor every budget divides by): a bare Powertools handler (Logger, Tracer,
  Metrics, resolver, one route) built exactly as the template builds the functions: the same
  python3.13, the shipped layers with the bytecode tools/precompile.py writes (its own folder
  precompiled the same way), tracing as deployed, the same environment.
- **A** (a labelled reference row, no budget): the same handler built the way SAM builds by
  default, without any bytecode. A / A' is what the bytecode alone buys.
- **F**, per function and provider: a process that imports exactly the third-party modules the
  function had loaded after its first event (read from its `sys.modules` in the first pass,
  not a hand list), from the same precompiled layers (so built like what ships), and creates
  the same botocore clients (found alive after that event), then does nothing.

The renditions function is measured the same way (both providers, shipped bytecode, its
ImagingLayer): its first event is a stream batch of one new photo (a 256 KiB JPEG) whose three
sizes it renders and stores.

Where a budget is missed, `-X importtime` shows where the time goes.
"""

from __future__ import annotations

import json
import shutil
import socket
import statistics
import subprocess
import urllib.request
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import images, layer, stack
from bench.stack import unused_udp_port
from devkit.defaults import DEV_ENV
from testkit.events import stream_record

CHILD = Path(__file__).resolve().parent / "cold_child.py"
PROVIDERS = ("R2", "LOCAL")
# Cold init / A', per function and provider (issue 27); None: measured, no budget.
BUDGETS_A: dict[str, dict[str, float | None]] = {
    "SignedFetchFunction": {"LOCAL": 1.1, "R2": 1.3},
    "RetentionFunction": {"LOCAL": 1.2, "R2": 1.2},
    "UploadFunction": {"LOCAL": 1.6, "R2": 1.6},
    "GraphQLFunction": {"LOCAL": 1.6, "R2": 1.6},
    "RenditionsFunction": {"LOCAL": None, "R2": None},
}
BUDGET_F = 1.15  # every function <= 1.15x its own floor
ANCHOR = f"{stack.BARE}/shipped"  # A': every budget's anchor
REFERENCE = f"{stack.BARE}/default"  # A: the reference row
LABELS = {
    ANCHOR: "A': bare Powertools handler, built as the template builds the functions",
    REFERENCE: "A (reference): the same handler default-built, no bytecode",
    "UploadFunction": "upload",
    "SignedFetchFunction": "signed fetch",
    "GraphQLFunction": "graphql",
    "RetentionFunction": "retention",
    "RenditionsFunction": "renditions",
}
SECTION = (
    "cold init as deployed (tracing on, shipped bytecode, median of fresh processes; "
    "A' = bare handler built as the functions are, F = the function's own library floor)"
)
SIGNED_KEY = "users/cold-fetch/profile-picture/6f1d0c3e-8a7b-4c2d-9e5f-0a1b2c3d4e5f.jpg"
PHOTO_BYTES = 256 * 1024
UPLOAD_BYTES = 32 * 1024
RETENTION_RECORDS = 7
GRAPHQL_PHOTOS = 5
RENDITIONS_BYTES = 256 * 1024
FIRST_PARTY_LAYERS = ("SharedLayer",)  # our package; every other layer is third-party


@dataclass
class Target:
    """One kind of cold process: a function in a provider, the anchor A, or a floor F."""

    key: str  # "UploadFunction/R2", "BareHandler/shipped", "F:UploadFunction/R2"
    function: str
    provider: str
    paths: list[Path]  # sys.path ahead of the stdlib: code folder, then layers
    env: dict[str, str]
    module: str = ""
    handler: str = ""
    floor: dict[str, Any] | None = None  # F: {"imports": [...], "clients": [...]}
    first_party: list[Path] = field(default_factory=list)  # folders of our own code

    @property
    def is_floor(self) -> bool:
        return self.key.startswith("F:")

    @property
    def is_anchor(self) -> bool:
        return self.function == stack.BARE


def handler_key(function: str, provider: str) -> str:
    return f"{function}/{provider}"


def floor_key(function: str, provider: str) -> str:
    return f"F:{function}/{provider}"


def bytecode_files(root: Path) -> int:
    return sum(1 for _ in root.rglob("*.pyc"))


# ------------------------------------------------------------------------------ environment


def lambda_env(code_dir: Path, daemon_port: int) -> dict[str, str]:
    """A fresh process's basics as Lambda sets them, and what Powertools and the X-Ray SDK
    read to decide they run on Lambda with tracing active (bench/stack.py `tracing_env`)."""
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": "/tmp",  # noqa: S108 - as on Lambda
        "LANG": "C.UTF-8",
        "TZ": "UTC",
    } | stack.tracing_env(code_dir, daemon_port)


# ------------------------------------------------------------------------------------ state


class State:
    """Resets moto before each process and seeds only what its first event needs."""

    def __init__(self, endpoint: str, workdir: Path) -> None:
        self.endpoint = endpoint
        self.events = workdir / "cold-events"
        self.events.mkdir(parents=True, exist_ok=True)
        self.base = workdir / "cold-objects"
        self.count = 0

    def reset(self) -> None:
        url = f"{self.endpoint}/moto-api/reset"  # http://127.0.0.1:<port>, ours
        request = urllib.request.Request(url, method="POST")  # noqa: S310
        with urllib.request.urlopen(request, timeout=30):  # noqa: S310
            pass
        stack.create_state(self.endpoint)

    def clients(self) -> tuple[Any, Any]:
        import boto3

        return (
            boto3.client("dynamodb", endpoint_url=self.endpoint, **stack.credentials()),
            boto3.client("s3", endpoint_url=self.endpoint, **stack.credentials()),
        )

    def write(self, event: dict[str, Any]) -> Path:
        self.count += 1
        path = self.events / f"event-{self.count % 4}.json"
        path.write_text(json.dumps(event))
        return path

    def prepare(self, target: Target) -> Path | None:
        """A clean moto holding this target's state; its first event (None for a floor)."""
        if target.is_floor:
            return None
        if target.is_anchor:
            return self.write(stack.signed_get(SIGNED_KEY))
        self.reset()
        dynamodb, s3 = self.clients()
        if target.function == "UploadFunction":
            event = stack.upload_event(
                f"cold-upload-{uuid.uuid4().hex[:8]}",
                images.photo(UPLOAD_BYTES),
                idempotency_key=str(uuid.uuid4()),
            )
            return self.write(event)
        if target.function == "SignedFetchFunction":
            data = images.photo(PHOTO_BYTES)
            if target.provider == "R2":
                s3.put_object(
                    Bucket=stack.R2_BUCKETS["user-assets"],
                    Key=SIGNED_KEY,
                    Body=data,
                    ContentType="image/jpeg",
                )
            else:
                path = self.base / "user-assets" / SIGNED_KEY
                if not path.exists():
                    from profile_photos.store.storage.local import LocalStorage

                    LocalStorage(self.base).put("user-assets", SIGNED_KEY, data, "image/jpeg")
            return self.write(stack.signed_get(SIGNED_KEY))
        if target.function == "GraphQLFunction":
            stack.seed_user(dynamodb, "cold-graphql", active=GRAPHQL_PHOTOS)
            query, variables = stack.graphql_query("me-photos")
            return self.write(stack.graphql("cold-graphql", query, variables))
        if target.function == "RetentionFunction":
            user = "cold-retention"
            photos = stack.seed_user(dynamodb, user, active=RETENTION_RECORDS)
            records = [
                stream_record(user, p.asset_id, p.sort_key or "", i) for i, p in enumerate(photos)
            ]
            return self.write(stack.stream_event(records))
        if target.function == "RenditionsFunction":
            return self.write(self._new_photo(dynamodb, s3, target.provider))
        raise ValueError(f"no first event for {target.function}")

    def _new_photo(self, dynamodb: Any, s3: Any, provider: str) -> dict[str, Any]:
        """A stream batch of one new photo (its item and its original stored), as the
        renditions function receives it after an upload."""
        from profile_photos.store.storage.local import LocalStorage

        user = "cold-renditions"
        item, photo = stack.photo_item(user, 0, active=True, size=RENDITIONS_BYTES)
        dynamodb.put_item(TableName=DEV_ENV["PHOTOS_TABLE"], Item=item)
        data = images.photo(RENDITIONS_BYTES)
        if provider == "R2":
            s3.put_object(
                Bucket=stack.R2_BUCKETS["user-assets"],
                Key=photo.file_key,
                Body=data,
                ContentType="image/jpeg",
            )
        else:
            LocalStorage(self.base).put("user-assets", photo.file_key, data, "image/jpeg")
        record = stream_record(user, photo.asset_id, photo.sort_key or "", 1)
        record["dynamodb"]["NewImage"] = item
        return stack.stream_event([record])


# ---------------------------------------------------------------------------------- targets


def bare_copy(folder: Path) -> Path:
    """The bare handler's folder, copied without any bytecode."""
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(stack.BARE_DIR, folder, ignore=shutil.ignore_patterns("__pycache__"))
    return folder


def targets(interpreter: Path, endpoint: str, workdir: Path, default_build: Path) -> list[Target]:
    """A' and A, then every function known here in each provider (floors come from
    discovery). A' is built like the functions: its folder gets tools/precompile.py's
    bytecode, its layers are the shipped ones (precompiled by the caller)."""
    base = workdir / "cold-objects"
    shipped = bare_copy(workdir / "bare-shipped")
    layer.precompile(interpreter, shipped)
    env = stack.function_env(None, endpoint, "R2", base, tracing=True)
    out = [
        Target(
            ANCHOR,
            stack.BARE,
            "R2",
            [shipped, *(layer.layer_path(name) for name in layer.layers())],
            env,
            "bare_handler",
            "lambda_handler",
        ),
        Target(
            REFERENCE,
            stack.BARE,
            "R2",
            [
                bare_copy(workdir / "bare-default"),
                *(default_build / name / "python" for name in layer.layers()),
            ],
            env,
            "bare_handler",
            "lambda_handler",
        ),
    ]
    for name, function in stack.functions().items():
        if name not in BUDGETS_A:
            continue  # a function this bench has no first event for
        code = layer.BUILD_DIR / name
        layer_names = layer.function_layers(name)
        for provider in PROVIDERS:
            out.append(
                Target(
                    handler_key(name, provider),
                    name,
                    provider,
                    [code, *(layer.layer_path(n) for n in layer_names)],
                    stack.function_env(function, endpoint, provider, base, tracing=True),
                    function.module,
                    function.handler,
                    first_party=[code]
                    + [layer.layer_path(n) for n in layer_names if n in FIRST_PARTY_LAYERS],
                )
            )
    return out


def floor_target(target: Target, loaded: list[list[Any]], clients: list[dict[str, Any]]) -> Target:
    """F for `target`: the third-party modules it had loaded (in load order), its clients."""
    ours = {f.resolve() for f in target.first_party}
    third_party_roots = [p.resolve() for p in target.paths if p.resolve() not in ours]
    imports = []
    for name, file in loaded:
        if not file:
            continue
        path = Path(file).resolve()
        if any(path.is_relative_to(root) for root in third_party_roots):
            imports.append(name)
    unique = []
    seen = set()
    for client in clients:
        marker = json.dumps(client, sort_keys=True, default=str)
        if marker not in seen:
            seen.add(marker)
            unique.append(client)
    return Target(
        floor_key(target.function, target.provider),
        target.function,
        target.provider,
        [p for p in target.paths if p.resolve() in third_party_roots],
        target.env,
        floor={"imports": imports, "clients": unique},
    )


# ------------------------------------------------------------------------------- processes


def run_child(
    interpreter: Path,
    target: Target,
    event: Path | None,
    workdir: Path,
    daemon_port: int,
    *,
    importtime: bool = False,
    report: bool = False,
) -> tuple[dict[str, Any], str]:
    flags = ["-I", "-S", "-B"] + (["-X", "importtime"] if importtime else [])
    spec: dict[str, Any] = {"paths": [str(p) for p in target.paths], "report": report}
    if target.floor is not None:
        spec |= target.floor
    else:
        spec |= {"module": target.module, "handler": target.handler, "event": str(event)}
    spec_path = workdir / "cold-events" / "spec.json"
    spec_path.write_text(json.dumps(spec))
    env = target.env | lambda_env(target.paths[0], daemon_port)
    result = subprocess.run(  # noqa: S603 - our interpreter, our script
        [str(interpreter), *flags, str(CHILD), str(spec_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    for line in result.stdout.splitlines():
        if line.startswith("BENCH_COLD "):
            return json.loads(line.removeprefix("BENCH_COLD ")), result.stderr
    raise RuntimeError(
        f"{target.key}: cold process failed (exit {result.returncode}):\n"
        f"{result.stderr[-3000:]}\n{result.stdout[-1000:]}"
    )


def acceptable(target: Target, outcome: dict[str, Any]) -> str:
    """Why a sample does not count ('' when it does)."""
    if target.is_floor:
        return ""
    if outcome["status"] not in (200, 201, "batch"):
        return f"first event answered {outcome['status']}"
    if outcome.get("errors"):
        return "the GraphQL answer carried errors"
    return ""


@dataclass
class ColdResult:
    targets: list[Target]
    runs: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    rejected: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, str] = field(default_factory=dict)
    datagrams: dict[str, int] = field(default_factory=dict)  # X-Ray, discovery pass
    floors: dict[str, dict[str, Any]] = field(default_factory=dict)
    default_pyc: int = 0
    shipped_pyc: int = 0

    def median(self, key: str, field_name: str = "init_ms") -> float:
        return statistics.median(run[field_name] for run in self.runs[key])


def discover(
    interpreter: Path,
    handlers: list[Target],
    state: State,
    workdir: Path,
    result: ColdResult,
    progress: Callable[[str], None],
) -> list[Target]:
    """One process per handler target, daemon pointed at a socket we read: the modules and
    clients it ends up with (its floor F), and the X-Ray datagrams its first event sent."""
    floors = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as daemon:
        daemon.bind(("127.0.0.1", 0))
        daemon.setblocking(False)
        port = int(daemon.getsockname()[1])
        for target in handlers:
            event = state.prepare(target)
            try:
                outcome, _ = run_child(interpreter, target, event, workdir, port, report=True)
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                result.errors[target.key] = str(exc)
                continue
            received = 0
            while True:
                try:
                    daemon.recv(65536)
                except BlockingIOError:
                    break
                received += 1
            result.datagrams[target.key] = received
            why = acceptable(target, outcome)
            if why:
                result.errors[target.key] = why
                continue
            if target.is_anchor:
                continue
            floor = floor_target(target, outcome["loaded"], outcome["clients"])
            assert floor.floor is not None
            result.floors[target.key] = {
                "imports": len(floor.floor["imports"]),
                "clients": floor.floor["clients"],
            }
            floors.append(floor)
    progress(f"cold: discovered {len(floors)} floors")
    return floors


def measure(
    interpreter: Path,
    endpoint: str,
    runs: int,
    workdir: Path,
    progress: Callable[[str], None],
) -> ColdResult:
    """`runs` processes per target (A', A, functions x providers, their floors), one at a
    time, interleaved round-robin."""
    default_build = layer.default_build_copy(layer.ROOT / ".aws-sam" / "bench-build-default")
    state = State(endpoint, workdir)
    handlers = targets(interpreter, endpoint, workdir, default_build)
    result = ColdResult(handlers)
    reference = next(t for t in handlers if t.key == REFERENCE)
    result.default_pyc = bytecode_files(default_build) + bytecode_files(reference.paths[0])
    result.shipped_pyc = bytecode_files(layer.BUILD_DIR)
    everything = handlers + discover(interpreter, handlers, state, workdir, result, progress)
    result.targets = everything
    port = unused_udp_port()
    for run in range(runs):
        order = everything[run % len(everything) :] + everything[: run % len(everything)]
        for target in order:
            if target.key in result.errors:
                continue
            event = state.prepare(target)
            try:
                outcome, _ = run_child(interpreter, target, event, workdir, port)
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                result.errors[target.key] = str(exc)
                continue
            why = acceptable(target, outcome)
            if why:
                result.rejected[target.key].append(why)
                continue
            result.runs[target.key].append(outcome)
        progress(f"cold: round {run + 1}/{runs}")
    return result
