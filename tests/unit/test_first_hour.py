"""What a new user meets first: `make help` and `make token` (issue 28, item 8)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import jwt

ROOT = Path(__file__).resolve().parents[2]


def test_make_help_lists_every_documented_target_without_raw_variables() -> None:
    # Given every target the Makefile documents with `## `
    documented = re.findall(r"^([a-z0-9-]+):.*## ", (ROOT / "Makefile").read_text(), re.M)

    # When a newcomer asks for help
    shown = subprocess.run(
        ["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout

    # Then each is listed, the R2 tools included, and no `$(VAR)` is printed literally
    listed = re.findall(r"^  make (\S+)", shown, re.M)
    assert listed == documented
    assert {"r2-lifecycle", "r2-cors", "dev", "test"} <= set(listed)
    assert "$(" not in shown


def test_a_token_minted_without_a_name_carries_the_user_id_as_username() -> None:
    minted = subprocess.run(
        [sys.executable, "-m", "devkit.token", "--user", "ada"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()

    claims = jwt.decode(minted, options={"verify_signature": False})
    assert claims["sub"] == "ada"
    assert claims["username"] == "ada"
