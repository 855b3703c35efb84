"""`make dev`: the whole service on one machine, in one foreground process.

Parts: the HTTP API routed from `template.yaml` (devstack.server), warm worker processes per
function (devstack.pool), an embedded DynamoDB with the template's tables and state kept in
`$DEV_DATA_DIR` (devstack.dynamo), stream pollers for the functions the template subscribes
(devstack.streams), and LOCAL object storage under `$DEV_DATA_DIR/object-storage`.
Ctrl-C or SIGTERM stops everything: workers, pollers, the database (after a final save).

One stack per data dir and per address: before anything in `$DEV_DATA_DIR` is read or
written, the stack binds its API's address and locks the dir (devstack.datalock); a second
stack on either exits 1 with one line saying which, and how to start another beside it. The
console shows a line per request and per problem, the log file the rest (devstack.console).

One file: the start and stop order (lock, database, housekeeping, workers, pollers, API, then
the reverse) and the environment each function is given are one sequence; each part it
starts lives in its own module.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from devkit.defaults import DEV_JWT_SECRET, DEV_STORAGE_SECRET, LOCAL_STACK_ENV
from devkit.template import ROOT, load_template
from devkit.token import make_token
from devstack.console import LOG_FILE, StackLogging, console_level, function_output
from devstack.datalock import DataDirLock, data_dir_refusal, holder, port_refusal, shown
from devstack.dynamo import EmbeddedDynamo
from devstack.functions import LocalFunction, load_functions
from devstack.lambda_api import LambdaApi
from devstack.pool import FunctionPool
from devstack.server import LocalApi
from devstack.streams import Invoke, StreamPoller, start_pollers
from profile_photos.renditions import SIZES, rendition_key
from profile_photos.settings import SettingsError, load_settings
from profile_photos.store.storage.base import BUCKETS

log = logging.getLogger("devstack")
STAGED_UPLOAD_LIFETIME = 15 * 60  # the life of an upload-url grant
SAMPLE_PHOTO = Path(__file__).with_name("sample-photo.jpg")
# Where a running stack says where it is, for local tools (devstack/redrive.py).
RUNTIME_FILE = "devstack.json"
# Development defaults, used only where the environment has no value. Public: never deploy.
DEV_SECRETS = {"JWT_SECRET": DEV_JWT_SECRET, "LOCAL_STORAGE_SECRET": DEV_STORAGE_SECRET}
# Only for the embedded moto server, which listens on 127.0.0.1 whatever HOST says: not
# exposed by HOST, so not part of the rule below.
DEV_R2 = {"R2_ACCESS_KEY_ID": "local-r2-key", "R2_SECRET_ACCESS_KEY": "local-r2-secret"}


def is_loopback(host: str) -> bool:
    """Whether binding `host` keeps the API on this machine: `localhost` and literal loopback
    addresses (127.0.0.0/8, ::1, ::ffff:127.x.x.x) only. A host name is never resolved: `HOST`
    is often set by something else (tcsh sets it to the machine's name), and a name that
    resolves to loopback here (Debian's 127.0.1.1) may not elsewhere, so any other name, like
    0.0.0.0 or a LAN address, counts as exposed."""
    if host.lower() == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return address.is_loopback


def public_defaults(environ: dict[str, str]) -> list[str]:
    """The secrets the stack would run with at their public development value: unset, empty,
    or set to that very value (as in events/local-env.json)."""
    return sorted(k for k, dev in DEV_SECRETS.items() if (environ.get(k) or dev) == dev)


def exposure_refusal(host: str, environ: dict[str, str]) -> str | None:
    """Why the stack must not listen on `host` with this environment, or None when it may."""
    names = public_defaults(environ)
    if is_loopback(host) or not names:
        return None
    if len(names) == 1:
        secrets = f"{names[0]} still has its public development default"
        fix = "Set it in the environment (at least 32 characters)"
    else:
        secrets = " and ".join(names) + " still have their public development defaults"
        fix = "Set them in the environment (at least 32 characters each)"
    return (
        f"refusing to start: HOST={host} exposes the local stack beyond this machine, but"
        f" {secrets} (devkit/defaults.py: anyone can sign tokens and URLs with them)."
        f" {fix}, or use HOST=127.0.0.1."
    )


class LocalStack:
    def __init__(self, environ: dict[str, str] | None = None) -> None:
        self.environ = dict(os.environ if environ is None else environ)
        self.host = self.environ.get("HOST") or "127.0.0.1"
        self.port = int(self.environ.get("PORT") or 3000)
        self.data_dir = Path(self.environ.get("DEV_DATA_DIR") or "./data").absolute()
        self.template = load_template()
        self.functions = load_functions(self.template)
        self.dynamo = EmbeddedDynamo(self.data_dir, self.template)
        self.pools: dict[str, FunctionPool] = {}
        self.pollers: list[StreamPoller] = []
        self.stopping = threading.Event()
        self.defaults_used: list[str] = []
        self.removed_staged = 0
        self.removed_orphans = 0
        self.emulate_limits = self.environ.get("LOCAL_EMULATE_LAMBDA_LIMITS", "") in ("1", "true")
        self.lock = DataDirLock(self.data_dir)
        self.log_file: Path | None = None  # where the console's quiet lines are in full
        self.api: LocalApi | None = None
        self.lambda_api = LambdaApi({f.name for f in self.functions}, self._invoke)
        self.lambda_thread: threading.Thread | None = None

    # -- environment -------------------------------------------------------------------------

    def function_environment(self, function: LocalFunction) -> dict[str, str]:
        """Template env < local defaults < process env; AWS endpoints always local."""
        env = dict(function.environment)
        env["OBJECT_STORAGE_PROVIDER"] = "LOCAL"  # the template's R2 default is for AWS
        env["LOCAL_STORAGE_BASE_PATH"] = str(self.data_dir / "object-storage")
        env["DEV_DATA_DIR"] = str(self.data_dir)
        env.update(DEV_SECRETS | LOCAL_STACK_ENV)
        if (self.environ.get("OBJECT_STORAGE_PROVIDER") or "").upper() == "R2" and not (
            self.environ.get("R2_ENDPOINT_URL") or self.environ.get("R2_ACCOUNT_ID")
        ):
            # R2 without an endpoint: the embedded moto server stands in for R2.
            env |= DEV_R2 | {
                "R2_ENDPOINT_URL": self.dynamo.endpoint,
                "R2_USER_ASSETS_BUCKET": "user-assets",
                "R2_APP_ASSETS_BUCKET": "app-assets",
            }
        env |= {k: v for k, v in self.environ.items() if v != ""}
        env |= {
            "AWS_ENDPOINT_URL_DYNAMODB": self.dynamo.endpoint,
            "AWS_ENDPOINT_URL_DYNAMODB_STREAMS": self.dynamo.endpoint,
            "AWS_ENDPOINT_URL_LAMBDA": self.lambda_api.endpoint,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_REGION": "eu-west-1",
            "AWS_DEFAULT_REGION": "eu-west-1",
            "AWS_LAMBDA_FUNCTION_NAME": function.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size),
            "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon here
            "PYTHONUNBUFFERED": "1",
        }
        env.pop("AWS_PROFILE", None)
        env.pop("AWS_SESSION_TOKEN", None)
        return env

    # -- lifecycle ---------------------------------------------------------------------------

    def exposure_refusal(self) -> str | None:
        return exposure_refusal(self.host, self.environ)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def claim(self) -> str | None:
        """Bind the API's address and lock the data dir, or say in one line why not (another
        stack holds the dir, or another program the port). A refusal leaves nothing bound or
        held, and nothing in the dir created or changed: a held dir is seen without writing
        to it, and the port is bound before the dir is created. Listening starts at the end
        of `start`; until then a connection is refused, as before the stack existed."""
        running = holder(self.data_dir)
        if running is not None:
            return data_dir_refusal(self.data_dir, running, self.host)
        api = LocalApi(
            (self.host, self.port),
            self.functions,
            lambda function, event, request_id: self._invoke(function.name, event, request_id),
            emulate_lambda_limits=self.emulate_limits,
            bind_and_activate=False,
        )
        try:
            api.server_bind()
        except OSError as exc:
            api.server_close()
            return port_refusal(self.host, self.port, exc)
        self.port = api.server_address[1]
        record = {"pid": os.getpid(), "api": self.url, "dataDir": str(self.data_dir)}
        running = self.lock.acquire(record)
        if running is not None:  # another stack locked it since `holder` looked
            api.server_close()
            return data_dir_refusal(self.data_dir, running, self.host)
        self.api = api
        return None

    def start(self) -> None:
        refusal = self.exposure_refusal() or (self.claim() if self.api is None else None)
        if refusal:
            raise SystemExit(refusal)
        assert self.api is not None
        self.removed_staged = remove_stale_staged_uploads(self.data_dir / "object-storage")
        self.dynamo.start()
        if (self.environ.get("OBJECT_STORAGE_PROVIDER") or "LOCAL").upper() != "R2":
            self.removed_orphans = remove_orphan_photo_files(
                self.data_dir / "object-storage", self.dynamo
            )
        self.defaults_used = public_defaults(self.environ)
        for function in self.functions:
            env = self.function_environment(function)
            try:
                load_settings(env)
            except SettingsError as exc:
                raise SystemExit(f"{function.name}: {exc}") from None
            if env.get("OBJECT_STORAGE_PROVIDER", "").upper() == "R2":
                self._ensure_buckets(env)
            self.pools[function.name] = FunctionPool(function, env, function_output)
        self.lambda_thread = threading.Thread(target=self.lambda_api.serve_forever, daemon=True)
        self.lambda_thread.start()
        self._start_pollers()
        self.api.server_activate()

    def _invoke(self, name: str, event: Any, request_id: str | None = None) -> Any:
        """Every invocation (the API's, the stream pollers', Lambda's Invoke API): a warm
        worker of the function, then the changed tables saved soon after."""
        try:
            return self.pools[name].invoke(event, request_id)
        finally:
            self.dynamo.mark_dirty()

    def _start_pollers(self) -> None:
        def invoker(function: LocalFunction) -> Invoke:
            return lambda event: self._invoke(function.name, event)

        failures = self.data_dir / "stream-failures.jsonl"
        self.pollers += start_pollers(self.dynamo, self.functions, invoker, failures, self.stopping)

    def _ensure_buckets(self, env: dict[str, str]) -> None:
        if env.get("R2_ENDPOINT_URL") != self.dynamo.endpoint:
            return
        s3 = self.dynamo.client("s3")
        existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
        for name in ("user-assets", "app-assets"):
            if name not in existing:
                s3.create_bucket(
                    Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
                )

    def serve_forever(self) -> None:
        assert self.api is not None
        self.api.serve_forever(poll_interval=0.2)

    def stop(self) -> None:
        self.stopping.set()
        if self.api is not None:
            self.api.server_close()
        if self.lambda_thread is not None:
            self.lambda_api.shutdown()
        self.lambda_api.server_close()
        deadline = time.monotonic() + 5  # for all pollers together: one may be mid-batch
        for poller in self.pollers:
            poller.join(timeout=max(0.0, deadline - time.monotonic()))
        closers = [threading.Thread(target=pool.close) for pool in self.pools.values()]
        for closer in closers:  # every function's workers stop at the same time
            closer.start()
        for closer in closers:
            closer.join()
        if self.dynamo.endpoint:  # started: its final save (never an empty one)
            self.dynamo.stop()
        self.lock.release()

    def banner(self) -> str:
        url = self.url
        token = make_token("demo-user", "demo")
        lines = [
            "profile-photos local stack",
            f"  API        {url}   (routes from template.yaml)",
            f"  Data       {self.data_dir}",
            f"             files in {self.data_dir / 'object-storage'},"
            f" tables in {self.dynamo.snapshot.name}",
            f"  DynamoDB   {self.dynamo.endpoint}   (embedded moto, streams on)",
            "  Functions  " + ", ".join(f.name for f in self.functions),
        ]
        if self.log_file is not None:
            lines.append(
                f"  Logs       {shown(self.log_file)}   (the functions' logs and metrics, the"
                " stack's detail; LOG_LEVEL=DEBUG prints them here too)"
            )
        if self.emulate_limits:
            lines.append(
                "  Limits     LOCAL_EMULATE_LAMBDA_LIMITS=1: requests and responses over"
                " Lambda's 6 MB (after base64) get 413 / 502, as on AWS"
            )
        if self.removed_staged:
            lines.append(f"  Cleanup    removed {self.removed_staged} stale staged upload(s)")
        if self.dynamo.replayed:
            lines.append(f"  Recovery   replayed {self.dynamo.replayed} journaled write(s)")
        if self.removed_orphans:
            lines.append(
                f"  Cleanup    removed {self.removed_orphans} photo file(s) no row names "
                "(an upload or erasure cut short)"
            )
        if self.defaults_used:
            lines.append(
                "  Secrets    DEVELOPMENT DEFAULTS for "
                + ", ".join(self.defaults_used)
                + " (public values: set them in the environment for anything real)"
            )
        lines += [
            "",
            "Upload a photo (token for user demo-user, valid 24 h):",
            f"  curl -s -H 'Authorization: Bearer {token}' \\",
            f"    -F 'file=@{SAMPLE_PHOTO}' {url}/api/storage/profile-photo/upload",
            "Then open the uploadUrl from the answer. More tokens:"
            " make token USER=<id> NAME=<username>",
            "Below: a line per request (method, path, status, time, function) and per"
            " problem. Ctrl-C stops everything.",
        ]
        return "\n".join(lines)


def advertise(stack: LocalStack) -> Path:
    """Write `$DEV_DATA_DIR/devstack.json` (pid, API URL, DynamoDB endpoint) so local tools
    such as `make redrive ENV=local` can work on the running stack's tables, and save the
    tables when one of them signals SIGUSR1 after writing (the stack saves after its own
    invocations only). The caller removes the file on the way out."""
    signal.signal(signal.SIGUSR1, lambda *_: stack.dynamo.mark_dirty())
    path = stack.data_dir / RUNTIME_FILE
    runtime = {
        "pid": os.getpid(),
        "api": f"http://{stack.host}:{stack.port}",
        "dynamodb": stack.dynamo.endpoint,
    }
    path.write_text(json.dumps(runtime) + "\n")
    return path


def remove_stale_staged_uploads(root: Path, max_age: float = STAGED_UPLOAD_LIFETIME) -> int:
    """Direct uploads never completed within their URL's life are removed on the next run
    (on R2, a lifecycle rule on the staging prefix does this: `make r2-lifecycle`)."""
    removed = 0
    cutoff = time.time() - max_age
    for tree in (root / "user-assets" / "staging", root / ".metadata" / "user-assets" / "staging"):
        for path in tree.rglob("*") if tree.exists() else ():
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink()
                removed += path.suffix != ".json"
    return removed


def remove_orphan_photo_files(root: Path, dynamo: EmbeddedDynamo) -> int:
    """Files under a user's `profile-picture/` prefix that no photo row names, with their
    metadata and any temporary file of a write cut short, removed on start (before anything
    serves): what an upload or an erasure that the stack was killed in the middle of leaves.
    A photo row names its file and the renditions of it; no client was ever told of a file
    without a row (the row is written after the file, and journaled before the answer)."""
    named: set[Path] = set()
    scan = (
        dynamo.client()
        .get_paginator("scan")
        .paginate(
            TableName=dynamo.tables["PhotosTable"],
            ProjectionExpression="#bucket, fileKey, cropVersion",
            ExpressionAttributeNames={"#bucket": "bucket"},
        )
    )
    for item in (item for page in scan for item in page["Items"]):
        bucket, key = item["bucket"]["S"], item["fileKey"]["S"]
        version = int(item.get("cropVersion", {}).get("N", 0))
        named.add(root / bucket / key)
        for size in SIZES:
            named.add(root / bucket / rendition_key(key, size))
            named.add(root / bucket / rendition_key(key, size, square=True, crop_version=version))
    removed = 0
    for bucket in BUCKETS:
        for path in (root / bucket / "users").glob("*/profile-picture/*"):
            if path.is_file() and path not in named:
                path.unlink()
                sidecar = root / ".metadata" / bucket / f"{path.relative_to(root / bucket)}.json"
                sidecar.unlink(missing_ok=True)
                removed += not path.name.startswith(".upload-")
    return removed


def main() -> None:
    level = console_level(dict(os.environ))
    if isinstance(level, str):
        sys.exit(level)
    logs = StackLogging(level)

    def terminate(*_: object) -> None:
        raise KeyboardInterrupt

    # Both explicitly: a shell that starts a job in the background hands it SIGINT ignored,
    # and Python then never raises KeyboardInterrupt for Ctrl-C.
    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGINT, terminate)
    os.chdir(ROOT)
    stack = LocalStack()
    # before anything starts, listens or touches the data dir: a message, status 1
    refusal = stack.exposure_refusal() or stack.claim()
    if refusal:
        sys.exit(refusal)
    logs.attach_file(stack.data_dir / LOG_FILE)
    stack.log_file = logs.log_file
    log.info("local stack (pid %d) on %s with %s", os.getpid(), stack.url, stack.data_dir)
    runtime: Path | None = None
    try:
        stack.start()
        runtime = advertise(stack)
        print(stack.banner(), flush=True)
        print(f"Ready on http://{stack.host}:{stack.port}", flush=True)
        stack.serve_forever()
    except KeyboardInterrupt:
        print("\nstopping...", flush=True)
    finally:
        if runtime is not None:
            runtime.unlink(missing_ok=True)
        stack.stop()
        print("stopped", flush=True)
        logs.close()
