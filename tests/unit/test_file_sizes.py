"""No Python file over `MAX_LINES` lines without its reason stated at its top.

A long module is either two ideas that read better apart, or one idea that would scatter if
split; the second kind says so in its docstring ("One file: <why>"), so a reader knows the
length is chosen. Every tracked `*.py` counts (`git ls-files`), tests and support code too.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAX_LINES = 400
REASON = "One file:"
HEAD_LINES = 40  # the reason sits in the module docstring, near the top


def tracked_python_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--", "*.py"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return [ROOT / name for name in listed.split("\0") if name]


def unexplained(path: Path) -> int | None:
    """The line count of `path` when it is long and states no reason at its top; else None."""
    lines = path.read_text(encoding="utf-8").splitlines()
    if len(lines) <= MAX_LINES or any(REASON in line for line in lines[:HEAD_LINES]):
        return None
    return len(lines)


def test_git_lists_the_python_files() -> None:
    files = tracked_python_files()

    assert ROOT / "shared" / "profile_photos" / "__init__.py" in files
    assert ROOT / "tests" / "unit" / "test_layers.py" in files


def test_a_long_file_without_a_reason_is_found(tmp_path: Path) -> None:
    long = tmp_path / "long.py"
    long.write_text('"""Two things."""\n' + "x = 1\n" * MAX_LINES)
    explained = tmp_path / "explained.py"
    explained.write_text('"""One thing.\n\nOne file: because.\n"""\n' + "x = 1\n" * MAX_LINES)
    short = tmp_path / "short.py"
    short.write_text("x = 1\n" * MAX_LINES)

    assert unexplained(long) == MAX_LINES + 1
    assert unexplained(explained) is None
    assert unexplained(short) is None


def test_every_file_over_the_limit_states_why_it_is_one_file() -> None:
    offenders = {
        str(path.relative_to(ROOT)): count
        for path in tracked_python_files()
        if path.is_file() and (count := unexplained(path)) is not None
    }

    assert not offenders, (
        f"over {MAX_LINES} lines with no '{REASON} <why>' in the first {HEAD_LINES} lines "
        f"(split the file, or state the reason in its docstring): "
        + ", ".join(f"{name} ({count})" for name, count in sorted(offenders.items()))
    )
