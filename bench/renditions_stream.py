"""How long the stream takes to make a new photo's renditions locally (a child process of
`bench/renditions.py`): upload a 12 MP camera JPEG through the upload handler under moto
(LOCAL storage), read the photos table's stream as the local stack's poller delivers it (the
RenditionsFunction's FilterCriteria), and time the renditions handler on that batch: three
renders, three object writes and the two GetItems. Prints JSON. What it leaves out, said
beside the figure: the stream's own delivery delay (the local poller wakes every 0.2 s; on
AWS, MaximumBatchingWindowInSeconds is 1 s, plus Lambda's polling)."""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = 3


def main() -> None:
    sys.path[:0] = [  # function path: the two handlers this child runs in process
        str(ROOT / "functions" / "upload"),
        str(ROOT / "functions" / "renditions"),
    ]
    import boto3
    from moto import mock_aws

    from devkit.context import LambdaContext
    from devkit.defaults import DEV_ENV
    from devkit.streams import lambda_record, passes_filters
    from devkit.template import create_tables, load_template, table_definitions
    from devstack.functions import load_functions
    from testkit.events import file_upload, user_token
    from testkit.images import camera_jpeg

    tmp = tempfile.mkdtemp(prefix="bench-stream-")
    os.environ |= DEV_ENV | {
        "LOCAL_STORAGE_BASE_PATH": tmp,
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "POWERTOOLS_METRICS_NAMESPACE": "ProfilePhotos",
        "POWERTOOLS_TRACE_DISABLED": "true",
        # botocore 1.44 addresses DynamoDB Streams at `<account>.streams-ddb.<region>`, a host
        # moto does not route (tests/conftest.py does the same)
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        "POWERTOOLS_SERVICE_NAME": "profile-photos",
    }
    os.environ.pop("RENDITIONS_FUNCTION", None)
    (trigger,) = next(f for f in load_functions() if f.name == "RenditionsFunction").streams
    data = camera_jpeg()
    timings = []
    with mock_aws():
        dynamodb = boto3.client("dynamodb")
        create_tables(dynamodb, {n: n for n in table_definitions(load_template())})
        import renditions_handler
        import upload_handler

        arn = dynamodb.describe_table(TableName="PhotosTable")["Table"]["LatestStreamArn"]
        streams = boto3.client("dynamodbstreams")
        (shard,) = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        for run in range(RUNS):
            event = file_upload(
                "b", data, "camera.jpg", "image/jpeg", token=user_token(sub=f"u{run}")
            )
            assert upload_handler.lambda_handler(event, LambdaContext("b"))["statusCode"] == 201
            answer = streams.get_records(ShardIterator=iterator, Limit=1000)
            iterator = answer["NextShardIterator"]
            records = [lambda_record(r, arn) for r in answer["Records"]]
            batch = [r for r in records if passes_filters(trigger.filters, r)]
            started = time.perf_counter()
            response = renditions_handler.lambda_handler({"Records": batch}, LambdaContext("b"))
            timings.append((time.perf_counter() - started) * 1000)
            assert response == {"batchItemFailures": []}, response
            assert len(batch) == 1
    made = sorted(p.name for p in Path(tmp).rglob("*.webp"))
    print(
        json.dumps(
            {
                "ms": timings,
                "median_ms": statistics.median(timings),
                "bytes": len(data),
                "files": len(made),
            }
        )
    )


if __name__ == "__main__":
    main()
