"""The floors of the code base, as the imports show them.

Handlers (functions/*) -> domain (the top-level modules of `profile_photos`) -> adapters
(`store`, `images`) and the ground floor (settings, errors, times, observability). The HTTP
glue (`api`) is an adapter the handlers use: the domain never imports it, and it imports only
the ground floor. Nothing points back up, and no import cycle exists.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "shared" / "profile_photos"
FUNCTIONS = ROOT / "functions"
# `crop` is a value type (standard library only) that store, images and domain all share
GROUND = {"settings", "errors", "times", "observability", "crop"}
# floor -> the floors it may import (besides itself)
ALLOWED = {
    "ground": set(),
    "store": {"ground"},
    "images": {"ground"},
    "api": {"ground"},
    "domain": {"ground", "store", "images"},
    "handler": {"ground", "store", "images", "api", "domain"},
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def floor(module: str) -> str:
    parts = module.split(".")
    if parts[0] != "profile_photos":
        return "handler"
    if len(parts) == 1:
        return "ground"  # the package's own __init__
    if parts[1] in ("store", "images", "api"):
        return parts[1]
    return "ground" if parts[1] in GROUND else "domain"


def imports(path: Path, module: str) -> Iterator[str]:
    """Every `profile_photos` module that `path` imports (anywhere in it, lazily too)."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            base = node.module
            if node.level:  # relative: resolve against the importing package
                package = module.split(".")[: -node.level or None]
                base = ".".join([*package, node.module])
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            if name.split(".")[0] == "profile_photos":
                yield name


def known(name: str, modules: set[str]) -> str | None:
    """The module `name` refers to (`a.b.c` may be module `a.b`'s attribute `c`)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def graph() -> dict[str, set[str]]:
    sources = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    sources |= {f"handler:{path.stem}": path for path in FUNCTIONS.glob("*/*.py")}
    modules = set(sources)
    edges: dict[str, set[str]] = {}
    for module, path in sources.items():
        found = {known(name, modules) for name in imports(path, module)}
        edges[module] = {name for name in found if name and name != module}
    return edges


EDGES = graph()


@pytest.mark.parametrize("module", sorted(EDGES))
def test_imports_only_point_down(module: str) -> None:
    here = floor(module)
    upward = [
        target
        for target in sorted(EDGES[module])
        if floor(target) != here and floor(target) not in ALLOWED[here]
    ]
    assert upward == [], f"{module} ({here}) imports {upward}"


def test_there_is_no_import_cycle() -> None:
    visiting: list[str] = []
    done: set[str] = set()

    def visit(module: str) -> None:
        if module in done:
            return
        assert module not in visiting, "cycle: " + " -> ".join([*visiting, module])
        visiting.append(module)
        for target in EDGES.get(module, ()):
            visit(target)
        visiting.pop()
        done.add(module)

    for module in sorted(EDGES):
        visit(module)


def third_party(path: Path, package: str) -> bool:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import) and any(
            a.name.split(".")[0] == package for a in node.names
        ):
            return True
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == package:
            return True
    return False


def test_only_the_store_talks_to_dynamodb() -> None:
    users = sorted(
        module_name(path)
        for path in PACKAGE.rglob("*.py")
        if third_party(path, "pynamodb") or third_party(path, "boto3")
    )
    assert users, "the store must use pynamodb"
    assert all(floor(module) == "store" for module in users), users


def test_the_domain_knows_nothing_of_api_gateway_events() -> None:
    """Powertools' event handler and event data classes are the handlers' and the HTTP
    glue's business; the domain and the store receive plain values."""
    for path in PACKAGE.rglob("*.py"):
        module = module_name(path)
        if floor(module) in ("api",):
            continue
        source = path.read_text()
        assert "event_handler" not in source, module
        assert "data_classes" not in source, module
