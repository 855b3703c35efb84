"""Cold init: fresh python3.13 processes importing the built handler and serving one event.

Each process is `python3.13 -I -S -B bench/cold_child.py`: no site-packages, no PYTHON*
variables, no bytecode written, sys.path = the function's built folder + the two built
layers + the standard library (as tools/check_build.sh and Lambda). Its environment is the
template's (R2, the deployed default) with every AWS endpoint at moto on loopback. Each
process serves its function's first representative event, for real:

- UploadFunction: a multipart JPEG upload (rate limit, R2 PutObject, register).
- SignedFetchFunction: a signed GET of a stored photo (R2 GetObject).
- GraphQLFunction: `me { profilePhotos }` (the caller's refresh, GetItem, Query).
- RetentionFunction: a stream batch of 7 records of one user with 7 active photos.
- the anchor: the bare Powertools handler's one route.

Processes are run one at a time, the functions interleaved round-robin so that drift on a
noisy machine falls on every function alike; the figure is each function's median divided by
the anchor's median. Where a budget is missed, `-X importtime` shows where the time goes.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import images, layer, stack
from bench.budgets import Row, at_most, failed
from testkit.events import stream_record

CHILD = Path(__file__).resolve().parent / "cold_child.py"
BUDGETS = {
    "UploadFunction": 2.5,
    "SignedFetchFunction": 1.5,
    "GraphQLFunction": 2.5,
    "RetentionFunction": 2.0,
}
LABELS = {
    stack.BARE: "bare Powertools handler (anchor)",
    "UploadFunction": "upload",
    "SignedFetchFunction": "signed fetch",
    "GraphQLFunction": "graphql",
    "RetentionFunction": "retention",
}
SIGNED_KEY = "users/cold-fetch/profile-picture/6f1d0c3e-8a7b-4c2d-9e5f-0a1b2c3d4e5f.jpg"
PHOTO_BYTES = 256 * 1024
RETENTION_RECORDS = 7


@dataclass(frozen=True)
class Variant:
    """Where the code comes from: the build as SAM made it, or a precompiled copy of it."""

    name: str
    build_dir: Path
    bare_dir: Path
    budgeted: bool
    section: str

    @property
    def layers(self) -> list[Path]:
        return [self.build_dir / name / "python" for name in layer.layers()]


@dataclass
class Target:
    name: str
    module: str
    handler: str
    env: dict[str, str]
    events: list[Path] = field(default_factory=list)  # one for all processes, or one each

    def event(self, run: int) -> Path:
        return self.events[run % len(self.events)]

    def code_dir(self, variant: Variant) -> Path:
        return variant.bare_dir if self.name == stack.BARE else variant.build_dir / self.name


def as_built(workdir: Path) -> Variant:
    """The build as SAM made it; the anchor copied without any bytecode, like the build."""
    return Variant(
        "as built",
        layer.BUILD_DIR,
        _copy_bare(workdir / "bare-src"),
        budgeted=True,
        section="cold init, layers as built (median of fresh processes, / anchor)",
    )


def bytecode_files(variant: Variant) -> int:
    """How many .pyc files the variant's build holds (SAM's build ships none)."""
    return sum(1 for _ in variant.build_dir.rglob("*.pyc"))


def precompiled(interpreter: Path, workdir: Path) -> Variant:
    """A copy of the build (and of the anchor) with every module compiled to bytecode, as
    a build step running `compileall` would ship it."""
    target = _copy_build("bench-build-pyc")
    bare = _copy_bare(workdir / "bare-pyc")
    _compile(interpreter, [target, bare])
    return Variant(
        "bytecode precompiled",
        target,
        bare,
        budgeted=False,
        section="cold init, all bytecode precompiled (information: a build step running "
        "compileall)",
    )


def runtime_sdk_precompiled(interpreter: Path, workdir: Path) -> Variant:
    """A copy of the build where only the packages the Lambda runtime ships (boto3, botocore,
    ...) are compiled: what taking them from the runtime instead of the layer would give,
    assuming the runtime's copies carry their bytecode (pip compiles on install)."""
    target = _copy_build("bench-build-sdk-pyc")
    folders = set()
    for name in layer.layers():
        root = target / name / "python"
        for path in layer.runtime_shipped_files(layer.owners(root)):
            if path.suffix == ".py":
                top = path.relative_to(root.resolve()).parts[0]
                folders.add(root / top)
    _compile(interpreter, sorted(folders))
    return Variant(
        "runtime SDK precompiled",
        target,
        _copy_bare(workdir / "bare-sdk"),
        budgeted=False,
        section="cold init, only the runtime's packages precompiled (information: boto3 and "
        "botocore taken from the Lambda runtime)",
    )


def _copy_build(name: str) -> Path:
    target = layer.ROOT / ".aws-sam" / name
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(layer.BUILD_DIR, target)
    return target


def _copy_bare(target: Path) -> Path:
    shutil.copytree(stack.BARE_DIR, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def _compile(interpreter: Path, folders: list[Path]) -> None:
    subprocess.run(  # noqa: S603 - the runtime's interpreter, the stdlib's compileall
        [str(interpreter), "-I", "-m", "compileall", "-q", "-j", "0", *map(str, folders)],
        check=True,
        capture_output=True,
    )


def prepare(endpoint: str, workdir: Path, processes: int) -> list[Target]:
    """Targets, their environments and events (`processes` of them where an event can serve
    only once); the state their first events need, seeded."""
    import boto3

    events_dir = workdir / "cold-events"
    events_dir.mkdir(parents=True, exist_ok=True)
    base = workdir / "cold-objects"

    def write(name: str, event: dict[str, Any]) -> Path:
        path = events_dir / f"{name}.json"
        path.write_text(json.dumps(event))
        return path

    dynamodb = boto3.client("dynamodb", endpoint_url=endpoint, **stack.credentials())
    s3 = boto3.client("s3", endpoint_url=endpoint, **stack.credentials())
    s3.put_object(
        Bucket=stack.R2_BUCKETS["user-assets"],
        Key=SIGNED_KEY,
        Body=images.photo(PHOTO_BYTES),
        ContentType="image/jpeg",
    )
    stack.seed_user(dynamodb, "cold-graphql", active=5)

    targets = []
    for name, function in stack.functions().items():
        env = stack.function_env(function, endpoint, "R2", base)
        target = Target(name, function.module, function.handler, env)
        if name == "UploadFunction":
            event = stack.upload_event("cold-upload", images.photo(32 * 1024))
            target.events = [write(name, event)]
        elif name == "SignedFetchFunction":
            target.events = [write(name, stack.signed_get(SIGNED_KEY))]
        elif name == "GraphQLFunction":
            query, variables = stack.graphql_query("me-photos")
            target.events = [write(name, stack.graphql("cold-graphql", query, variables))]
        elif name == "RetentionFunction":
            # every process archives 2 of 7 photos: each gets a user of its own
            for run in range(processes):
                user = f"cold-retention-{run:03d}"
                photos = stack.seed_user(dynamodb, user, active=RETENTION_RECORDS)
                records = [
                    stream_record(user, p.asset_id, p.sort_key or "", i)
                    for i, p in enumerate(photos)
                ]
                target.events.append(write(f"{name}-{run}", stack.stream_event(records)))
        else:
            continue  # a function this bench does not know yet: add its first event above
        targets.append(target)
    bare = Target(
        stack.BARE, "bare_handler", "lambda_handler", stack.function_env(None, endpoint, "R2", base)
    )
    bare.events = [write(stack.BARE, stack.signed_get(SIGNED_KEY))]
    return [bare, *targets]


def child_env(target: Target, variant: Variant) -> dict[str, str]:
    return target.env | {
        "PATH": "/usr/bin:/bin",
        "HOME": "/tmp",  # noqa: S108 - as on Lambda
        "LANG": "C.UTF-8",
        "TZ": "UTC",
        "LAMBDA_TASK_ROOT": str(target.code_dir(variant)),
    }


def run_child(
    interpreter: Path,
    target: Target,
    variant: Variant,
    event: Path,
    workdir: Path,
    *,
    importtime: bool = False,
) -> tuple[dict[str, Any], str]:
    flags = ["-I", "-S", "-B"] + (["-X", "importtime"] if importtime else [])
    spec = {
        "paths": [str(target.code_dir(variant)), *map(str, variant.layers)],
        "module": target.module,
        "handler": target.handler,
        "event": str(event),
    }
    spec_path = workdir / "cold-events" / "spec.json"
    spec_path.write_text(json.dumps(spec))
    result = subprocess.run(  # noqa: S603 - our interpreter, our script
        [str(interpreter), *flags, str(CHILD), str(spec_path)],
        env=child_env(target, variant),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    for line in result.stdout.splitlines():
        if line.startswith("BENCH_COLD "):
            return json.loads(line.removeprefix("BENCH_COLD ")), result.stderr
    raise RuntimeError(
        f"{target.name}: cold process failed (exit {result.returncode}):\n"
        f"{result.stderr[-3000:]}\n{result.stdout[-1000:]}"
    )


@dataclass
class ColdResult:
    variant: Variant
    runs: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, str] = field(default_factory=dict)

    def median(self, name: str, key: str = "init_ms") -> float:
        return statistics.median(run[key] for run in self.runs[name])


def measure(
    interpreter: Path,
    targets: list[Target],
    variants: list[Variant],
    runs: int,
    workdir: Path,
    progress: Any,
) -> list[ColdResult]:
    """`runs` processes per target and variant, one at a time, interleaved round-robin."""
    results = [ColdResult(variant) for variant in variants]
    process = 0
    for run in range(runs):
        order = targets[run % len(targets) :] + targets[: run % len(targets)]
        for target in order:
            for result in results:
                if target.name in result.errors:
                    continue
                event = target.event(process)
                process += 1
                try:
                    outcome, _ = run_child(interpreter, target, result.variant, event, workdir)
                except (RuntimeError, subprocess.TimeoutExpired) as exc:
                    result.errors[target.name] = str(exc)
                    continue
                if outcome["status"] not in (200, 201, "batch"):
                    result.errors[target.name] = f"first event answered {outcome['status']}"
                    continue
                result.runs[target.name].append(outcome)
        progress(f"cold: round {run + 1}/{runs}")
    return results


def rows(result: ColdResult) -> list[Row]:
    variant = result.variant
    section = variant.section
    out: list[Row] = []
    if stack.BARE not in result.runs:
        error = result.errors.get(stack.BARE, "no runs")
        return [failed(section, f"{LABELS[stack.BARE]}: cold init", error)]
    anchor = result.median(stack.BARE)
    out.append(
        Row(
            section,
            f"{LABELS[stack.BARE]}: cold init",
            1.0,
            "x",
            None,
            f"median {anchor:.0f} ms over {len(result.runs[stack.BARE])} processes "
            f"(import {result.median(stack.BARE, 'import_ms'):.0f} + first event "
            f"{result.median(stack.BARE, 'first_event_ms'):.0f} ms); the build holds "
            f"{bytecode_files(variant)} .pyc files",
            {"median_ms": anchor, "runs": result.runs[stack.BARE], "variant": variant.name},
        )
    )
    for name, limit in BUDGETS.items():
        metric = f"{LABELS[name]}: cold init / anchor"
        budget = at_most(limit) if variant.budgeted else None
        if name not in result.runs:
            out.append(failed(section, metric, result.errors.get(name, "no runs"), budget))
            continue
        median = result.median(name)
        modules = statistics.median(r["modules"] for r in result.runs[name])
        out.append(
            Row(
                section,
                metric,
                median / anchor,
                "x",
                budget,
                f"median {median:.0f} ms vs {anchor:.0f} ms (import "
                f"{result.median(name, 'import_ms'):.0f} + first event "
                f"{result.median(name, 'first_event_ms'):.0f} ms; {modules:.0f} modules)"
                + ("" if variant.budgeted else f"; budget as built: <= {limit:.2f}x"),
                {
                    "function": name,
                    "median_ms": median,
                    "runs": result.runs[name],
                    "variant": variant.name,
                },
            )
        )
    return out


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
    targets: list[Target],
    variant: Variant,
    names: list[str],
    workdir: Path,
    repeats: int = 3,
) -> dict[str, Any]:
    """For each of `names` (and the anchor): the packages that take the import time, as the
    median over `repeats` processes of `-X importtime`, beside the anchor's figure. The
    processes serve their first event too, so imports made on first use count."""
    by_name = {t.name: t for t in targets}
    report: dict[str, Any] = {}
    for name in [stack.BARE, *names]:
        samples = []
        largest: list[tuple[str, int, int, int]] = []
        for run in range(repeats):
            target = by_name[name]
            _, stderr = run_child(
                interpreter, target, variant, target.event(run), workdir, importtime=True
            )
            entries = parse_importtime(stderr)
            samples.append(by_package(entries))
            if run == 0:
                largest = sorted(entries, key=lambda e: e[2], reverse=True)[:12]
        packages = {
            package: statistics.median(sample.get(package, 0.0) for sample in samples)
            for package in set().union(*samples)
        }
        report[name] = {
            "packages_ms": dict(sorted(packages.items(), key=lambda kv: -kv[1])),
            "largest": [
                {"module": m, "self_ms": s / 1000, "cumulative_ms": c / 1000, "depth": d}
                for m, s, c, d in largest
            ],
        }
    return report


def render_importtime(report: dict[str, Any], top: int = 10) -> str:
    anchor = report.get(stack.BARE, {}).get("packages_ms", {})
    lines = []
    for name, data in report.items():
        if name == stack.BARE:
            continue
        total = sum(data["packages_ms"].values())
        lines.append(
            f"{LABELS.get(name, name)} ({name}): {total:.0f} ms of imports, first event "
            f"included (anchor {sum(anchor.values()):.0f} ms); top packages, self time summed:"
        )
        for package, ms in list(data["packages_ms"].items())[:top]:
            extra = ms - anchor.get(package, 0.0)
            lines.append(
                f"    {package:<28} {ms:7.1f} ms   anchor {anchor.get(package, 0.0):7.1f}"
                f"   +{extra:6.1f}"
            )
        lines.append("  largest imports (cumulative, one process):")
        for entry in data["largest"][:top]:
            lines.append(
                f"    {'  ' * entry['depth']}{entry['module']:<{50 - 2 * entry['depth']}} "
                f"{entry['cumulative_ms']:7.1f} ms"
            )
    return "\n".join(lines)
