"""The container test's driver (run by tools/sam_local/run_test.sh, i.e. `make sam-local-test`).

Starts the SAM mode's backing services (devstack.sam) in this process, `sam local
start-lambda` and `sam local start-api` as children, then over loopback only:
1. the local stack's quick start through start-api: upload, signed GET of the answer's
   uploadUrl, GraphQL `user(id)`, and retention through the stream mapping (7 uploads end
   with the 5 newest active and 7 in the export);
2. every sample in `events/` under `sam local invoke -e`, each answering as its name says.
Everything it started is stopped however it ends. Needs dockerd running and `sam build` done.
"""

from __future__ import annotations

import argparse
import base64
import concurrent.futures
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from devkit.template import ROOT
from devkit.token import make_token
from devstack.sam import (
    SAMPLE_KEY as SEEDED_KEY,
)
from devstack.sam import (
    SamBacking,
    sam_command,
    sam_local_args,
    sam_services,
    seed,
)
from devstack.stack import SAMPLE_PHOTO
from testkit.events import SAMPLE_KEY

EVENTS = ROOT / "events"
UPLOAD = "/api/storage/profile-photo/upload"
# Which function each sample event is for, by its name's prefix.
FUNCTIONS = {
    "upload-": "UploadFunction",
    "signed-fetch-": "SignedFetchFunction",
    "graphql-": "GraphQLFunction",
    "retention-": "RetentionFunction",
}
# (status, error code or None) for every sample; a sample not listed (a new one) must at
# least not fail on the server side (no 5xx, no INTERNAL_SERVER_ERROR).
EXPECTED: dict[str, tuple[int, str | None]] = {
    **{f"upload-valid-{e}": (201, None) for e in ("jpg", "png", "gif", "webp", "heic", "heif")},
    **{
        f"upload-{case}": (400, "VALIDATION_FAILED")
        for case in (
            "oversize",
            "empty-file",
            "missing-file",
            "bad-asset-context",
            "broken-multipart",
            "wrong-content-type",
        )
    },
    "upload-bmp": (415, "VALIDATION_FAILED"),
    "upload-mismatch": (415, "VALIDATION_FAILED"),
    **{
        f"upload-{case}": (401, "UNAUTHORIZED")
        for case in ("no-token", "bad-token", "expired-token", "alg-none-token", "bad-subject")
    },
    "signed-fetch-get": (200, None),
    "signed-fetch-head": (200, None),
    **{
        f"signed-fetch-{case}": (403, "FORBIDDEN")
        for case in ("expired", "tampered", "missing-token", "other-path", "put-token", "alg-none")
    },
    "signed-fetch-not-found": (404, "NOT_FOUND"),
    "signed-fetch-traversal": (404, "NOT_FOUND"),
    "graphql-no-token": (401, "UNAUTHORIZED"),
    "graphql-other-user-photos": (200, "FORBIDDEN"),  # a GraphQL error, HTTP 200
    **{
        f"graphql-{case}": (200, None)
        for case in ("user", "me-photos", "restore", "delete", "delete-all", "export")
    },
}
# More than Lambda's 6 MB invoke payload once base64-encoded: on AWS the platform refuses it
# (API Gateway 413) before the function runs; SAM's emulator refuses it too.
PAYLOAD_TOO_LARGE = {"upload-oversize"}
# One per function also goes through the `sam local invoke` command line itself.
VIA_CLI = ("upload-valid-jpg", "signed-fetch-get", "graphql-user", "retention-batch")
# These change the seeded photo: each runs alone, after a fresh seed.
DESTRUCTIVE = ("graphql-restore", "graphql-delete", "graphql-delete-all")


class Failure(AssertionError):
    pass


def check(condition: bool, message: str) -> None:
    if not condition:
        raise Failure(message)


def step(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            started = time.monotonic()
            print(f"-- {name}", flush=True)
            result = fn(*args, **kwargs)
            print(f"   ok ({time.monotonic() - started:.1f}s)", flush=True)
            return result

        return run

    return wrap


# ------------------------------------------------------------------ 1. the quick start


def auth(user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token(user, user)}"}


def graphql(api: str, user: str, query: str) -> dict[str, Any]:
    response = requests.post(
        f"{api}/graphql", json={"query": query}, headers=auth(user), timeout=90
    )
    check(response.status_code == 200, f"graphql: {response.status_code} {response.text[:300]}")
    body = response.json()
    check("errors" not in body, f"graphql errors: {body.get('errors')}")
    return body["data"]


def upload(api: str, user: str) -> dict[str, Any]:
    response = requests.post(
        f"{api}{UPLOAD}",
        headers=auth(user),
        files={"file": ("photo.jpg", SAMPLE_PHOTO.read_bytes(), "image/jpeg")},
        timeout=90,
    )
    check(response.status_code == 201, f"upload: {response.status_code} {response.text[:300]}")
    return response.json()["data"]


@step("quick start over sam local start-api: upload, signed GET, user(id), retention")
def quick_start(backing: SamBacking, timeout: float) -> None:
    api = backing.api_url
    user = f"sam-e2e-{uuid.uuid4().hex[:8]}"
    photo = SAMPLE_PHOTO.read_bytes()

    first = upload(api, user)
    url = urlsplit(first["uploadUrl"])
    check(url.hostname == "127.0.0.1", f"uploadUrl leaves loopback: {first['uploadUrl']}")
    served = requests.get(first["uploadUrl"], timeout=90)
    check(served.status_code == 200, f"signed GET: {served.status_code} {served.text[:200]}")
    check(served.content == photo, "signed GET served other bytes than were uploaded")
    check(served.headers.get("Content-Type") == "image/jpeg", f"type {served.headers}")

    profile = graphql(api, user, f'{{ user(id: "{user}") {{ id username profilePhotoUrl }} }}')
    check(profile["user"]["username"] == user, f"user(id): {profile}")
    check(bool(profile["user"]["profilePhotoUrl"]), f"user(id) without a photo: {profile}")

    uploaded = [first["assetId"]] + [upload(api, user)["assetId"] for _ in range(6)]
    deadline = time.monotonic() + timeout
    active: list[str] = []
    while time.monotonic() < deadline:
        me = graphql(api, user, "{ me { profilePhotos { assetId } } }")
        active = [p["assetId"] for p in me["me"]["profilePhotos"]]
        if len(active) == 5 and backing.streams_idle():
            break
        time.sleep(2)
    check(active == list(reversed(uploaded[-5:])), f"retention kept {active}, not the 5 newest")
    exported = graphql(
        api, user, "mutation { exportProfilePhotos { count items { assetId archived } } }"
    )["exportProfilePhotos"]
    check(exported["count"] == 7, f"export: {exported}")
    archived = sorted(i["assetId"] for i in exported["items"] if i["archived"])
    check(archived == sorted(uploaded[:2]), f"archived {archived}, expected the 2 oldest")


# ------------------------------------------------------------------ 2. the sample events


def function_for(name: str) -> str:
    for prefix, function in FUNCTIONS.items():
        if name.startswith(prefix):
            return function
    raise Failure(f"no function for events/{name}.json (prefixes: {', '.join(FUNCTIONS)})")


def sam_invoke(backing: SamBacking, image: str | None, name: str, timeout: float) -> Any:
    command = sam_command(
        "local",
        "invoke",
        function_for(name),
        "--event",
        str(EVENTS / f"{name}.json"),
        *sam_local_args(backing, image),
    )
    with tempfile.TemporaryFile() as logs:
        try:
            done = subprocess.run(
                command,
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=logs,
                timeout=timeout,
                env={**os.environ, "SAM_CLI_TELEMETRY": "0"},
                check=False,
                start_new_session=True,
            )
        except subprocess.TimeoutExpired as exc:
            raise Failure(f"{name}: sam local invoke took over {timeout:.0f}s") from exc
        if done.returncode != 0:
            logs.seek(0)
            tail = logs.read().decode(errors="replace")[-1500:]
            raise Failure(f"{name}: sam local invoke exited {done.returncode}\n{tail}")
    # the function's answer is the last line on stdout
    lines = [line for line in done.stdout.decode().splitlines() if line.strip()]
    check(bool(lines), f"{name}: no answer on stdout")
    return json.loads(lines[-1])


def error_code(name: str, answer: dict[str, Any]) -> str | None:
    body = answer.get("body") or ""
    if answer.get("isBase64Encoded"):
        raw = base64.b64decode(body)
        if name.startswith("signed-fetch-") and answer.get("statusCode") == 200:
            return None
        body = raw.decode(errors="replace")
    if not body:
        return None
    try:
        parsed = json.loads(body)
    except ValueError:
        return None
    if isinstance(parsed, dict) and isinstance(parsed.get("error"), dict):
        return parsed["error"].get("code")
    if isinstance(parsed, dict) and parsed.get("errors"):
        return parsed["errors"][0].get("extensions", {}).get("code")
    return None


def lambda_invoke(backing: SamBacking, image: str | None, name: str, timeout: float) -> Any:
    """The event through `sam local start-lambda` (the same containers, warm)."""
    payload = (EVENTS / f"{name}.json").read_text()
    try:
        return backing.invoke_function(function_for(name), json.loads(payload))
    except RuntimeError as exc:  # a function error: its payload is the answer
        return {"errorMessage": str(exc)}
    except Exception as exc:  # the local Lambda service refused the request itself
        return {"errorType": type(exc).__name__, "errorMessage": str(exc)[:300]}


def check_event(name: str, answer: Any) -> str:
    if name in PAYLOAD_TOO_LARGE:
        check(
            isinstance(answer, dict) and "statusCode" not in answer,
            f"{name}: a {len((EVENTS / f'{name}.json').read_bytes())}-byte event reached the"
            f" function ({str(answer)[:200]})",
        )
        return "refused by the emulator: over Lambda's 6 MB payload, as on AWS"
    if name.startswith("retention-"):
        failures = (answer or {}).get("batchItemFailures")
        check(failures == [], f"{name}: batchItemFailures {failures}")
        return "no batch item failures"
    check(isinstance(answer, dict) and "statusCode" in answer, f"{name}: answer {answer!r}")
    status, code = answer["statusCode"], error_code(name, answer)
    if name == "signed-fetch-get":
        check(base64.b64decode(answer["body"]) == SAMPLE_PHOTO.read_bytes(), f"{name}: bytes")
    expected = EXPECTED.get(name)
    if expected is None:
        check(status < 500 and code != "INTERNAL_SERVER_ERROR", f"{name}: {status} {code}")
        return f"{status} {code or ''} (no expectation listed: checked only for no server error)"
    check((status, code) == expected, f"{name}: got {status} {code}, expected {expected}")
    return f"{status} {code or ''}".strip()


@step("every events/*.json through SAM's emulator")
def sample_events(
    backing: SamBacking, image: str | None, workers: int, timeout: float, all_cli: bool
) -> None:
    names = sorted(path.stem for path in EVENTS.glob("*.json") if path.stem != "local-env")
    missing = sorted(set(EXPECTED) - set(names))
    check(not missing, f"expected events missing from events/: {missing}")
    seed(backing.dynamo.endpoint, backing.env_file)
    shared = [name for name in names if name not in DESTRUCTIVE]
    results: dict[str, str] = {}
    failures: list[str] = []

    def run(name: str) -> None:
        cli = all_cli or name in VIA_CLI
        try:
            answer = (sam_invoke if cli else lambda_invoke)(backing, image, name, timeout)
            results[name] = ("sam local invoke  " if cli else "start-lambda      ") + (
                check_event(name, answer)
            )
        except Failure as exc:
            failures.append(str(exc))

    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(run, shared))
    for name in DESTRUCTIVE:
        if name in names:
            seed(backing.dynamo.endpoint, backing.env_file)
            run(name)
    for name in names:
        if name in results:
            print(f"   {name:34} {results[name]}")
    check(not failures, "\n".join(failures))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--invoke-image", default=os.environ.get("SAM_INVOKE_IMAGE", ""))
    parser.add_argument("--logs", type=Path, default=ROOT / ".cache" / "sam-local-test")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--invoke-timeout", type=float, default=120)
    parser.add_argument("--retention-timeout", type=float, default=120)
    parser.add_argument(
        "--all-invoke",
        action="store_true",
        default=os.environ.get("SAM_TEST_ALL_INVOKE") == "1",
        help="every event through `sam local invoke` (a cold container each: ~5 min more)",
    )
    args = parser.parse_args()
    image = args.invoke_image or None
    logging.basicConfig(level=logging.WARNING, format="%(name)s %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's per-request lines

    def terminate(*_: object) -> None:
        raise KeyboardInterrupt  # so every `finally` stops what it started

    signal.signal(signal.SIGTERM, terminate)
    check(SEEDED_KEY == SAMPLE_KEY, "devstack.sam seeds another key than events/ use")
    args.logs.mkdir(parents=True, exist_ok=True)
    for old in args.logs.glob("*.log"):
        old.unlink()
    with tempfile.TemporaryDirectory(prefix="sam-local-test-") as data_dir:
        environ = {
            **os.environ,
            "DEV_DATA_DIR": data_dir,
            "HOST": "127.0.0.1",
            "PORT": os.environ.get("SAM_TEST_PORT", "3310"),
        }
        for name in ("JWT_SECRET", "LOCAL_STORAGE_SECRET"):
            environ.pop(name, None)  # the sample events are signed with the dev secrets
        backing = SamBacking(environ)
        started = time.monotonic()
        try:
            backing.start()
            with sam_services(backing, image, args.logs):
                quick_start(backing, args.retention_timeout)
                sample_events(backing, image, args.workers, args.invoke_timeout, args.all_invoke)
        except Failure as exc:
            print(f"FAIL: {exc}\n(SAM logs: {args.logs})", file=sys.stderr)
            return 1
        finally:
            backing.stop()
        print(f"sam local e2e passed in {time.monotonic() - started:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
