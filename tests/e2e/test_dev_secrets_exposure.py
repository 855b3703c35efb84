"""`python -m devstack` (what `make dev` runs) will not listen on a non-loopback address with
the public development secrets: it exits at once, with a message and no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import ROOT

SECRETS = ("JWT_SECRET", "LOCAL_STORAGE_SECRET")
ALL_INTERFACES = "0.0.0.0"  # noqa: S104 - the exposed address under test


@pytest.mark.parametrize("host", [ALL_INTERFACES, "myhost"])
def test_an_exposed_host_with_development_secrets_exits_without_listening(
    tmp_path: Path, host: str
) -> None:
    # Given HOST set to every interface, or to a host name (tcsh exports the machine's name
    # as HOST), and neither secret set
    data_dir = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_"))}
    env = {k: v for k, v in env.items() if k not in SECRETS}
    env |= {"HOST": host, "PORT": "0", "DEV_DATA_DIR": str(data_dir)}

    # When the stack is started as a user would
    done = subprocess.run(
        [sys.executable, "-m", "devstack"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    # Then it exits with an error that names the host and each variable to set
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"HOST={host} exposes the local stack beyond this machine" in done.stderr
    assert "JWT_SECRET and LOCAL_STORAGE_SECRET still have their public development" in (
        done.stderr
    )
    assert "or use HOST=127.0.0.1" in done.stderr
    assert "Traceback" not in done.stderr
    # and it never got as far as listening: no banner, nothing created or saved
    assert "Ready on" not in done.stdout
    assert done.stdout == ""
    assert not data_dir.exists()
