"""Both handlers under moto's `mock_aws`, fed with the sample events from `events/`.

`provider` runs every test twice: LOCAL (files under a temporary directory) and R2 (moto's S3
answering at an R2-style endpoint through `MOTO_S3_CUSTOM_ENDPOINTS`).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from devkit.context import LambdaContext
from devkit.defaults import DEV_ENV
from devkit.template import create_tables, load_template, table_definitions
from devstack.lambda_api import LambdaApi
from profile_photos.services import reset, services
from testkit.invoke import invoke  # noqa: F401 - test_auth_jwks.py imports it from here

EVENTS = Path(__file__).resolve().parents[2] / "events"
R2_ENDPOINT = "https://testaccount.r2.cloudflarestorage.com"
# The seed's 201 `data` object, exactly.
UPLOAD_DATA_KEYS = {
    "fileKey",
    "uploadUrl",
    "fileName",
    "contentType",
    "size",
    "assetId",
    "uploadedAt",
    "expiresAt",
}
R2_BUCKETS = {"user-assets": "test-user-assets", "app-assets": "test-app-assets"}


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / f"{name}.json").read_text())


class Stack:
    """What a test can observe of the service's state: stored objects and table items."""

    def __init__(self, provider: str, base_path: Path) -> None:
        self.provider = provider
        self.base_path = base_path
        self.dynamodb = boto3.client("dynamodb")
        self.s3 = (
            boto3.client("s3", endpoint_url=R2_ENDPOINT, region_name="us-east-1")
            if provider == "R2"
            else None
        )
        self.stream: list[dict[str, Any]] = []  # the photos table's records read so far
        self.stream_iterators: dict[str, str] = {}  # shard id -> where reading goes on

    def objects(self) -> list[str]:
        """Every stored object, as `bucket/key`."""
        if self.s3 is None:
            return sorted(
                str(path.relative_to(self.base_path))
                for bucket in R2_BUCKETS
                for path in (self.base_path / bucket).rglob("*")
                if path.is_file()
            )
        found = []
        for logical, bucket in R2_BUCKETS.items():
            listing = self.s3.list_objects_v2(Bucket=bucket)
            found += [f"{logical}/{item['Key']}" for item in listing.get("Contents", [])]
        return sorted(found)

    def all_files(self) -> list[Path]:
        """LOCAL: every file the provider wrote, object metadata included."""
        if not self.base_path.exists():
            return []
        return [path for path in self.base_path.rglob("*") if path.is_file()]

    def read(self, bucket: str, key: str) -> bytes:
        if self.s3 is None:
            return (self.base_path / bucket / key).read_bytes()
        return self.s3.get_object(Bucket=R2_BUCKETS[bucket], Key=key)["Body"].read()

    def put(self, bucket: str, key: str, data: bytes, content_type: str = "image/jpeg") -> None:
        services().storage.put(bucket, key, data, content_type)

    def items(self, table: str) -> list[dict[str, Any]]:
        return self.dynamodb.scan(TableName=DEV_ENV[table])["Items"]

    def assert_unchanged(self) -> None:
        """Nothing stored and nothing written: the state a rejected request must leave."""
        assert self.objects() == []
        assert self.all_files() == []
        assert self.items("PHOTOS_TABLE") == []
        assert self.items("USERS_TABLE") == []
        assert self.items("UPLOADS_TABLE") == []


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every render made from now on (the real one runs; this only counts it): the content
    type of each photo `images.avatar.render_photo` was called with."""
    from profile_photos.images import avatar  # Pillow: only for the tests that count renders

    made: list[str] = []
    real = avatar.render_photo

    def counted(data: bytes, content_type: str, *args: Any, **kwargs: Any) -> Any:
        made.append(content_type)
        return real(data, content_type, *args, **kwargs)

    monkeypatch.setattr(avatar, "render_photo", counted)
    return made


@dataclass
class RenditionsFunction:
    """The renditions function behind Lambda's Invoke API on loopback."""

    api: LambdaApi
    invocations: list[tuple[str, Any]]


@pytest.fixture(scope="session")
def renditions_function() -> Iterator[RenditionsFunction]:
    """The renditions function behind Lambda's Invoke API on loopback (the local stack's
    `devstack.lambda_api`), run in process: signed fetch invokes it on a rendition's miss, as
    the template configures it (`RENDITIONS_FUNCTION`). `invocations` lists every call."""
    import renditions_handler

    invocations: list[tuple[str, Any]] = []

    def invoke_function(name: str, event: Any) -> Any:
        invocations.append((name, event))
        return renditions_handler.lambda_handler(event, LambdaContext("render"))

    api = LambdaApi({"RenditionsFunction"}, invoke_function)
    thread = threading.Thread(target=api.serve_forever, daemon=True)
    thread.start()
    yield RenditionsFunction(api, invocations)
    api.shutdown()
    api.server_close()


@pytest.fixture(params=["LOCAL", "R2"])
def provider(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def stack(
    provider: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    renditions_function: RenditionsFunction,
) -> Iterator[Stack]:
    for name, value in DEV_ENV.items():
        monkeypatch.setenv(name, value)
    # as the template sets it for signed fetch (`!Ref RenditionsFunction.Alias`)
    monkeypatch.setenv("RENDITIONS_FUNCTION", "RenditionsFunction:live")
    monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", renditions_function.api.endpoint)
    renditions_function.invocations.clear()
    monkeypatch.setenv("OBJECT_STORAGE_PROVIDER", provider)
    monkeypatch.setenv("LOCAL_STORAGE_BASE_PATH", str(tmp_path / "objects"))
    if provider == "R2":
        monkeypatch.setenv("R2_ENDPOINT_URL", R2_ENDPOINT)
        monkeypatch.setenv("MOTO_S3_CUSTOM_ENDPOINTS", R2_ENDPOINT)
        monkeypatch.setenv("R2_ACCESS_KEY_ID", "test-r2-key")
        monkeypatch.setenv("R2_SECRET_ACCESS_KEY", "test-r2-secret")
        monkeypatch.setenv("R2_USER_ASSETS_BUCKET", R2_BUCKETS["user-assets"])
        monkeypatch.setenv("R2_APP_ASSETS_BUCKET", R2_BUCKETS["app-assets"])
    reset()  # a fresh container: nothing remembered of a previous test's tables
    with mock_aws():
        # every table of the template, named by its logical id as under `sam local`
        create_tables(
            boto3.client("dynamodb"), {name: name for name in table_definitions(load_template())}
        )
        stack = Stack(provider, tmp_path / "objects")
        if stack.s3 is not None:
            for bucket in R2_BUCKETS.values():
                stack.s3.create_bucket(Bucket=bucket)
        yield stack
    reset()


def stream_records(stack: Stack, function: str = "RetentionFunction") -> list[dict[str, Any]]:
    """Every record of the photos table's stream so far, as Lambda would deliver them to
    `function`: in the Lambda record shape and through the template's FilterCriteria."""
    from devkit.streams import lambda_record, passes_filters
    from devstack.functions import load_functions

    (trigger,) = next(f for f in load_functions() if f.name == function).streams
    table = DEV_ENV["PHOTOS_TABLE"]
    arn = stack.dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    streams = boto3.client("dynamodbstreams")
    # read on from where the last call stopped: a fault matrix makes hundreds of users in one
    # stack, and reading the whole stream each time made the matrix quadratic
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = (
            stack.stream_iterators.get(shard["ShardId"])
            or streams.get_shard_iterator(
                StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
        )
        while iterator:
            page = streams.get_records(ShardIterator=iterator, Limit=1000)
            stack.stream += page["Records"]
            stack.stream_iterators[shard["ShardId"]] = iterator = page["NextShardIterator"]
            if not page["Records"]:
                break
    records = stack.stream
    delivered = [lambda_record(record, arn) for record in records]
    return [record for record in delivered if passes_filters(trigger.filters, record)]


@pytest.fixture(autouse=True)
def no_error_logs(
    request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture
) -> Iterator[None]:
    """No client input may log at ERROR: every integration test fails on an ERROR record
    (our Logger's and the libraries', e.g. Tracer's traceback for an exception leaving a
    traced method) unless it is marked `error_log_expected`."""
    yield
    if request.node.get_closest_marker("error_log_expected"):
        return
    errors = [
        f"{record.name}: {record.getMessage()}"
        for when in ("setup", "call")
        for record in caplog.get_records(when)
        if record.levelno >= logging.ERROR
    ]
    assert errors == [], "ERROR logged"


# ------------------------------------------------------------ IAM least privilege (recorder)
# Every AWS call a function's handler makes is recorded under the function's logical id (see
# tests/integration/aws_calls.py); test_iam_least_privilege.py, run last, checks the calls
# against each function's policy in the transformed template.
# Under pytest-xdist each worker records its own tests' calls: aws_calls_shared hands them to
# the worker that runs the IAM check.
from tests.integration import aws_calls, aws_calls_shared  # noqa: E402

aws_calls.install()
aws_calls.attribute_handlers()

IAM_CHECK_MODULE = aws_calls_shared.IAM_CHECK_MODULE


def pytest_configure(config: pytest.Config) -> None:
    aws_calls_shared.configure(config)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The IAM check runs after every other test, whatever the order of the files."""
    items.sort(key=lambda item: Path(str(item.path)).name == IAM_CHECK_MODULE)


def pytest_deselected(items: list[pytest.Item]) -> None:
    if any(aws_calls.is_integration(item) for item in items):
        aws_calls.SUITE.deselected = True


def pytest_collection_finish(session: pytest.Session) -> None:
    aws_calls.note_collection(session.items, session.config.args)
    aws_calls_shared.note_collection(session.items)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    aws_calls_shared.gather(item)
    aws_calls.SUITE.current_test = item.nodeid
    try:
        return (yield)
    finally:
        aws_calls.SUITE.current_test = ""


def pytest_runtest_logfinish(nodeid: str) -> None:
    aws_calls_shared.after_test(nodeid)


def pytest_sessionfinish(session: pytest.Session) -> None:
    aws_calls_shared.finished()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.failed and aws_calls.is_integration_id(report.nodeid, excluding=IAM_CHECK_MODULE):
        aws_calls.SUITE.failed_tests.append(report.nodeid)
