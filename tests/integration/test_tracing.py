"""X-Ray still records every AWS call with the Tracer patching botocore alone.

`observability.PATCH_MODULES` replaces Powertools' `patch_all` (which imports sqlite3,
psycopg, requests... patches into every function). The calls our functions make go through
botocore's client: pynamodb's connections, boto3's S3 and Lambda clients. Run in a child
process, since patching is global to the interpreter; the Tracer of `observability` does
the patching itself, as it does on Lambda.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CHILD = r"""
import json, os
from moto import mock_aws
from aws_xray_sdk.core import xray_recorder
import profile_photos.observability  # its Tracer patches, as on Lambda (LAMBDA_TASK_ROOT set)

from aws_xray_sdk.core.context import Context
# record in a plain segment of our own instead of Lambda's facade (and keep subsegments in it)
xray_recorder.configure(
    context=Context(), sampling=False, streaming_threshold=1000, context_missing="IGNORE_ERROR"
)
with mock_aws():
    import boto3
    from pynamodb.connection import Connection
    from profile_photos.store import aws
    boto3.client("dynamodb").create_table(
        TableName="t", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
    segment = xray_recorder.begin_segment("handler")
    Connection(**aws.connection_options()).describe_table("t")  # what every model does
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="traced")
    # the store's session knows the S3 operations R2 is called with (store.endpoints)
    s3 = boto3.session.Session(botocore_session=aws.session()).client("s3", region_name="us-east-1")
    s3.put_object(Bucket="traced", Key="k", Body=b"")
    names = [(sub.name, sub.aws.get("operation")) for sub in segment.subsegments]
    xray_recorder.end_segment()
print(json.dumps(names))
"""


def test_the_aws_calls_of_a_function_are_traced() -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "PYTHONPATH": str(ROOT / "shared"),
        "LAMBDA_TASK_ROOT": str(ROOT),  # Tracer is on, as in Lambda (segments go to loopback)
        "POWERTOOLS_SERVICE_NAME": "profile-photos",
    }
    done = subprocess.run(
        [sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-3000:]
    traced = json.loads(done.stdout.strip().splitlines()[-1])
    assert ["dynamodb", "DescribeTable"] in traced, traced
    assert ["s3", "PutObject"] in traced, traced


def test_no_user_id_or_object_key_reaches_xray(tmp_path: Path) -> None:
    """Issue 24, item 9: X-Ray keeps segments 30 days, and the botocore patch recorded each S3
    call's `Key` (`users/<id>/...`). Every segment and subsegment the functions send to the
    daemon (a UDP listener here) for upload, signed fetch, GraphQL and renditions is read."""
    # Given an X-Ray daemon address that a listener of ours answers to
    daemon = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    daemon.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * 1024 * 1024)
    daemon.bind(("127.0.0.1", 0))
    daemon.settimeout(0.2)
    sent: list[str] = []
    done = threading.Event()

    def listen() -> None:
        while not done.is_set():
            try:
                sent.append(daemon.recv(65536).decode())
            except TimeoutError:
                continue

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    ids_file = tmp_path / "ids.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POWERTOOLS_", "AWS_XRAY"))}
    env |= {
        "LAMBDA_TASK_ROOT": str(ROOT),  # tracing on, as on Lambda
        "POWERTOOLS_TRACE_DISABLED": "false",
        "_X_AMZN_TRACE_ID": "Root=1-675390c0-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;"
        "Sampled=1",
        "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{daemon.getsockname()[1]}",
        "TRACED_IDS_FILE": str(ids_file),
    }

    # When every function does its work in a process traced as on Lambda
    scenario = "tests/integration/traced_scenario.py"
    run = subprocess.run(
        [sys.executable, "-m", "pytest", scenario, "-q", "-p", "no:cacheprovider", "-x"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    done.set()
    listener.join()
    daemon.close()
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]

    # Then X-Ray got each function's segments and AWS calls (the check reads real traffic)...
    documents = [json.loads(datagram.split("\n", 1)[1]) for datagram in sent]
    names = {d.get("name") for d in documents}
    operations = {d.get("aws", {}).get("operation") for d in documents}
    for handler in ("## lambda_handler", "dynamodb", "s3", "lambda"):
        assert handler in names, sorted(map(str, names))
    assert {"PutObject", "GetObject", "DeleteObject", "Invoke"} <= operations
    assert {"table_name", "bucket_name"} <= {k for d in documents for k in d.get("aws", {})}

    # ...and no user id, asset id or object key in any of them
    ids = json.loads(ids_file.read_text())
    secrets = [*ids["users"], *ids["assets"], *ids["keys"]]
    leaks = sorted({s for s in secrets for datagram in sent if s in datagram})
    assert leaks == [], [d for d in sent if any(s in d for s in leaks)][:3]
