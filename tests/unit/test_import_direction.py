"""The house's floors: each imports only from the floors below it, and no import cycle.

Lowest first: the service (the layer's `profile_photos` and the functions' handler modules),
`devkit` (the support base), the folders built on it (`devstack`, `ops`, `bench`, `testkit`,
`tools`, `docs.gen`), then `tests`. Every `import` and `from ... import` of every module is
read with `ast` (imports inside functions included: a lazy import is still a dependency).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = sorted(p.parent.name for p in ROOT.glob("functions/*/*_handler.py"))
HANDLER_MODULES = {p.stem for p in ROOT.glob("functions/*/*.py")}
SERVICE, BASE, BUILT_ON, TESTS = 0, 1, 2, 3
FLOORS = {
    "profile_photos": SERVICE,
    **dict.fromkeys(HANDLER_MODULES, SERVICE),
    "devkit": BASE,
    **dict.fromkeys(("devstack", "ops", "bench", "testkit", "tools", "docs"), BUILT_ON),
    "tests": TESTS,
}
SOURCES = {
    "profile_photos": ROOT / "shared" / "profile_photos",
    "functions": ROOT / "functions",
    **{name: ROOT / name for name in ("devkit", "devstack", "ops", "bench", "testkit", "tools")},
    "docs": ROOT / "docs" / "gen",
    "tests": ROOT / "tests",
}


def module_name(path: Path) -> str:
    if path.is_relative_to(ROOT / "shared"):
        relative = path.relative_to(ROOT / "shared")
    elif path.is_relative_to(ROOT / "functions"):
        return path.stem  # a handler module: on the function's own path
    else:
        relative = path.relative_to(ROOT)
    parts = list(relative.with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> Iterator[tuple[str, Path]]:
    for source in SOURCES.values():
        for path in sorted(source.rglob("*.py")):
            if "sam_local" not in path.parts:  # shell-driven container scripts
                yield module_name(path), path


def imports(path: Path, name: str) -> set[str]:
    """First-party modules `path` imports, as absolute names."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:  # the submodule when it is one, else the module
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in KNOWN else base)
    return {module for module in found if module.split(".")[0] in FLOORS}


KNOWN = {name for name, _ in modules()}
GRAPH = {name: imports(path, name) for name, path in modules()}


def floor(module: str) -> int:
    return FLOORS[module.split(".")[0]]


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_a_module_imports_nothing_from_a_higher_floor(module: str) -> None:
    upward = sorted(m for m in GRAPH[module] if floor(m) > floor(module))

    assert upward == [], f"{module} (floor {floor(module)}) imports from above: {upward}"


def test_the_floors_cover_every_support_folder() -> None:
    folders = {p.name for p in ROOT.iterdir() if (p / "__init__.py").exists()}
    assert folders <= set(FLOORS), f"a package without a floor: {folders - set(FLOORS)}"


def test_no_import_cycle() -> None:
    edges = {
        name: {m for m in targets if m in KNOWN and m != name} for name, targets in GRAPH.items()
    }
    done: set[str] = set()
    path: list[str] = []

    def visit(node: str) -> None:
        if node in path:
            cycle = [*path[path.index(node) :], node]
            raise AssertionError("import cycle: " + " -> ".join(cycle))
        if node in done:
            return
        path.append(node)
        for target in sorted(edges.get(node, ())):
            visit(target)
        path.pop()
        done.add(node)

    for node in sorted(edges):
        visit(node)
