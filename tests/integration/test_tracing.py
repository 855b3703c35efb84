"""X-Ray still records every AWS call with the Tracer patching botocore alone.

`observability.PATCH_MODULES` replaces Powertools' `patch_all` (which imports sqlite3,
psycopg, requests... patches into every function). The calls our functions make go through
botocore's client: pynamodb's connections, boto3's S3 and Lambda clients. Run in a child
process, since patching is global to the interpreter; the Tracer of `observability` does
the patching itself, as it does on Lambda.
"""

from __future__ import annotations

import json
import subprocess
import sys
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
    s3 = boto3.session.Session(botocore_session=aws.session()).client("s3", region_name="us-east-1")
    s3.list_buckets()
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
    assert ["s3", "ListBuckets"] in traced, traced
