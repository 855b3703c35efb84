"""Running the SAM CLI / cfn-lint tool venv's Python (`.venv-tools`, `make tools`) from a test.

The tool venv holds samtranslator, cfn-lint and the SAM CLI, which the project venv does not:
the tests that need the transformed template (or the IAM check) run a script there, from the
repository root, and read what it prints. Tests using it are marked `tools`.
"""

from __future__ import annotations

import copy
import functools
import json
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TOOLS_PYTHON = ROOT / ".venv-tools" / "bin" / "python"
CHECKS = ROOT / "tests" / "template"  # check_template.py, iam_check.py: the tool venv's scripts
TIMEOUT = 180  # seconds: the SAM transform, cold, on a slow machine


def require_tools_python() -> Path:
    """The tool venv's interpreter; fails the test (not skips it) when it is missing."""
    if not TOOLS_PYTHON.exists():
        import pytest

        pytest.fail(f"{TOOLS_PYTHON} missing: run `make tools` (make test does)")
    return TOOLS_PYTHON


def run_tools_python(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """`.venv-tools/bin/python *args` in `cwd` (the repository root), its output as text."""
    return subprocess.run(  # noqa: S603 - our own venv's interpreter, our own scripts
        [str(require_tools_python()), *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
        cwd=cwd,
    )


def tools_python_json(*args: str, cwd: Path = ROOT) -> Any:
    """`run_tools_python(*args)`'s stdout as JSON; fails the test when the script failed."""
    result = run_tools_python(*args, cwd=cwd)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


# The SAM transform offline (tests/template/check_template.py's), parameter defaults overridden.
TRANSFORM = """\
import json, logging, sys
from check_template import transform  # run with tests/template/ as the working folder
from samtranslator.yaml_helper import yaml_parse
logging.getLogger("samtranslator").setLevel(logging.ERROR)
template = yaml_parse(open(sys.argv[1]).read())
for name, value in json.loads(sys.argv[2]).items():
    template["Parameters"][name]["Default"] = value
translated, _ = transform(template, "eu-west-1")
print(json.dumps(translated))
"""


def transformed_template(template: Path, defaults: dict[str, str]) -> dict[str, Any]:
    """`template` through the SAM transform (the tools venv's), parameters at `defaults`: a
    fresh copy, transformed once per version of the file and defaults in this process."""
    stat = template.stat()
    key = (str(template.resolve()), stat.st_mtime_ns, stat.st_size, json.dumps(defaults))
    return copy.deepcopy(_transformed(*key))


@functools.cache
def _transformed(path: str, mtime_ns: int, size: int, defaults: str) -> dict[str, Any]:
    return tools_python_json("-c", TRANSFORM, path, defaults, cwd=CHECKS)  # type: ignore[no-any-return]
