"""`make sam-api`: the local stack's backing services for SAM CLI's own emulator.

One file: `make sam-api`'s one command, the backing services it starts and how SAM's containers
are pointed at them, read together by whoever runs it.

`sam local start-api` / `sam local invoke` run each function in a Lambda container, but
bring no DynamoDB, no stream triggers and no object store. This mode provides them on
127.0.0.1 and points the containers at them:

- **DynamoDB**: the local stack's embedded moto server (devstack.dynamo), tables created
  from the template, streams on. Its state lasts while the mode runs (files do too, and
  moto's S3 keeps nothing on exit): each start is a clean slate.
- **Files**: the same moto server's S3, as the functions' R2 (`OBJECT_STORAGE_PROVIDER=R2`,
  `R2_ENDPOINT_URL`), buckets `user-assets` and `app-assets`. LOCAL storage cannot be shared
  with SAM's containers: SAM mounts nothing writable into them, and each function runs in a
  container of its own, so one function's /tmp is invisible to the next.
- **Streams**: the local stack's event source mapping (devstack.streams: FilterCriteria,
  batches, partial failures, retries, bisection) delivering to the subscribed functions
  through `sam local start-lambda`, i.e. in SAM's containers too.
- **env-vars file** (`$DEV_DATA_DIR/sam-local/env.json`, SAM's format): every variable the
  template gives the functions, tables included (derived from the template: a table added
  there appears here), with the endpoints, fake AWS credentials and development secrets.
- **Seed**: the sample events' photo (testkit.events.SAMPLE_KEY) and its rows, so every
  `events/*.json` succeeds or fails as its name says (`python -m devstack.sam seed` again
  after a `graphql-delete*` event).

SAM runs through tools/sam_local/sam_host_network.py, which makes `--docker-network host`
put the containers on the host's network (SAM CLI 1.170 leaves them on Docker's bridge) and
lets the env-vars file add variables the template does not declare.

Usage: python -m devstack.sam [serve|env|seed]   (`serve`, the default, is `make sam-api`)
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from devkit.defaults import DEV_JWT_SECRET, DEV_STORAGE_SECRET
from devkit.template import ROOT, load_template
from devkit.token import make_token
from devstack.dynamo import EmbeddedDynamo
from devstack.functions import LocalFunction, load_functions
from devstack.stack import DEV_R2, SAMPLE_PHOTO, exposure_refusal, public_defaults
from devstack.streams import Invoke, StreamPoller, start_pollers

log = logging.getLogger("devstack.sam")
TOOLS_PYTHON = ROOT / ".venv-tools" / "bin" / "python"
SAM_WRAPPER = ROOT / "tools" / "sam_local" / "sam_host_network.py"
BUILT_TEMPLATE = ROOT / ".aws-sam" / "build" / "template.yaml"
DEFAULT_IMAGE = "local/lambda-python:3.13"
BUCKETS = ("user-assets", "app-assets")
REGION = "eu-west-1"
# The sample events' photo: user demo-user, asset 0b5c7a36-..., key testkit.events.SAMPLE_KEY
SAMPLE_USER = "demo-user"
SAMPLE_ASSET = "0b5c7a36-3f4e-4c39-9d0e-2f6a4c1e9a01"
OTHER_USER = "someone-else"
SAMPLE_KEY = f"users/{SAMPLE_USER}/profile-picture/{SAMPLE_ASSET}.jpg"


def sam_command(*args: str) -> list[str]:
    """SAM CLI through the host-network wrapper, with the tool venv's Python."""
    return [str(TOOLS_PYTHON), str(SAM_WRAPPER), *args]


def template_environment(
    functions: list[LocalFunction],
) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """The template's variables with parameter defaults: shared ones (same value in every
    function) and per-function ones. A table's `!Ref` resolves to its logical id, which is
    also the name the embedded DynamoDB gives the table."""
    shared: dict[str, str] = {}
    conflicting: set[str] = set()
    for function in functions:
        for key, value in function.environment.items():
            if key in shared and shared[key] != value:
                conflicting.add(key)
            shared.setdefault(key, value)
    per_function = {
        function.name: {k: v for k, v in function.environment.items() if k in conflicting}
        for function in functions
    }
    return {k: v for k, v in shared.items() if k not in conflicting}, {
        name: env for name, env in per_function.items() if env
    }


def secret_variables(environ: dict[str, str]) -> dict[str, str]:
    """Secrets the template takes by dynamic reference: the environment's, else the public
    development defaults (which the sample events are signed with)."""
    return {
        "JWT_SECRET": environ.get("JWT_SECRET") or DEV_JWT_SECRET,
        "LOCAL_STORAGE_SECRET": environ.get("LOCAL_STORAGE_SECRET") or DEV_STORAGE_SECRET,
    }


def env_vars(
    endpoint: str,
    api_url: str,
    environ: dict[str, str],
    template: dict[str, Any] | None = None,
    lambda_url: str | None = None,
) -> dict[str, dict[str, str]]:
    """The `--env-vars` file for `sam local start-api|start-lambda|invoke`."""
    functions = load_functions(template or load_template())
    shared, per_function = template_environment(functions)
    shared |= secret_variables(environ)
    shared |= {
        "OBJECT_STORAGE_PROVIDER": "R2",
        "R2_ENDPOINT_URL": endpoint,
        "R2_ACCOUNT_ID": "",
        "R2_USER_ASSETS_BUCKET": "user-assets",
        "R2_APP_ASSETS_BUCKET": "app-assets",
        **DEV_R2,
        "LOCAL_STORAGE_BASE_URL": f"{api_url}/api/storage",
        # Not in the template (a deployment must never point at a local endpoint): the
        # wrapper adds them. pynamodb, boto3 and Powertools' idempotency layer follow them.
        "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
        "AWS_ENDPOINT_URL_DYNAMODB_STREAMS": endpoint,
        "AWS_ENDPOINT_URL_S3": endpoint,
        # signed fetch invokes the renditions function: through `sam local start-lambda`
        **({"AWS_ENDPOINT_URL_LAMBDA": lambda_url} if lambda_url else {}),
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_SESSION_TOKEN": "",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon here
    }
    return {"Parameters": dict(sorted(shared.items())), **per_function}


class SamBacking:
    """DynamoDB + S3 (moto, loopback), the stream mapping and the env-vars file."""

    def __init__(self, environ: dict[str, str] | None = None) -> None:
        self.environ = dict(os.environ if environ is None else environ)
        self.host = self.environ.get("HOST") or "127.0.0.1"
        self.port = int(self.environ.get("PORT") or 3000)
        self.lambda_port = int(self.environ.get("SAM_LAMBDA_PORT") or self.port + 1)
        data_dir = Path(self.environ.get("DEV_DATA_DIR") or ROOT / "data").absolute()
        self.work_dir = data_dir / "sam-local"
        self.env_file = self.work_dir / "env.json"
        self.template = load_template()
        self.functions = load_functions(self.template)
        self.dynamo = EmbeddedDynamo(self.work_dir, self.template)
        self.stopping = threading.Event()
        self.pollers: list[StreamPoller] = []
        self.lambda_client: Any = None

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def lambda_url(self) -> str:
        return f"http://127.0.0.1:{self.lambda_port}"

    def start(self) -> None:
        refusal = exposure_refusal(self.host, self.environ)
        if refusal:
            raise SystemExit(refusal)
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.dynamo.snapshot.unlink(missing_ok=True)  # files do not survive: nor do rows
        self.dynamo.start()
        s3 = self.dynamo.client("s3")
        for bucket in BUCKETS:
            s3.create_bucket(
                Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION}
            )
        self.write_env_file()
        seed(self.dynamo.endpoint, self.env_file)

    def write_env_file(self) -> None:
        content = env_vars(
            self.dynamo.endpoint, self.api_url, self.environ, self.template, self.lambda_url
        )
        tmp = self.env_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(content, indent=2) + "\n")
        os.replace(tmp, self.env_file)

    def start_streams(self) -> None:
        """The event source mappings, delivering through `sam local start-lambda`."""
        import boto3
        from botocore.config import Config

        self.lambda_client = boto3.client(
            "lambda",
            endpoint_url=self.lambda_url,
            region_name=REGION,
            aws_access_key_id="local",
            aws_secret_access_key="local",  # noqa: S106 - SAM's local Lambda takes any
            config=Config(read_timeout=120, connect_timeout=5, retries={"max_attempts": 0}),
        )

        def invoker(function: LocalFunction) -> Invoke:
            return lambda event: self.invoke_function(function.name, event)

        failures = self.work_dir / "stream-failures.jsonl"
        self.pollers += start_pollers(self.dynamo, self.functions, invoker, failures, self.stopping)

    def invoke_function(self, name: str, event: dict[str, Any]) -> Any:
        response = self.lambda_client.invoke(FunctionName=name, Payload=json.dumps(event))
        payload = response["Payload"].read()
        if response.get("FunctionError"):
            raise RuntimeError(f"{name} failed: {payload[:500]!r}")
        return json.loads(payload) if payload else None

    def streams_idle(self) -> bool:
        return all(poller.idle.is_set() for poller in self.pollers)

    def stop(self) -> None:
        self.stopping.set()
        for poller in self.pollers:
            poller.join(timeout=10)
        with contextlib.suppress(Exception):
            self.dynamo.stop()


def seed(endpoint: str, env_file: Path) -> None:
    """The sample events' photo: the file, its (archived) row and its owner, so that
    signed-fetch-get/head serve it, graphql-user finds the user and graphql-restore/delete
    find the photo. Idempotent: run it again to undo a graphql-delete event."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ[name] = "local"  # moto takes any; never the shell's real credentials
    os.environ.pop("AWS_SESSION_TOKEN", None)
    os.environ.pop("AWS_PROFILE", None)
    import boto3

    from profile_photos.store.models import PhotoModel, UserModel

    env = json.loads(env_file.read_text())["Parameters"]
    data = SAMPLE_PHOTO.read_bytes()
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="local",
        aws_secret_access_key="local",  # noqa: S106 - moto accepts any credentials
    )
    s3.put_object(
        Bucket=env["R2_USER_ASSETS_BUCKET"], Key=SAMPLE_KEY, Body=data, ContentType="image/jpeg"
    )
    PhotoModel.Meta.table_name = env["PHOTOS_TABLE"]
    UserModel.Meta.table_name = env["USERS_TABLE"]
    PhotoModel.Meta.host = UserModel.Meta.host = endpoint
    PhotoModel.Meta.region = UserModel.Meta.region = REGION
    uploaded = "2026-01-01T00:00:00.000Z"
    PhotoModel(
        SAMPLE_USER,
        SAMPLE_ASSET,
        bucket="user-assets",
        file_key=SAMPLE_KEY,
        file_name="sample-photo.jpg",
        content_type="image/jpeg",
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        asset_context="PROFILE_PICTURE",
        uploaded_at=uploaded,
        archived=True,
        archived_at=uploaded,
    ).save()
    # demo-user owns the photo; someone-else is the other user of graphql-other-user-photos
    for user_id, username in ((SAMPLE_USER, "demo"), (OTHER_USER, "someone")):
        try:
            user = UserModel.get(user_id, consistent_read=True)
        except UserModel.DoesNotExist:
            user = UserModel(user_id, username=username, created_at=uploaded)
        user.updated_at = user.updated_at or uploaded
        user.save()


@contextlib.contextmanager
def process(command: list[str], log_path: Path | None = None) -> Iterator[subprocess.Popen]:
    """A child in its own process group, stopped (TERM, then KILL) however the block ends."""
    out = log_path.open("ab") if log_path else None
    child = subprocess.Popen(  # noqa: S603 - our own command line
        command,
        cwd=ROOT,
        stdout=out,
        stderr=subprocess.STDOUT if out else None,
        start_new_session=True,
        env={**os.environ, "SAM_CLI_TELEMETRY": "0"},
    )
    try:
        yield child
    finally:
        stop_process(child)
        if out:
            out.close()


def stop_process(child: subprocess.Popen, grace: float = 20) -> None:
    """SIGINT first: SAM CLI removes its warm containers on Ctrl-C, not on SIGTERM."""
    for sig, wait in ((signal.SIGINT, grace), (signal.SIGTERM, 5), (signal.SIGKILL, 5)):
        if child.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=wait)


def wait_for_port(port: int, timeout: float, child: subprocess.Popen | None = None) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child is not None and child.poll() is not None:
            raise RuntimeError(f"process exited ({child.returncode}) before port {port} opened")
        with socket.socket() as probe:
            probe.settimeout(1)
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.3)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout:.0f}s")


def sam_local_args(backing: SamBacking, image: str | None) -> list[str]:
    args = [
        "--template",
        str(BUILT_TEMPLATE.relative_to(ROOT)),
        "--env-vars",
        str(backing.env_file),
        "--docker-network",
        "host",
        "--region",
        REGION,
    ]
    if image:
        args += ["--invoke-image", image]
        if "." not in image.split("/", 1)[0]:  # a local name (no registry host): never pulled
            args.append("--skip-pull-image")
    return args


@contextlib.contextmanager
def sam_services(
    backing: SamBacking, image: str | None, logs: Path | None = None
) -> Iterator[None]:
    """`sam local start-lambda` (for the stream mapping) and `sam local start-api`, with warm
    containers (one per function, started on first use and reused, as Lambda does)."""
    common = [*sam_local_args(backing, image), "--warm-containers", "LAZY"]
    lambda_cmd = sam_command(
        "local", "start-lambda", "--port", str(backing.lambda_port), "--host", "127.0.0.1", *common
    )
    api_cmd = sam_command(
        "local", "start-api", "--port", str(backing.port), "--host", backing.host, *common
    )
    with (
        process(lambda_cmd, logs / "start-lambda.log" if logs else None) as lambda_proc,
        process(api_cmd, logs / "start-api.log" if logs else None) as api_proc,
    ):
        wait_for_port(backing.lambda_port, 120, lambda_proc)
        wait_for_port(backing.port, 120, api_proc)
        backing.start_streams()
        yield


def banner(backing: SamBacking, image: str | None) -> str:
    token = make_token(SAMPLE_USER, "demo")
    defaults = public_defaults(backing.environ)
    lines = [
        "profile-photos under sam local",
        f"  API        {backing.api_url}   (sam local start-api, each function in a container)",
        f"  Lambda     {backing.lambda_url}   (sam local start-lambda, for the stream mapping)",
        f"  DynamoDB   {backing.dynamo.endpoint}   (embedded moto, streams on; also S3 = R2)",
        f"  Env vars   {backing.env_file}",
        f"  Image      {image or 'public.ecr.aws/lambda/python:3.13 (SAM default)'}",
    ]
    if defaults:
        lines.append("  Secrets    DEVELOPMENT DEFAULTS for " + ", ".join(defaults))
    lines += [
        "",
        "Upload a photo (token for user demo-user, valid 24 h):",
        f"  curl -s -H 'Authorization: Bearer {token}' \\",
        f"    -F 'file=@{SAMPLE_PHOTO}' {backing.api_url}/api/storage/profile-photo/upload",
        "Then open the uploadUrl from the answer. One event at a time, in another shell:",
        f"  .venv-tools/bin/python {SAM_WRAPPER.relative_to(ROOT)} local invoke UploadFunction"
        f" -e events/upload-valid-jpg.json {' '.join(sam_local_args(backing, image))}",
        "Ctrl-C stops everything.",
    ]
    return "\n".join(lines)


def serve(image: str | None) -> None:
    if not BUILT_TEMPLATE.exists():
        raise SystemExit(f"{BUILT_TEMPLATE} missing: run `make build` first")
    backing = SamBacking()

    def terminate(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGINT, terminate)
    try:
        backing.start()
        with sam_services(backing, image):
            print(banner(backing, image), flush=True)
            print(f"Ready on {backing.api_url}", flush=True)
            while True:
                time.sleep(1)
    except KeyboardInterrupt:
        print("\nstopping...", flush=True)
    finally:
        backing.stop()
        print("stopped", flush=True)


def main() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr
    )
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(prog="python -m devstack.sam", description=__doc__)
    parser.add_argument("command", nargs="?", default="serve", choices=["serve", "seed"])
    parser.add_argument(
        "--invoke-image",
        default=os.environ.get("SAM_INVOKE_IMAGE", ""),
        help="Lambda base image (default: SAM's, public.ecr.aws/lambda/python:3.13)",
    )
    args = parser.parse_args()
    os.chdir(ROOT)
    if args.command == "seed":
        env_file = SamBacking().env_file
        if not env_file.exists():
            raise SystemExit(f"{env_file} missing: is `make sam-api` running?")
        endpoint = json.loads(env_file.read_text())["Parameters"]["AWS_ENDPOINT_URL_DYNAMODB"]
        seed(endpoint, env_file)
        print(f"seeded {SAMPLE_KEY} and its rows at {endpoint}")
        return
    serve(args.invoke_image or None)


if __name__ == "__main__":
    main()
