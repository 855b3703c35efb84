"""The short version of `make load`: the tool as a user runs it (its own local stack on
loopback, a few users for ~25 s), with limits low enough that uploads are refused too. It
must exit 0, and the JSON it writes must report every invariant holding on a run that did
each kind of work."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_short_load_run_keeps_every_invariant(tmp_path: Path) -> None:
    # Given three users, 6 units a minute each, 3 active photos kept
    output = tmp_path / "load.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_"))}
    env["PYTHONPATH"] = str(ROOT / "shared")

    # When the load tool runs for 25 s
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.e2e.load_runner",
            "--users",
            "3",
            "--duration",
            "25",
            "--per-minute",
            "6",
            "--active-limit",
            "3",
            "--seed",
            "7",
            "--output",
            str(output),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=170,
        check=False,
    )

    # Then it says every invariant holds, in its exit code, its output and its JSON
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    result = json.loads(output.read_text())
    assert result["ok"] is True
    assert result["invariants"] == {
        "acknowledged": [],
        "retention": [],
        "orphans": [],
        "rate_limits": [],
        "errors": [],
    }
    assert "all invariants hold" in run.stdout
    # and the run exercised what the invariants are about
    assert result["acknowledged_uploads"] > 0
    assert result["rate_limited"] > 0, "no request ran into the rate limit"
    operations = result["operations"]
    assert {"upload", "view", "graphql_read"} <= set(operations), operations
    assert all(op["p50_ms"] > 0 for op in operations.values())
    # no 5xx but a view's 503 with Retry-After while its size is being made (the contract's
    # answer, which the runner follows: every one of them was asked again)
    failed = {
        name: status
        for name, op in operations.items()
        for status in op["statuses"]
        if status.startswith("5") and not (name == "view" and status == "503")
    }
    assert failed == {}, result["statuses"]
    assert result["statuses"].get("503", 0) == result["render_pending"], result
