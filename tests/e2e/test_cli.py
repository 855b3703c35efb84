"""The `profile-photos` console script, installed into the venv by `pip install
./clients/python`, run as a subprocess against the local stack, configured by the
environment as a user configures it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import requests

from devstack.token import make_token
from testkit import images
from tests.e2e.conftest import RunningStack

CLI = Path(sys.executable).with_name("profile-photos")


def run(
    *args: str, url: str | None, token: str | None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROFILE_PHOTOS_")}
    env |= {"PROFILE_PHOTOS_URL": url} if url else {}
    env |= {"PROFILE_PHOTOS_TOKEN": token} if token else {}
    return subprocess.run(
        [str(CLI), *args], env=env, capture_output=True, text=True, timeout=60, cwd=cwd
    )


def test_upload_url_photos_export_and_delete_from_the_shell(
    stack: RunningStack, tmp_path: Path
) -> None:
    token = make_token("cli-user", "Cli")
    photo = tmp_path / "me.png"
    photo.write_bytes(images.png_bytes())

    uploaded = run("upload", str(photo), url=stack.url, token=token)
    assert uploaded.returncode == 0, uploaded.stderr
    asset_id = uploaded.stdout.split()[1]
    assert "100%" in uploaded.stderr  # the progress bar reached the end
    assert requests.get(uploaded.stdout.splitlines()[1], timeout=30).content == photo.read_bytes()

    url = run("url", "cli-user", "--size", "small", url=stack.url, token=token)
    assert url.returncode == 0, url.stderr
    assert ".small.webp?token=" in url.stdout

    listed = run("--json", "photos", url=stack.url, token=token)
    assert listed.returncode == 0, listed.stderr
    assert [p["asset_id"] for p in json.loads(listed.stdout)] == [asset_id]

    exported = run("export", str(tmp_path / "out"), url=stack.url, token=token)
    assert exported.returncode == 0, exported.stderr
    assert "exported 1 photo(s)" in exported.stdout
    files = [p for p in (tmp_path / "out").iterdir() if p.name != "export.json"]
    assert [p.read_bytes() for p in files] == [photo.read_bytes()]

    deleted = run("delete", asset_id, url=stack.url, token=token)
    assert deleted.returncode == 0, deleted.stderr
    assert deleted.stdout == f"deleted {asset_id}; current photo: none\n"
    gone = run("url", "cli-user", url=stack.url, token=token)
    assert gone.returncode == 1
    assert gone.stderr == "profile-photos: cli-user has no profile photo\n"


def test_errors_are_clear_messages_and_exit_codes(stack: RunningStack, tmp_path: Path) -> None:
    bmp = tmp_path / "x.bmp"
    bmp.write_bytes(images.bmp_bytes())

    unconfigured = run("photos", url=None, token=None)
    refused = run("photos", url=stack.url, token="not-a-jwt")
    wrong_type = run("upload", str(bmp), url=stack.url, token=make_token("cli-err", None))
    missing = run("upload", str(tmp_path / "nope.png"), url=stack.url, token="t")
    unreachable = run("photos", url="http://127.0.0.1:9", token="t")

    assert unconfigured.returncode == 2
    assert "set PROFILE_PHOTOS_URL and PROFILE_PHOTOS_TOKEN" in unconfigured.stderr
    assert refused.returncode == 1
    assert refused.stderr.startswith("profile-photos: UNAUTHORIZED (HTTP 401): ")
    assert wrong_type.returncode == 2  # refused before sending: .bmp is no allowed type
    assert "cannot tell the type of 'x.bmp'" in wrong_type.stderr
    assert missing.returncode == 2
    assert "nope.png: no such file" in missing.stderr
    assert unreachable.returncode == 3
    assert unreachable.stderr.startswith("profile-photos: NETWORK_ERROR (no answer): ")
    assert "Traceback" not in "".join(
        r.stderr for r in (unconfigured, refused, wrong_type, missing, unreachable)
    )
