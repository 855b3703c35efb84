"""Precompile every .py under a built SAM tree into unchecked-hash .pyc files.

Usage: python3.13 tools/precompile.py BUILD_DIR

Run it with the runtime's interpreter (python3.13): bytecode is specific to the Python
version that writes it. Lambda mounts `/var/task` and `/opt` read-only and `sam build` ships
no `.pyc`, so without this every cold start compiles each module it imports (FACTS.md: the
graphql function ~1.5 s -> ~0.8 s). `--invalidation-mode unchecked-hash` (PEP 552) because
the zip/copy steps between here and Lambda rewrite mtimes: a timestamp-based .pyc whose
source mtime changed is silently ignored, an unchecked-hash one is always used. The build
is thrown away and rebuilt on every change, so a stale .pyc cannot outlive its source.

Every `__pycache__/*.pyc` lands beside its source (the layout the import system looks for);
files that do not compile (e.g. a test fixture of a dependency written for Python 2) are
reported and skipped, as pip does, instead of failing the build.
"""

from __future__ import annotations

import compileall
import py_compile
import sys
from pathlib import Path


def precompile(build_dir: Path) -> int:
    """Compile the tree; the number of .py files left without bytecode."""
    compileall.compile_dir(
        build_dir,
        quiet=2,  # errors only as a count below: third-party test fixtures may not compile
        workers=0,  # one process per CPU
        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
    )
    tag = sys.implementation.cache_tag
    return sum(
        1
        for source in build_dir.rglob("*.py")
        if not (source.parent / "__pycache__" / f"{source.stem}.{tag}.pyc").is_file()
    )


def main(argv: list[str]) -> int:
    if len(argv) != 2 or not Path(argv[1]).is_dir():
        print("usage: python3.13 tools/precompile.py BUILD_DIR", file=sys.stderr)
        return 2
    build_dir = Path(argv[1])
    missing = precompile(build_dir)
    total = sum(1 for _ in build_dir.rglob("*.py"))
    print(
        f"precompile: {total - missing} of {total} modules under {build_dir} compiled "
        f"(unchecked-hash, {sys.implementation.cache_tag})"
        + (f"; {missing} do not compile on this Python (skipped)" if missing else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
