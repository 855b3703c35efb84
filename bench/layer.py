"""The built artefacts: `sam build` into the bench's own folder, and the layers' sizes.

The bench builds into `.aws-sam/bench-build` (not `.aws-sam/build`), so a `make test` running
beside it never swaps the files a cold-start process is importing. It shares SAM's build
cache (`.aws-sam/cache`, samconfig.toml's `cached = true`) with `make build`: once the
dependency layer was built, a rebuild is incremental and needs no network. Like
`tools/check_build.sh`, it needs a real python3.13 (the template's runtime) first on PATH.
"""

from __future__ import annotations

import functools
import io
import os
import shutil
import subprocess
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.budgets import Row, at_most

ROOT = Path(__file__).resolve().parent.parent
BUILD_DIR = ROOT / ".aws-sam" / "bench-build"
SAM = ROOT / ".venv-tools" / "bin" / "sam"
# What the Lambda Python runtime already ships (distribution names).
RUNTIME_SHIPPED = (
    "boto3",
    "botocore",
    "s3transfer",
    "jmespath",
    "urllib3",
    "python-dateutil",
    "six",
)
LAYER_BUDGET_MB = 15.0
MB = 1_000_000


@functools.cache
def layers() -> tuple[str, ...]:
    """The layers every function gets (the template's Globals): DependenciesLayer, SharedLayer."""
    from devkit.template import load_template

    refs = load_template()["Globals"]["Function"].get("Layers", [])
    return tuple(ref["Ref"] for ref in refs if isinstance(ref, dict) and "Ref" in ref)


@functools.cache
def optional_layers() -> dict[str, str]:
    """Layers only some deployments attach: logical id -> the condition that attaches them."""
    from devkit.template import load_template, resources_of_type

    found = resources_of_type(load_template(), "AWS::Serverless::LayerVersion")
    return {name: r.get("Condition", "-") for name, r in found.items() if name not in layers()}


@functools.cache
def function_layers(function: str) -> tuple[str, ...]:
    """The layers `function` runs with, in order: the Globals' then its own plain `!Ref`s
    (a conditional `!If` layer, JwksLayer, is attached only where its condition holds)."""
    from devkit.template import load_template

    refs = load_template()["Resources"][function]["Properties"].get("Layers", [])
    own = tuple(ref["Ref"] for ref in refs if isinstance(ref, dict) and "Ref" in ref)
    return layers() + tuple(name for name in own if name not in layers())


PRECOMPILE = ROOT / "tools" / "precompile.py"


def precompile(interpreter: Path, build_dir: Path) -> None:
    """Bytecode into the build, as `make build` ships it: tools/precompile.py BUILD_DIR with
    the runtime's interpreter. Until that script exists, the same command it runs
    (`compileall`, unchecked-hash, quiet, parallel) is run here directly."""
    # Run from the build's parent with a relative path: tools/precompile.py skips paths that
    # contain `/.aws-sam/`, and the bench's build lives under .aws-sam/.
    if PRECOMPILE.exists():
        command = [str(interpreter), str(PRECOMPILE), build_dir.name]
    else:  # mirrors tools/precompile.py
        command = [str(interpreter), "-m", "compileall", "-q", "-j", "0"]
        command += ["--invalidation-mode", "unchecked-hash", build_dir.name]
    result = subprocess.run(  # noqa: S603 - the runtime's interpreter, fixed arguments
        command, cwd=build_dir.parent, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise SystemExit(f"bench: precompiling {build_dir} failed:\n{result.stdout}{result.stderr}")
    if not any(build_dir.rglob("*.pyc")):
        raise SystemExit(f"bench: precompiling {build_dir} wrote no .pyc:\n{result.stdout}")


def default_build_copy(target: Path) -> Path:
    """The Globals' layers of the build without any bytecode: how `sam build` leaves them by
    default (the anchor A runs on this copy)."""
    shutil.rmtree(target, ignore_errors=True)
    for name in layers():
        shutil.copytree(
            BUILD_DIR / name,
            target / name,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
            symlinks=True,
        )
    return target


def runtime_version() -> str:
    """`python3.13` from the template's Globals (what Lambda runs)."""
    from devkit.template import load_template

    return load_template()["Globals"]["Function"]["Runtime"]


def find_interpreter(runtime: str) -> Path:
    """A real interpreter of the runtime's version (not pyenv's shims), as check_build.sh."""
    name = runtime  # "python3.13"
    version = runtime.removeprefix("python")
    candidates = []
    if os.environ.get("PY313_BIN"):
        candidates.append(Path(os.environ["PY313_BIN"]) / name)
    pyenv_root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    candidates += sorted((pyenv_root / "versions").glob(f"{version}*/bin/{name}"))
    found = shutil.which(name)
    if found:
        candidates.append(Path(found))
    for candidate in candidates:
        if (
            candidate.is_file()
            and os.access(candidate, os.X_OK)
            and "/shims/" not in str(candidate)
        ):
            return candidate
    raise SystemExit(
        f"bench: no {name} found (the template's runtime): install it (pyenv install "
        f"{version}.0) or set PY313_BIN to its bin folder"
    )


def sam_build(interpreter: Path) -> float:
    """`sam build` into BUILD_DIR; returns the seconds it took."""
    import time

    if not SAM.exists():
        raise SystemExit(f"bench: {SAM} not found: run `make tools` first")
    env = os.environ | {
        "PATH": f"{interpreter.parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "SAM_CLI_TELEMETRY": "0",
    }
    started = time.perf_counter()
    result = subprocess.run(  # noqa: S603 - the tool venv's sam, fixed arguments
        [
            str(SAM),
            "build",
            "--build-dir",
            str(BUILD_DIR),
            "--template",
            str(ROOT / "template.yaml"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"bench: sam build failed:\n{result.stdout}\n{result.stderr}")
    return time.perf_counter() - started


def layer_path(layer: str) -> Path:
    return BUILD_DIR / layer / "python"


@dataclass(frozen=True)
class Sizes:
    unzipped: int
    zipped: int
    files: int


def measure(files: list[Path], root: Path) -> Sizes:
    """Sum of file sizes, and the size of a deflated zip of them (as SAM uploads a layer)."""
    buffer = io.BytesIO()
    total = 0
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            total += path.stat().st_size
            archive.write(path, path.relative_to(root).as_posix())
    return Sizes(total, buffer.tell(), len(files))


def owners(layer: Path) -> dict[Path, str]:
    """Each installed file of `layer` -> its distribution's normalised name (per RECORD)."""
    owner: dict[Path, str] = {}
    for dist in metadata.distributions(path=[str(layer)]):
        name = (dist.metadata["Name"] or "").replace("-", "_").lower()
        for file in dist.files or []:
            path = (layer / file).resolve()
            if path.is_file():
                owner[path] = name
    return owner


def runtime_shipped_files(owner: dict[Path, str]) -> set[Path]:
    """Every file that belongs to a distribution the Lambda runtime ships."""
    wanted = {name.replace("-", "_").lower() for name in RUNTIME_SHIPPED}
    return {path for path, name in owner.items() if name in wanted}


def largest(files: list[Path], owner: dict[Path, str], top: int = 6) -> list[tuple[str, int]]:
    """The distributions (or top-level folders, for files no RECORD lists) taking the most."""
    sizes: dict[str, int] = {}
    for path in files:
        resolved = path.resolve()
        name = owner.get(resolved)
        if name is None:
            for layer in layers():
                root = layer_path(layer)
                if resolved.is_relative_to(root.resolve()):
                    name = resolved.relative_to(root.resolve()).parts[0]
                    break
            else:
                name = path.name
        sizes[name] = sizes.get(name, 0) + path.stat().st_size
    return sorted(sizes.items(), key=lambda kv: -kv[1])[:top]


def layer_rows() -> list[Row]:
    roots = [BUILD_DIR / layer for layer in layers()]  # the zip holds python/...
    every: list[Path] = []
    for root in roots:
        every += sorted(p for p in root.rglob("*") if p.is_file())
    owner: dict[Path, str] = {}
    for layer in layers():
        owner |= owners(layer_path(layer))
    shipped = runtime_shipped_files(owner)
    ours = [p for p in every if p.resolve() not in shipped]
    biggest = ", ".join(f"{name} {size / MB:.1f}" for name, size in largest(ours, owner))
    # Each layer deploys as its own zip: measure them separately and add up.
    every_detail = _per_layer_detail(every)
    with_all = _total(every_detail)
    without = _total(_per_layer_detail(ours))
    per_layer = {layer: vars_of(s) for layer, s in every_detail.items()}
    names = ", ".join(RUNTIME_SHIPPED)
    section = f"layer size ({' + '.join(layers())}, as shipped; MB = 10^6 bytes)"
    pyc = sum(p.stat().st_size for p in every if p.suffix == ".pyc")
    return [
        Row(
            section,
            "our layers as shipped (boto3, botocore pinned in; bytecode): unzipped",
            with_all.unzipped / MB,
            "MB",
            None,
            f"{with_all.files} files, {pyc / MB:.1f} MB of them .pyc; boto3 is pinned in "
            "layers/requirements.txt, so the runtime's own copy is shadowed",
            {"bytes": with_all.unzipped, "pyc_bytes": pyc, "per_layer": per_layer},
        ),
        Row(
            section,
            "our layers as shipped: zipped",
            with_all.zipped / MB,
            "MB",
            None,
            "deflate, as `sam deploy` packages a layer",
            {"bytes": with_all.zipped},
        ),
        Row(
            section,
            "our layers without what the runtime ships: unzipped",
            without.unzipped / MB,
            "MB",
            at_most(LAYER_BUDGET_MB),
            f"{without.files} files; leaves out {names} (shipped by the Lambda Python "
            f"runtime). Largest, MB: {biggest}",
            {"bytes": without.unzipped},
        ),
        Row(
            section,
            "our layers without what the runtime ships: zipped",
            without.zipped / MB,
            "MB",
            None,
            "",
            {"bytes": without.zipped},
        ),
        *_optional_rows(section),
        *function_size_rows(),
    ]


def _optional_rows(section: str) -> list[Row]:
    """Layers only some deployments attach (JwksLayer): their size beside the budget."""
    rows = []
    for name, condition in optional_layers().items():
        root = BUILD_DIR / name
        if not root.is_dir():
            continue
        sizes = measure(sorted(p for p in root.rglob("*") if p.is_file()), root)
        rows.append(
            Row(
                section,
                f"{name}, only where {condition}: unzipped"
                if condition != "-"
                else f"{name}, only in the functions that list it: unzipped",
                sizes.unzipped / MB,
                "MB",
                None,
                f"{sizes.files} files, {sizes.zipped / MB:.1f} MB zipped; not in the budget's "
                "figure: a deployment with the condition adds it",
                vars_of(sizes),
            )
        )
    return rows


def _per_layer_detail(files: list[Path]) -> dict[str, Sizes]:
    result = {}
    for layer in layers():
        root = BUILD_DIR / layer
        mine = [p for p in files if p.is_relative_to(root)]
        result[layer] = measure(mine, root)
    return result


def _total(detail: dict[str, Sizes]) -> Sizes:
    return Sizes(
        sum(s.unzipped for s in detail.values()),
        sum(s.zipped for s in detail.values()),
        sum(s.files for s in detail.values()),
    )


def vars_of(sizes: Sizes) -> dict[str, int]:
    return {"unzipped": sizes.unzipped, "zipped": sizes.zipped, "files": sizes.files}


# Lambda's quota: a function's code and all its layers unzip to at most 250 MiB together.
LAMBDA_UNZIPPED_LIMIT_MB = 262_144_000 / MB


def function_size_rows() -> list[Row]:
    """Each function's code plus every layer it can run with (a conditional layer, JwksLayer,
    counted as attached), unzipped as built: what Lambda checks against its 250 MiB."""
    from devkit.template import load_template, resources_of_type

    template = load_template()
    section = f"layer size ({' + '.join(layers())}, as shipped; MB = 10^6 bytes)"
    rows = []
    for function in sorted(resources_of_type(template, "AWS::Serverless::Function")):
        names = function_layers(function) + tuple(
            name for name in _conditional_layers(template, function) if name not in layers()
        )
        parts = {name: BUILD_DIR / name for name in (function, *names)}
        if not all(path.is_dir() for path in parts.values()):
            continue
        sizes = {
            name: sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
            for name, path in parts.items()
        }
        total = sum(sizes.values())
        detail = ", ".join(f"{name} {size / MB:.1f}" for name, size in sizes.items())
        rows.append(
            Row(
                section,
                f"{function} and its layers: unzipped",
                total / MB,
                "MB",
                at_most(LAMBDA_UNZIPPED_LIMIT_MB),
                f"Lambda's limit: 250 MiB for a function and its layers together. MB: {detail}",
                {"bytes": total, "parts": sizes},
            )
        )
    return rows


def _conditional_layers(template: dict[str, Any], function: str) -> list[str]:
    """The layers a function attaches through `!If [condition, !Ref Layer, ...]`."""
    refs = template["Resources"][function]["Properties"].get("Layers", [])
    found = []
    for ref in refs:
        branches = ref.get("Fn::If", [None, None, None])[1:] if isinstance(ref, dict) else []
        found += [b["Ref"] for b in branches if isinstance(b, dict) and "Ref" in b]
    return [name for name in found if name != "AWS::NoValue"]
