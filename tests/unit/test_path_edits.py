"""No `sys.path` edit and no `PYTHONPATH` stands in for installing the package (issue 25).

The layer's package and every support folder are installed editable into the dev venv, so
nothing needs a path edit to import them. The exception is code that builds a Lambda
function's own path on purpose (the local stack's worker, the bench's children): each such
edit says so with `# function path: <why>` on its line or the line above.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.unit.test_file_sizes import ROOT, tracked_python_files

REASON = "# function path:"


def is_sys_path(node: ast.AST) -> bool:
    """`sys.path`, or a slice or item of it."""
    if isinstance(node, ast.Subscript):
        node = node.value
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "path"
        and isinstance(node.value, ast.Name)
        and node.value.id == "sys"
    )


def edit_lines(tree: ast.AST) -> list[int]:
    """The lines that assign to `sys.path` or call its insert, append or extend."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(is_sys_path(target) for target in targets):
                found.append(node.lineno)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("insert", "append", "extend")
            and is_sys_path(node.func.value)
        ):
            found.append(node.lineno)
    return found


def unexplained_edits(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    return [
        f"{path.relative_to(ROOT)}:{number}: {lines[number - 1].strip()}"
        for number in edit_lines(ast.parse(text))
        if REASON not in lines[number - 1] and (number < 2 or REASON not in lines[number - 2])
    ]


def test_every_path_edit_builds_a_function_path_and_says_so() -> None:
    found = [edit for path in tracked_python_files() for edit in unexplained_edits(path)]
    assert found == [], "install the package instead of editing sys.path:\n" + "\n".join(found)


def test_an_unexplained_edit_is_found() -> None:
    module = ROOT / ".cache" / "path-edit-probe.py"  # under ROOT: paths are shown relative
    module.parent.mkdir(exist_ok=True)
    module.write_text("import sys\nsys.path.insert(0, 'x')\nsys.path[:0] = ['y']  # ok\n")
    try:
        assert len(unexplained_edits(module)) == 2
    finally:
        module.unlink()


def test_no_recipe_sets_pythonpath() -> None:
    assert "PYTHONPATH" not in (ROOT / "Makefile").read_text()
