"""The `profile-photos` console script, installed into the venv by `pip install
./clients/python`, run as a subprocess against the local stack, configured by the
environment as a user configures it: what a user sees is its exit code, stdout and stderr.

One file: one client surface, the console script, whose every test runs it the same way (a
subprocess with the user's environment, `run`) and reads the same exit codes and output."""

from __future__ import annotations

import functools
import json
import os
import random
import re
import socket
import subprocess
import sys
import time
import uuid
from importlib.metadata import version
from io import BytesIO
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from PIL import Image

from devkit.token import make_token
from testkit import images
from tests.e2e.conftest import RunningStack

CLI = Path(sys.executable).with_name("profile-photos")
UPLOAD_ROUTE = "/api/storage/profile-photo/upload "


def run(
    *args: str, url: str | None, token: str | None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROFILE_PHOTOS_")}
    env |= {"PROFILE_PHOTOS_URL": url} if url else {}
    env |= {"PROFILE_PHOTOS_TOKEN": token} if token else {}
    return subprocess.run(
        [str(CLI), *args], env=env, capture_output=True, text=True, timeout=120, cwd=cwd
    )


def run_binary(*args: str, url: str, token: str) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROFILE_PHOTOS_")}
    env |= {"PROFILE_PHOTOS_URL": url, "PROFILE_PHOTOS_TOKEN": token}
    return subprocess.run([str(CLI), *args], env=env, capture_output=True, timeout=120)


def one_object(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """stdout of a --json run: exactly one line holding one JSON object."""
    lines = done.stdout.splitlines()
    assert len(lines) == 1, done.stdout
    parsed = json.loads(lines[0])
    assert isinstance(parsed, dict), parsed
    return parsed


def closed_port_url() -> str:
    """A loopback URL nothing listens on: connections are refused (a stopped service)."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        return f"http://127.0.0.1:{listener.getsockname()[1]}"


def noise_png(side: int) -> bytes:
    """A real PNG of random pixels: about 3 bytes a pixel, so `side` sets its size."""
    pixels = random.Random(side).randbytes(side * side * 3)
    out = BytesIO()
    Image.frombytes("RGB", (side, side), pixels).save(out, "PNG", compress_level=1)
    return out.getvalue()


@functools.cache
def bash_script() -> str:
    script = run("completion", "bash", url=None, token=None)
    assert script.returncode == 0, script.stderr
    return script.stdout


def complete(words: str, *, cwd: Path) -> list[str]:
    """What bash offers for the last word of `words` with `profile-photos completion bash`
    loaded, as a user's shell runs it."""
    line = words.split(" ")
    program = (
        f"{bash_script()}\n"
        f"COMP_WORDS=({' '.join(repr(w) for w in line)}); COMP_CWORD={len(line) - 1}\n"
        '_profile_photos; printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    shell = subprocess.run(
        ["bash", "--norc", "-c", program], capture_output=True, text=True, timeout=30, cwd=cwd
    )
    assert shell.returncode == 0, shell.stderr
    return sorted(w for w in shell.stdout.splitlines() if w)


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
    assert [p["asset_id"] for p in one_object(listed)["photos"]] == [asset_id]

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

    assert unconfigured.returncode == 2
    assert "set PROFILE_PHOTOS_URL and PROFILE_PHOTOS_TOKEN" in unconfigured.stderr
    assert refused.returncode == 1
    assert refused.stderr.startswith("profile-photos: UNAUTHORIZED (HTTP 401): ")
    assert wrong_type.returncode == 2  # refused before sending: .bmp is no allowed type
    assert "cannot tell the type of 'x.bmp'" in wrong_type.stderr
    assert missing.returncode == 2
    assert "nope.png: no such file" in missing.stderr
    assert "Traceback" not in "".join(
        r.stderr for r in (unconfigured, refused, wrong_type, missing)
    )


def test_a_refused_token_is_known_before_a_big_file_is_sent(
    stack: RunningStack, tmp_path: Path
) -> None:
    # Given a photo of about 1.9 MB and a token that has expired
    photo = tmp_path / "big.png"
    photo.write_bytes(noise_png(800))
    expired = make_token("cli-big", "Big", ttl=-60)
    seen = len(stack.output)

    # When the user uploads it
    refused = run("upload", str(photo), url=stack.url, token=expired)

    # Then the service's refusal is reported and no byte of the file went out: no progress
    # bar, and no upload request reached the service
    assert refused.returncode == 1, refused.stderr
    assert refused.stderr == "profile-photos: UNAUTHORIZED (HTTP 401): Token has expired\n"
    assert refused.stdout == ""
    assert not [line for line in stack.output[seen:] if UPLOAD_ROUTE in line]

    # And with a valid token the same file uploads as before
    uploaded = run("upload", str(photo), url=stack.url, token=make_token("cli-big", "Big"))
    assert uploaded.returncode == 0, uploaded.stderr
    assert "100%" in uploaded.stderr
    assert requests.get(uploaded.stdout.splitlines()[1], timeout=30).content == photo.read_bytes()


def test_shared_options_go_before_or_after_the_command(stack: RunningStack, tmp_path: Path) -> None:
    token = make_token("cli-flags", "Flags")
    photo = tmp_path / "me.png"
    photo.write_bytes(images.png_bytes())

    # options after the command's name, with nothing in the environment
    after = run(
        *("upload", str(photo), "--url", stack.url, "--token", token, "-q", "--json"),
        url=None,
        token=None,
    )
    # and before it
    before = run("--url", stack.url, "--token", token, "--json", "photos", url=None, token=None)

    assert after.returncode == 0, after.stderr
    assert after.stderr == ""  # -q: no progress bar
    asset_id = one_object(after)["asset_id"]
    assert before.returncode == 0, before.stderr
    assert [p["asset_id"] for p in one_object(before)["photos"]] == [asset_id]


def test_an_empty_option_is_a_usage_error_not_the_environment(
    stack: RunningStack, tmp_path: Path
) -> None:
    # Given a configured environment
    token = make_token("cli-empty", "Empty")
    photo = tmp_path / "me.png"
    photo.write_bytes(images.png_bytes())

    # When the user passes an empty --token or --url (an unset shell variable, say)
    empty_token = run("upload", str(photo), "--token", "", url=stack.url, token=token)
    empty_url = run("--url", "", "upload", str(photo), url=stack.url, token=token)
    no_scheme = run("photos", "--url", "127.0.0.1:3000", url=None, token=token)

    # Then each is a usage error that says which, and nothing is uploaded
    assert (empty_token.returncode, empty_token.stderr) == (2, "profile-photos: --token is empty\n")
    assert (empty_url.returncode, empty_url.stderr) == (2, "profile-photos: --url is empty\n")
    assert no_scheme.returncode == 2
    assert "must start with http:// or https://" in no_scheme.stderr
    listed = run("--json", "photos", url=stack.url, token=token)
    assert one_object(listed) == {"photos": []}


def test_a_stopped_service_is_one_line_and_its_own_exit_code() -> None:
    # Given a URL where nothing listens (the service is not running)
    url = closed_port_url()

    # When the user runs commands against it
    listing = run("photos", url=url, token="t")
    as_json = run("delete", str(uuid.uuid4()), "--json", url=url, token="t")

    # Then each says so in one line, exits 3 (not 1: refused, nor 2: usage), no traceback
    assert listing.returncode == 3
    assert listing.stderr == f"profile-photos: cannot reach {url}: is the service running?\n"
    assert as_json.returncode == 3
    assert as_json.stderr == listing.stderr
    assert one_object(as_json) == {
        "error": {
            "code": "NETWORK_ERROR",
            "message": f"cannot reach {url}: is the service running?",
            "status": None,
        }
    }


def test_version() -> None:
    done = run("--version", url=None, token=None)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"profile-photos {version('profile-photos-client')}\n"


def test_download_the_current_photo_or_one_by_id_in_a_size(
    stack: RunningStack, tmp_path: Path
) -> None:
    # Given a user with two photos (the second is current)
    token = make_token("cli-download", "Download")
    first, second = tmp_path / "first.png", tmp_path / "second.jpg"
    first.write_bytes(images.png_bytes())
    second.write_bytes(images.jpeg_bytes())
    ids = []
    for photo in (first, second):
        uploaded = run("upload", str(photo), "-q", "--json", url=stack.url, token=token)
        assert uploaded.returncode == 0, uploaded.stderr
        ids.append(str(one_object(uploaded)["asset_id"]))
    work = tmp_path / "work"
    work.mkdir()

    # When they download the current photo, an older one by id, a rendition, and to stdout
    current = run("download", url=stack.url, token=token, cwd=work)
    by_id = run("download", ids[0], "-o", str(tmp_path / "old.png"), url=stack.url, token=token)
    small = run("download", "--size", "small", "--json", url=stack.url, token=token, cwd=work)
    piped = run_binary("download", ids[0], "-o", "-", url=stack.url, token=token)

    # Then each writes the photo the service stores, named as it stores it by default
    assert current.returncode == 0, current.stderr
    written = work / f"{ids[1]}.jpg"
    assert current.stdout == (
        f"downloaded {written} ({len(second.read_bytes())} bytes, image/jpeg)\n"
    )
    assert written.read_bytes() == second.read_bytes()
    assert by_id.returncode == 0, by_id.stderr
    assert (tmp_path / "old.png").read_bytes() == first.read_bytes()
    assert small.returncode == 0, small.stderr
    result = one_object(small)
    assert (result["photo_size"], result["content_type"]) == ("SMALL", "image/webp")
    with Image.open(Path(str(result["path"]))) as rendition:
        assert rendition.format == "WEBP"
        assert max(rendition.size) <= 128
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout == first.read_bytes()
    assert not list(tmp_path.rglob("*.part"))


def test_download_of_a_photo_that_is_not_there_is_a_refusal(
    stack: RunningStack, tmp_path: Path
) -> None:
    token = make_token("cli-nothing", "Nothing")
    unknown = str(uuid.uuid4())

    no_current = run("download", url=stack.url, token=token, cwd=tmp_path)
    no_such = run("download", unknown, "--json", url=stack.url, token=token, cwd=tmp_path)
    bad_size = run("download", "--size", "HUGE", "--json", url=stack.url, token=token)

    assert no_current.returncode == 1
    assert no_current.stderr == "profile-photos: NOT_FOUND: You have no profile photo\n"
    assert no_such.returncode == 1
    error = one_object(no_such)["error"]
    assert error["code"] == "NOT_FOUND"
    assert unknown in error["message"]
    assert bad_size.returncode == 2
    assert one_object(bad_size)["error"]["code"] == "USAGE_ERROR"
    assert list(tmp_path.iterdir()) == []


def test_graphql_errors_print_their_message(stack: RunningStack) -> None:
    # Given a photo id the user never had
    unknown = str(uuid.uuid4())
    token = make_token("cli-graphql", "Graphql")

    # When they delete it
    done = run("delete", unknown, url=stack.url, token=token)
    as_json = run("delete", unknown, "--json", url=stack.url, token=token)

    # Then the service's message is printed, without a meaningless "HTTP 200"
    assert done.returncode == 1
    assert done.stderr == f"profile-photos: NOT_FOUND: Photo {unknown} not found\n"
    assert as_json.returncode == 1
    assert one_object(as_json) == {
        "error": {"code": "NOT_FOUND", "message": f"Photo {unknown} not found", "status": 200}
    }


def test_json_is_one_object_per_command_on_success_and_failure(
    stack: RunningStack, tmp_path: Path
) -> None:
    token = make_token("cli-json", "Json")
    photo = tmp_path / "me.png"
    photo.write_bytes(images.png_bytes())

    uploaded = run("--json", "upload", str(photo), url=stack.url, token=token)
    url = run("--json", "url", "cli-json", url=stack.url, token=token)
    photos = run("--json", "photos", url=stack.url, token=token)
    refused = run("--json", "photos", url=stack.url, token="not-a-jwt")
    usage = run("--json", "frobnicate", url=stack.url, token=token)

    assert uploaded.returncode == 0, uploaded.stderr
    asset_id = one_object(uploaded)["asset_id"]
    assert url.returncode == 0, url.stderr
    assert one_object(url)["user"] == "cli-json"
    assert "?token=" in one_object(url)["url"]
    assert [p["asset_id"] for p in one_object(photos)["photos"]] == [asset_id]
    assert refused.returncode == 1
    assert one_object(refused)["error"]["code"] == "UNAUTHORIZED"
    assert one_object(refused)["error"]["status"] == 401
    assert usage.returncode == 2
    assert one_object(usage)["error"]["code"] == "USAGE_ERROR"
    assert "invalid choice: 'frobnicate'" in usage.stderr


def test_bash_completes_commands_options_and_values(tmp_path: Path) -> None:
    (tmp_path / "photos-dir").mkdir()
    (tmp_path / "photo.png").write_bytes(b"")

    assert complete("profile-photos d", cwd=tmp_path) == ["delete", "download"]
    assert complete("profile-photos download --size M", cwd=tmp_path) == ["MEDIUM"]
    assert complete("profile-photos upload --j", cwd=tmp_path) == ["--json"]
    assert complete("profile-photos upload ph", cwd=tmp_path) == ["photo.png", "photos-dir"]
    assert complete("profile-photos export ph", cwd=tmp_path) == ["photos-dir"]
    assert complete("profile-photos completion ", cwd=tmp_path) == ["bash", "zsh"]


def test_zsh_completion_is_the_same_function_through_bashcompinit() -> None:
    zsh = run("completion", "zsh", url=None, token=None)

    assert zsh.returncode == 0, zsh.stderr
    assert "bashcompinit && bashcompinit" in zsh.stdout
    body = bash_script().split("\n", 1)[1]  # past the first line, which names the shell
    assert zsh.stdout.endswith(body)


# --- avatars: --crop, set-crop, --square --------------------------------------------------


def two_colour_png(path: Path) -> Path:
    """A 240 x 160 blue PNG with a red 100 px square at (40, 10)."""
    picture = Image.new("RGB", (240, 160), (20, 40, 220))
    picture.paste((220, 20, 20), (40, 10, 140, 110))
    picture.save(path, "PNG")
    return path


def rendered_photo(url: str, token: str, asset_id: str) -> dict[str, Any]:
    """`photos --json`'s entry for `asset_id` once the service has made its renditions (its
    crop and placeholders are null until then, normally for a second or two)."""
    for _ in range(240):
        listed = run("--json", "photos", url=url, token=token)
        assert listed.returncode == 0, listed.stderr
        found = [p for p in one_object(listed)["photos"] if p["asset_id"] == asset_id]
        assert found, listed.stdout
        if found[0]["thumbhash"] is not None:
            return found[0]
        time.sleep(0.25)
    raise AssertionError(f"{asset_id} was never rendered")


def test_upload_with_a_crop_then_set_crop_from_the_shell(
    stack: RunningStack, tmp_path: Path
) -> None:
    token = make_token("cli-crop", "Crop")
    photo = two_colour_png(tmp_path / "two.png")

    # When the user uploads with their own crop
    uploaded = run("upload", str(photo), "--crop", "140,60,100", "-q", url=stack.url, token=token)

    # Then the photo's crop is theirs, and `photos` lists it
    assert uploaded.returncode == 0, uploaded.stderr
    asset_id = uploaded.stdout.split()[1]
    listed = rendered_photo(stack.url, token, asset_id)
    assert listed["crop"] == {"left": 140, "top": 60, "side": 100, "source": "USER"}
    assert (listed["width"], listed["height"]) == (240, 160)
    plain = run("photos", url=stack.url, token=token)
    assert plain.stdout.rstrip("\n").endswith("crop 140,60,100 USER")

    # When they ask for square URLs, then set another crop
    small = run("url", "cli-crop", "--size", "small", "--square", url=stack.url, token=token)
    before = run("url", "cli-crop", "--size", "medium", "--square", url=stack.url, token=token)
    changed = run("set-crop", asset_id, "40,10,100", url=stack.url, token=token)
    after = run("url", "cli-crop", "--size", "medium", "--square", url=stack.url, token=token)

    # Then the square URL is a small square's, and set-crop prints the crop and the new URL
    assert small.returncode == before.returncode == after.returncode == 0
    assert re.search(r"\.small\.sq\d+\.webp\?token=", small.stdout)
    assert changed.returncode == 0, changed.stderr
    line, new_url = changed.stdout.splitlines()
    assert line == f"crop of {asset_id}: 40,10,100 (USER)"
    assert urlsplit(new_url).path != urlsplit(before.stdout.strip()).path
    assert urlsplit(new_url).path == urlsplit(after.stdout.strip()).path
    # and the new square is the red one: 100 x 100 (never upscaled), red at its centre
    with Image.open(BytesIO(requests.get(new_url, timeout=30).content)) as served:
        assert (served.format, served.size) == ("WEBP", (100, 100))
        pixel = served.convert("RGB").getpixel((50, 50))
    assert isinstance(pixel, tuple)
    assert pixel[0] > 150 > pixel[2]


def test_a_bad_crop_exits_non_zero_with_the_services_message(
    stack: RunningStack, tmp_path: Path
) -> None:
    token = make_token("cli-bad-crop", "Bad")
    photo = two_colour_png(tmp_path / "two.png")
    auth = {"Authorization": f"Bearer {token}"}

    # A crop outside the photo: the service's 400, as it says it, and nothing stored
    outside = run("upload", str(photo), "--crop", "200,0,100", "-q", url=stack.url, token=token)
    direct = requests.post(
        f"{stack.url}/api/storage/profile-photo/upload",
        headers=auth,
        files={"file": ("two.png", photo.read_bytes(), "image/png")},
        data={"crop": "200,0,100"},
        timeout=30,
    )
    assert direct.status_code == 400
    message = direct.json()["error"]["message"]
    assert outside.returncode == 1
    assert outside.stderr == f"profile-photos: VALIDATION_FAILED (HTTP 400): {message}\n"
    assert one_object(run("--json", "photos", url=stack.url, token=token)) == {"photos": []}

    # A side below 32 later on: GraphQL's refusal, printed with its message
    uploaded = run("--json", "upload", str(photo), "-q", url=stack.url, token=token)
    asset_id = one_object(uploaded)["asset_id"]
    framed = rendered_photo(stack.url, token, asset_id)["crop"]
    small = run("--json", "set-crop", asset_id, "0,0,31", url=stack.url, token=token)
    assert small.returncode == 1
    error = one_object(small)["error"]
    assert error["code"] == "BAD_USER_INPUT"
    assert "32" in error["message"]
    assert small.stderr == f"profile-photos: BAD_USER_INPUT: {error['message']}\n"
    assert rendered_photo(stack.url, token, asset_id)["crop"] == framed

    # Not three numbers, or a square of the original: usage errors, nothing sent
    shapeless = run("set-crop", asset_id, "0,0", url=stack.url, token=token)
    original = run("url", "cli-bad-crop", "--square", url=stack.url, token=token)
    assert shapeless.returncode == 2
    assert "a crop is LEFT,TOP,SIDE in pixels" in shapeless.stderr
    assert original.returncode == 2
    assert "a square comes in SMALL, MEDIUM, LARGE, not ORIGINAL" in original.stderr
    assert "Traceback" not in shapeless.stderr + original.stderr + small.stderr + outside.stderr


def test_help_names_the_crop_and_the_square() -> None:
    upload = run("upload", "--help", url=None, token=None)
    set_crop = run("set-crop", "--help", url=None, token=None)
    download = run("download", "--help", url=None, token=None)

    assert upload.returncode == set_crop.returncode == download.returncode == 0
    assert "--crop L,T,S" in upload.stdout
    assert "usage: profile-photos set-crop" in set_crop.stdout
    assert "L,T,S" in set_crop.stdout
    assert "--square" in download.stdout
    assert "set-crop" in run("--help", url=None, token=None).stdout
