"""Cold init as deployed: fresh python3.13 processes importing the shipped handler and serving
one event, beside two anchors measured in the same run.

One file: the section follows one measurement from the built targets through the interleaved
fresh processes to the judged rows and the import-time profile of the slow targets, all over
the same `Target` and `State`.

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

Anchors, both in the same run, interleaved with the functions round-robin (drift on a noisy
machine falls on everything alike):

- **A**: a bare Powertools handler (Logger, Tracer, Metrics, resolver, one route) built the
  way SAM builds by default: its layers without any bytecode, tracing as deployed.
- **F**, per function and provider: a process that imports exactly the third-party modules the
  function had loaded after its first event (read from its `sys.modules` in the first pass,
  not a hand list), from the same precompiled layers, and creates the same botocore clients
  (found alive after that event), then does nothing.

Where a budget is missed, `-X importtime` shows where the time goes.
"""

from __future__ import annotations

import json
import secrets
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
from bench.budgets import Row, at_most, exactly, failed
from testkit.events import stream_record

CHILD = Path(__file__).resolve().parent / "cold_child.py"
PROVIDERS = ("R2", "LOCAL")
# Cold init / A, per function (and provider where they differ): issue 12, part 3.
BUDGETS_A: dict[str, dict[str, float]] = {
    "SignedFetchFunction": {"LOCAL": 0.8, "R2": 1.3},
    "RetentionFunction": {"LOCAL": 1.2, "R2": 1.2},
    "UploadFunction": {"LOCAL": 1.6, "R2": 1.6},
    "GraphQLFunction": {"LOCAL": 2.0, "R2": 2.0},
}
BUDGET_F = 1.2  # every function <= 1.2x its own floor
LABELS = {
    stack.BARE: "A: bare Powertools handler, default build",
    "UploadFunction": "upload",
    "SignedFetchFunction": "signed fetch",
    "GraphQLFunction": "graphql",
    "RetentionFunction": "retention",
}
SECTION = (
    "cold init as deployed (tracing on, shipped bytecode, median of fresh processes; "
    "A = bare handler default-built, F = the function's own library floor)"
)
SIGNED_KEY = "users/cold-fetch/profile-picture/6f1d0c3e-8a7b-4c2d-9e5f-0a1b2c3d4e5f.jpg"
PHOTO_BYTES = 256 * 1024
UPLOAD_BYTES = 32 * 1024
RETENTION_RECORDS = 7
GRAPHQL_PHOTOS = 5
ANCHOR = stack.BARE
FIRST_PARTY_LAYERS = ("SharedLayer",)  # our package; every other layer is third-party


@dataclass
class Target:
    """One kind of cold process: a function in a provider, the anchor A, or a floor F."""

    key: str  # "UploadFunction/R2", "BareHandler", "F:UploadFunction/R2"
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


def handler_key(function: str, provider: str) -> str:
    return f"{function}/{provider}"


def floor_key(function: str, provider: str) -> str:
    return f"F:{function}/{provider}"


def bytecode_files(root: Path) -> int:
    return sum(1 for _ in root.rglob("*.pyc"))


# ------------------------------------------------------------------------------ environment


def unused_udp_port() -> int:
    """A loopback UDP port nobody listens on (bound, read, released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def trace_id() -> str:
    root = f"1-{secrets.token_hex(4)}-{secrets.token_hex(12)}"
    return f"Root={root};Parent={secrets.token_hex(8)};Sampled=1"


def lambda_env(code_dir: Path, daemon_port: int) -> dict[str, str]:
    """What Lambda sets that Powertools and the X-Ray SDK read to decide they run on Lambda
    with tracing active (see Tracer._is_tracer_disabled, aws_xray_sdk's check_in_lambda)."""
    daemon = f"127.0.0.1:{daemon_port}"
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": "/tmp",  # noqa: S108 - as on Lambda
        "LANG": "C.UTF-8",
        "TZ": "UTC",
        "LAMBDA_TASK_ROOT": str(code_dir),
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "_X_AMZN_TRACE_ID": trace_id(),
        "AWS_XRAY_DAEMON_ADDRESS": daemon,
        "_AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1",
        "_AWS_XRAY_DAEMON_PORT": str(daemon_port),
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
    }


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
        if target.function == ANCHOR:
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
        raise ValueError(f"no first event for {target.function}")


# ---------------------------------------------------------------------------------- targets


def targets(endpoint: str, workdir: Path, default_build: Path) -> list[Target]:
    """A, then every function known here in each provider (floors come from discovery)."""
    base = workdir / "cold-objects"
    bare_dir = workdir / "bare-default"
    shutil.rmtree(bare_dir, ignore_errors=True)
    shutil.copytree(stack.BARE_DIR, bare_dir, ignore=shutil.ignore_patterns("__pycache__"))
    out = [
        Target(
            ANCHOR,
            ANCHOR,
            "R2",
            [bare_dir, *(default_build / name / "python" for name in layer.layers())],
            stack.function_env(None, endpoint, "R2", base, tracing=True),
            "bare_handler",
            "lambda_handler",
        )
    ]
    for name, function in stack.functions().items():
        if name not in BUDGETS_A:
            continue  # renditions: measured by bench/renditions.py
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
            if target.function == ANCHOR:
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
    """`runs` processes per target (A, functions x providers, their floors), one at a time,
    interleaved round-robin."""
    default_build = layer.default_build_copy(layer.ROOT / ".aws-sam" / "bench-build-default")
    state = State(endpoint, workdir)
    handlers = targets(endpoint, workdir, default_build)
    result = ColdResult(handlers)
    result.default_pyc = bytecode_files(default_build) + bytecode_files(handlers[0].paths[0])
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


# ------------------------------------------------------------------------------------- rows


def _note(result: ColdResult, key: str) -> str:
    rejected = result.rejected.get(key, [])
    return (
        f"median {result.median(key):.0f} ms over {len(result.runs[key])} processes (import "
        f"{result.median(key, 'import_ms'):.0f} + first event "
        f"{result.median(key, 'first_event_ms'):.0f} ms; "
        f"{statistics.median(r['modules'] for r in result.runs[key]):.0f} modules)"
        + (f"; {len(rejected)} samples left out ({rejected[0]})" if rejected else "")
    )


def _raw(result: ColdResult, key: str) -> list[dict[str, Any]]:
    return [
        {k: v for k, v in run.items() if k not in ("loaded", "clients")} for run in result.runs[key]
    ]


def rows(result: ColdResult) -> list[Row]:
    out: list[Row] = []
    if not result.runs.get(ANCHOR):
        error = result.errors.get(ANCHOR, "no runs")
        return [failed(SECTION, f"{LABELS[ANCHOR]}: cold init", error)]
    anchor = result.median(ANCHOR)
    out.append(
        Row(
            SECTION,
            f"{LABELS[ANCHOR]}: cold init",
            anchor,
            "ms",
            None,
            _note(result, ANCHOR) + f"; its build holds {result.default_pyc} .pyc files, "
            f"the shipped build {result.shipped_pyc}",
            {"median_ms": anchor, "runs": _raw(result, ANCHOR)},
        )
    )
    for function, limits in BUDGETS_A.items():
        for provider in PROVIDERS:
            key = handler_key(function, provider)
            label = f"{LABELS[function]} ({provider})"
            metric = f"{label}: cold init / A"
            if not result.runs.get(key):
                rejected = "; ".join(result.rejected.get(key, []))
                error = result.errors.get(key) or rejected or "no runs"
                out.append(failed(SECTION, metric, error, at_most(limits[provider])))
                out.append(failed(SECTION, f"{label}: cold init / F", error, at_most(BUDGET_F)))
                continue
            median = result.median(key)
            out.append(
                Row(
                    SECTION,
                    metric,
                    median / anchor,
                    "x",
                    at_most(limits[provider]),
                    f"{_note(result, key)} vs A {anchor:.0f} ms; X-Ray datagrams sent by its "
                    f"first event: {result.datagrams.get(key, 0)}",
                    {
                        "function": function,
                        "provider": provider,
                        "key": key,
                        "median_ms": median,
                        "runs": _raw(result, key),
                    },
                )
            )
            fkey = floor_key(function, provider)
            if not result.runs.get(fkey):
                error = result.errors.get(fkey, "no floor runs")
                out.append(failed(SECTION, f"{label}: cold init / F", error, at_most(BUDGET_F)))
                continue
            floor = result.median(fkey)
            info = result.floors.get(key, {})
            services = ", ".join(c["service"] for c in info.get("clients", [])) or "none"
            failures = result.runs[fkey][0].get("failed", [])
            out.append(
                Row(
                    SECTION,
                    f"{label}: cold init / F",
                    median / floor,
                    "x",
                    at_most(BUDGET_F),
                    f"{median:.0f} ms vs F {floor:.0f} ms (= {floor / anchor:.2f}x A: "
                    f"{info.get('imports', 0)} third-party modules, import "
                    f"{result.median(fkey, 'import_ms'):.0f} ms; clients: {services}, "
                    f"{result.median(fkey, 'first_event_ms'):.0f} ms)"
                    + (f"; {len(failures)} modules would not import alone" if failures else ""),
                    {
                        "function": function,
                        "provider": provider,
                        "key": key,
                        "floor_ms": floor,
                        "floor": info,
                        "failed_imports": failures,
                        "runs": _raw(result, fkey),
                    },
                )
            )
            runs = result.runs[key]
            own = statistics.median(run["init_ms"] - run.get("aws_ms", 0.0) for run in runs)
            aws = statistics.median(run.get("aws_ms", 0.0) for run in runs)
            out.append(
                Row(
                    SECTION,
                    f"{label}: cold init without its AWS calls / F",
                    own / floor,
                    "x",
                    None,
                    f"{own:.0f} ms vs F {floor:.0f} ms: the first event's time inside AWS calls"
                    " (signing, moto on loopback, parsing; median"
                    f" {aws:.0f} ms) taken out, as the warm figures"
                    " do; F makes no call",
                    {"function": function, "provider": provider, "key": key, "own_ms": own},
                )
            )
    handler_runs = [
        run
        for target in result.targets
        if not target.is_floor
        for run in result.runs.get(target.key, [])
    ]
    untraced = sum(1 for run in handler_runs if run.get("tracing") is not True)
    out.append(
        Row(
            SECTION,
            "processes whose Tracer was disabled (A and functions)",
            untraced,
            "",
            exactly(0),
            f"of {len(handler_runs)}: Powertools sees Lambda with tracing active",
        )
    )
    silent = [
        key
        for key in (handler_key(f, p) for f in BUDGETS_A for p in PROVIDERS)
        if key not in result.errors and result.datagrams.get(key, 0) == 0
    ]
    out.append(
        Row(
            SECTION,
            "functions whose first event sent no X-Ray segment",
            len(silent),
            "",
            exactly(0),
            (", ".join(silent) or "every function sent segments")
            + " (first pass, daemon address at a socket the bench reads)",
        )
    )
    return out


def slow_targets(result: ColdResult, table: list[Row]) -> list[str]:
    """Handler keys whose A or F budget was missed."""
    keys = []
    for row in table:
        key = row.data.get("key")
        if key and row.status == "NOT MET" and key not in keys:
            keys.append(key)
    return keys


# ----------------------------------------------------------------------------- importtime


def parse_importtime(stderr: str) -> list[tuple[str, int, int, int]]:
    """(module, self us, cumulative us, nesting depth) per line of `-X importtime`."""
    entries = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        head, cumulative, name = line.split("|", 2)
        depth = (len(name) - len(name.lstrip()) - 1) // 2
        entries.append((name.strip(), int(head.split(":", 1)[1]), int(cumulative), depth))
    return entries


def by_package(entries: list[tuple[str, int, int, int]]) -> dict[str, float]:
    """Self time (ms) summed by top-level package."""
    totals: dict[str, float] = defaultdict(float)
    for name, self_us, _, _ in entries:
        totals[name.split(".")[0]] += self_us / 1000
    return dict(totals)


def importtime_report(
    interpreter: Path,
    endpoint: str,
    result: ColdResult,
    keys: list[str],
    workdir: Path,
    repeats: int = 3,
) -> dict[str, Any]:
    """For each of `keys` (and A): the packages that take the import time, as the median over
    `repeats` processes of `-X importtime`. The processes serve their first event too, so
    imports made on first use count."""
    by_key = {t.key: t for t in result.targets}
    state = State(endpoint, workdir)
    port = unused_udp_port()
    report: dict[str, Any] = {}
    for key in [ANCHOR, *keys]:
        target = by_key[key]
        samples = []
        largest: list[tuple[str, int, int, int]] = []
        for run in range(repeats):
            event = state.prepare(target)
            _, stderr = run_child(interpreter, target, event, workdir, port, importtime=True)
            entries = parse_importtime(stderr)
            samples.append(by_package(entries))
            if run == 0:
                largest = sorted(entries, key=lambda e: e[2], reverse=True)[:12]
        packages = {
            package: statistics.median(sample.get(package, 0.0) for sample in samples)
            for package in set().union(*samples)
        }
        report[key] = {
            "packages_ms": dict(sorted(packages.items(), key=lambda kv: -kv[1])),
            "largest": [
                {"module": m, "self_ms": s / 1000, "cumulative_ms": c / 1000, "depth": d}
                for m, s, c, d in largest
            ],
        }
    return report


def render_importtime(report: dict[str, Any], top: int = 10) -> str:
    anchor = report.get(ANCHOR, {}).get("packages_ms", {})
    lines = []
    for key, data in report.items():
        if key == ANCHOR:
            continue
        function, _, provider = key.partition("/")
        total = sum(data["packages_ms"].values())
        lines.append(
            f"{LABELS.get(function, function)} ({provider}): {total:.0f} ms of imports, first "
            f"event included (A {sum(anchor.values()):.0f} ms); top packages, self time summed:"
        )
        for package, ms in list(data["packages_ms"].items())[:top]:
            extra = ms - anchor.get(package, 0.0)
            lines.append(
                f"    {package:<28} {ms:7.1f} ms   A {anchor.get(package, 0.0):7.1f}"
                f"   {extra:+7.1f}"
            )
        lines.append("  largest imports (cumulative, one process):")
        for entry in data["largest"][:top]:
            lines.append(
                f"    {'  ' * entry['depth']}{entry['module']:<{50 - 2 * entry['depth']}} "
                f"{entry['cumulative_ms']:7.1f} ms"
            )
    return "\n".join(lines)
