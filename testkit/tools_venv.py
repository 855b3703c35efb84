"""Running the SAM CLI / cfn-lint tool venv's Python (`.venv-tools`, `make tools`) from a test.

The tool venv holds samtranslator, cfn-lint and the SAM CLI, which the project venv does not:
the tests that need the transformed template (or the IAM check) run a script there, from the
repository root, and read what it prints. Tests using it are marked `tools`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import subprocess
from pathlib import Path
from typing import Any

from testkit.disk_cache import FOLDER

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
    fresh copy. The transform is deterministic, so its output is kept under `.cache/testkit`,
    keyed by the template's text, the defaults, the transform's code and the tools venv's
    packages: each pytest worker, and each run, reads it instead of starting the tools venv
    (~3 s) again."""
    text = _transformed(str(template.resolve()), template.read_bytes(), json.dumps(defaults))
    return json.loads(text)  # type: ignore[no-any-return]


@functools.cache
def _transformed(path: str, template: bytes, defaults: str) -> bytes:
    packages = sorted(p.name for p in ROOT.glob(".venv-tools/lib/*/site-packages/*.dist-info"))
    code = TRANSFORM.encode() + (CHECKS / "check_template.py").read_bytes()
    key = hashlib.sha256(repr((template, defaults, code, packages)).encode()).hexdigest()
    cached = FOLDER / f"transformed-{key[:24]}.json"
    if cached.exists():
        return cached.read_bytes()
    result = run_tools_python("-c", TRANSFORM, path, defaults, cwd=CHECKS)
    assert result.returncode == 0, result.stdout + result.stderr
    FOLDER.mkdir(parents=True, exist_ok=True)
    partial = cached.with_suffix(f".{os.getpid()}.tmp")
    partial.write_text(result.stdout)
    partial.replace(cached)  # atomic: a worker never reads another's half-written file
    return result.stdout.encode()
