"""What every measurement stands on: moto on loopback, the functions' environment, events,
seeded state, and in-process invocation of the handlers.

The environment is the template's (devstack.functions resolves it with the parameter
defaults), plus the development secrets, plus AWS endpoints pointing at moto. R2 is moto's S3
at the same loopback endpoint (`R2_ENDPOINT_URL`); LOCAL writes under the bench's temporary
folder. Rate limits are raised so that repeated uploads measure the upload, not the 429.

One file: the environment, the seeded items, the events and the in-process `Service` are one
fixture every section stands on; each assumes what the others set up (endpoints, secrets,
tables, tracing before the first import), so they change together.
"""

from __future__ import annotations

import importlib
import os
import secrets
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devkit.context import LambdaContext
from devkit.defaults import DEV_ENV
from devkit.template import create_tables, load_template, table_definitions
from devstack.functions import LocalFunction, load_functions
from testkit.invoke import HttpResult, invoke

ROOT = Path(__file__).resolve().parent.parent
R2_BUCKETS = {"user-assets": "bench-user-assets", "app-assets": "bench-app-assets"}
REGION = "eu-west-1"
BARE_DIR = Path(__file__).resolve().parent / "bare_handler"
BARE = "BareHandler"  # the anchor's name in results


class MotoProcess:
    """`python -m bench.moto_server` as a child process; stopped by closing its stdin."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[str] | None = None
        self.endpoint = ""

    def start(self) -> str:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.moto_server"],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().strip()
        if not line.startswith("PORT "):
            self.stop()
            raise SystemExit(f"bench: moto server did not start ({line!r})")
        self.endpoint = f"http://127.0.0.1:{int(line.split()[1])}"
        return self.endpoint

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.stdin:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None


def unused_udp_port() -> int:
    """A loopback UDP port nobody listens on (bound, read, released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def trace_id() -> str:
    """A sampled `_X_AMZN_TRACE_ID`, as Lambda sets one per invocation."""
    root = f"1-{secrets.token_hex(4)}-{secrets.token_hex(12)}"
    return f"Root={root};Parent={secrets.token_hex(8)};Sampled=1"


def tracing_env(code_dir: Path, daemon_port: int) -> dict[str, str]:
    """What Lambda sets that Powertools and the X-Ray SDK read to decide they run on Lambda
    with tracing active (`Tracing: Active`; see Tracer._is_tracer_disabled, aws_xray_sdk's
    check_in_lambda): segments go over UDP to `daemon_port` on loopback."""
    daemon = f"127.0.0.1:{daemon_port}"
    return {
        "LAMBDA_TASK_ROOT": str(code_dir),
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "_X_AMZN_TRACE_ID": trace_id(),
        "AWS_XRAY_DAEMON_ADDRESS": daemon,
        "_AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1",
        "_AWS_XRAY_DAEMON_PORT": str(daemon_port),
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
    }


def functions() -> dict[str, LocalFunction]:
    return {function.name: function for function in load_functions()}


def aws_env(endpoint: str) -> dict[str, str]:
    """AWS SDK settings: every service at moto's loopback endpoint, dummy credentials."""
    return {
        "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
        "AWS_ENDPOINT_URL_DYNAMODB_STREAMS": endpoint,
        "AWS_ENDPOINT_URL_S3": endpoint,
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",  # moto accepts any credentials
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def function_env(
    function: LocalFunction | None,
    endpoint: str,
    provider: str,
    base_path: Path,
    *,
    tracing: bool = False,
) -> dict[str, str]:
    """The environment a function runs with under the bench (None: the bare anchor). With
    `tracing`, Powertools' Tracer is left to decide as on Lambda (the caller adds what Lambda
    sets: bench/cold.py's `lambda_env`); without, it is disabled."""
    template = {} if function is None else dict(function.environment)
    if function is None:  # the anchor gets the same Powertools settings as the service
        template = {
            k: v
            for k, v in functions()["UploadFunction"].environment.items()
            if k.startswith("POWERTOOLS_")
        }
    env = template | DEV_ENV | aws_env(endpoint)
    env |= {
        "OBJECT_STORAGE_PROVIDER": provider,
        "LOCAL_STORAGE_BASE_PATH": str(base_path),
        "R2_ENDPOINT_URL": endpoint,
        "R2_ACCESS_KEY_ID": "testing",
        "R2_SECRET_ACCESS_KEY": "testing",
        "R2_USER_ASSETS_BUCKET": R2_BUCKETS["user-assets"],
        "R2_APP_ASSETS_BUCKET": R2_BUCKETS["app-assets"],
        # the budget is measured, not the limiter's refusal after 20 uploads of 5 MiB
        "RATE_LIMIT_PER_MINUTE": "100000000",
        "RATE_LIMIT_PER_HOUR": "100000000",
        "POWERTOOLS_TRACE_DISABLED": "false" if tracing else "true",
        "AWS_LAMBDA_FUNCTION_NAME": function.name if function else BARE,
        # the anchor: the Globals' size, as a function without its own MemorySize gets
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(
            (function or functions()["SignedFetchFunction"]).memory_size
        ),
    }
    return {k: v for k, v in env.items() if v != ""}


def create_state(endpoint: str) -> None:
    """Every table of the template (named by logical id, as DEV_ENV names them) and the two
    R2 buckets, on the moto server."""
    import boto3

    dynamodb = boto3.client("dynamodb", endpoint_url=endpoint, **credentials())
    create_tables(dynamodb, {name: name for name in table_definitions(load_template())})
    s3 = boto3.client("s3", endpoint_url=endpoint, **credentials())
    for bucket in R2_BUCKETS.values():
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})


def credentials() -> dict[str, str]:
    """boto3 client arguments for moto: the bench's region, dummy keys."""
    return {
        "region_name": REGION,
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }


# ----------------------------------------------------------------------------------- events


def user_token(user: str, username: str = "bench") -> str:
    from testkit.events import user_token as make

    return make(sub=user, username=username)


def upload_event(
    user: str,
    data: bytes,
    name: str = "photo.jpg",
    mime: str = "image/jpeg",
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    from testkit.events import file_upload

    event: dict[str, Any] = file_upload(f"bench-{uuid.uuid4()}", data, name, mime, user_token(user))
    event["requestContext"]["requestId"] = str(uuid.uuid4())
    if idempotency_key is not None:
        event["headers"]["Idempotency-Key"] = idempotency_key
        event["multiValueHeaders"]["Idempotency-Key"] = [idempotency_key]
    return event


def graphql(user: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    from testkit.events import graphql_event

    return graphql_event(f"bench-{uuid.uuid4()}", query, variables, user_token(user))


def graphql_query(case: str) -> tuple[str, dict[str, Any] | None]:
    """The sample events' queries (testkit/events.py): what the app sends."""
    from testkit.events import GRAPHQL_QUERIES

    query, variables = GRAPHQL_QUERIES[case]
    return query, variables


def signed_get(key: str) -> dict[str, Any]:
    from testkit.events import signed_event, storage_token

    return signed_event(f"bench-{uuid.uuid4()}", storage_token(path=key), key=key)


def stream_event(records: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Records": records}


# ---------------------------------------------------------------------------------- seeding


def iso(second: int) -> str:
    """A fixed, sortable ISO time: 2026-01-01 plus `second` seconds (millisecond precision)."""
    from datetime import UTC, datetime, timedelta

    moment = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=second)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


@dataclass(frozen=True)
class SeededPhoto:
    user: str
    asset_id: str
    file_key: str
    sort_key: str | None  # None: archived


def photo_item(
    user: str, second: int, *, active: bool, size: int = 1389
) -> tuple[dict, SeededPhoto]:
    """A photos-table item as the service writes it (see profile_photos.store.models)."""
    asset_id = str(uuid.uuid4())
    uploaded = iso(second)
    key = f"users/{user}/profile-picture/{asset_id}.jpg"
    item: dict[str, Any] = {
        "userId": {"S": user},
        "assetId": {"S": asset_id},
        "bucket": {"S": "user-assets"},
        "fileKey": {"S": key},
        "fileName": {"S": "photo.jpg"},
        "contentType": {"S": "image/jpeg"},
        "size": {"N": str(size)},
        "sha256": {"S": "0" * 64},
        "assetContext": {"S": "PROFILE_PICTURE"},
        "uploadedAt": {"S": uploaded},
        "archived": {"BOOL": not active},
    }
    sort_key = f"{uploaded}#{asset_id}" if active else None
    if active:
        item["activeSortKey"] = {"S": sort_key}
    else:
        item["archivedAt"] = {"S": iso(second + 1)}
    return item, SeededPhoto(user, asset_id, key, sort_key)


def user_item(user: str, current: SeededPhoto | None) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": {"S": user},
        "username": {"S": "bench"},
        "createdAt": {"S": iso(0)},
        "updatedAt": {"S": iso(0)},
    }
    if current is not None and current.sort_key:
        item |= {
            "currentAssetId": {"S": current.asset_id},
            "currentBucket": {"S": "user-assets"},
            "currentFileKey": {"S": current.file_key},
            "currentUploadedAt": {"S": current.sort_key.split("#", 1)[0]},
            "currentSortKey": {"S": current.sort_key},
        }
    return item


def batch_write(client: Any, table: str, items: list[dict[str, Any]]) -> None:
    """BatchWriteItem in 25s, retrying unprocessed items (fast seeding, not a code path)."""
    for start in range(0, len(items), 25):
        requests: list[dict[str, Any]] = [
            {"PutRequest": {"Item": i}} for i in items[start : start + 25]
        ]
        while requests:
            response = client.batch_write_item(RequestItems={table: requests})
            requests = response.get("UnprocessedItems", {}).get(table, [])


def seed_user(
    client: Any, user: str, *, active: int, archived: int = 0, first_second: int = 0
) -> list[SeededPhoto]:
    """`archived` archived photos (oldest), then `active` active ones; the newest is current."""
    items, photos = [], []
    second = first_second
    for kind, count in ((False, archived), (True, active)):
        for _ in range(count):
            item, photo = photo_item(user, second, active=kind)
            items.append(item)
            photos.append(photo)
            second += 2
    batch_write(client, DEV_ENV["PHOTOS_TABLE"], items)
    current = photos[-1] if active else None
    client.put_item(TableName=DEV_ENV["USERS_TABLE"], Item=user_item(user, current))
    return photos


# ------------------------------------------------------------------------ in-process service


class Service:
    """The template's handlers (and the bare anchor) imported from the source tree, in process,
    against moto. `use(provider)` switches LOCAL/R2 like a redeploy: settings and clients
    are rebuilt, and the containers' memory of refreshed users is dropped.

    Tracing is on as the template deploys it (`Tracing: Active`): before any handler is
    imported, the process gets what Lambda sets (`tracing_env`), so every Tracer patches as on
    Lambda and each invocation sends its segments (over UDP to a loopback port nobody reads),
    under a fresh `_X_AMZN_TRACE_ID` per call as Lambda gives one per invocation. The Tracer's
    choice is made once per process, so nothing may create one before this."""

    def __init__(self, endpoint: str, workdir: Path) -> None:
        if "aws_xray_sdk.core" in sys.modules:  # its recorder chose non-Lambda at import
            raise RuntimeError("the X-Ray SDK was imported before the traced service")
        os.environ.update(tracing_env(ROOT, unused_udp_port()))
        self.endpoint = endpoint
        self.base_path = workdir / "object-storage"
        self.provider = ""
        self.bare_file = workdir / "bare-file"
        paths = [ROOT / "shared", BARE_DIR] + [
            f.code_dir for f in functions().values()
        ]  # never functions/ itself: functions/graphql would shadow graphql-core
        for path in reversed(paths):
            if str(path) not in sys.path:  # function path: the handlers run in this process
                sys.path.insert(0, str(path))
        self.use("LOCAL")
        self.handlers = {  # function logical id -> its handler (`Handler:` in the template)
            name: getattr(importlib.import_module(function.module), function.handler)
            for name, function in functions().items()
        }
        self.bare = importlib.import_module("bare_handler").lambda_handler
        self._dynamodb: Any = None

    def use(self, provider: str) -> None:
        env = function_env(
            functions()["GraphQLFunction"], self.endpoint, provider, self.base_path, tracing=True
        )
        env["BARE_FILE"] = str(self.bare_file)
        os.environ.update(env)
        if self.provider:
            self.reset()
        self.provider = provider

    def reset(self) -> None:
        from profile_photos.services import reset

        reset()  # a fresh container's settings and services, for the new environment

    @property
    def dynamodb(self) -> Any:
        if self._dynamodb is None:
            import boto3

            self._dynamodb = boto3.client("dynamodb", endpoint_url=self.endpoint, **credentials())
        return self._dynamodb

    def storage(self) -> Any:
        from profile_photos.services import services

        return services().storage

    def put_object(self, key: str, data: bytes) -> None:
        self.storage().put("user-assets", key, data, "image/jpeg")

    def invoke(self, function: str, event: dict[str, Any]) -> HttpResult:
        handler = self.bare if function == BARE else self.handlers[function]
        os.environ["_X_AMZN_TRACE_ID"] = trace_id()  # one per invocation, as on Lambda
        return invoke(handler, event, LambdaContext(function_name=function))

    @property
    def traced(self) -> bool:
        """Whether the handlers' Tracer is on (Powertools decided when it was first made)."""
        tracer = sys.modules.get("aws_lambda_powertools.tracing.tracer")
        return tracer is not None and not tracer.Tracer._config["disabled"]

    def call(
        self, function: str, event: dict[str, Any], expect: tuple[int, ...] = (200, 201)
    ) -> HttpResult:
        result = self.invoke(function, event)
        if result.status not in expect:
            raise RuntimeError(f"{function} answered {result.status}: {result.body[:500]!r}")
        if function == "GraphQLFunction" and result.json().get("errors"):
            raise RuntimeError(f"GraphQL errors: {result.json()['errors']}")
        return result

    def retention(self, event: dict[str, Any]) -> dict[str, Any]:
        os.environ["_X_AMZN_TRACE_ID"] = trace_id()
        response = self.handlers["RetentionFunction"](
            event, LambdaContext(function_name="RetentionFunction")
        )
        if response.get("batchItemFailures"):
            raise RuntimeError(f"retention reported failures: {response}")
        return response


def chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
