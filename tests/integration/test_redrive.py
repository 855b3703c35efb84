"""`ops redrive` on AWS, against moto: failure messages of a DynamoDB stream mapping (the
batch's coordinates) are read back from the stream, replayed through the function, and
deleted only when the batch converged. moto's Lambda runs no code (`use_docker: False`
echoes the event), so what the function answers is also played by a stand-in."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from devkit.replay import BatchOutcome, failing_records
from ops.redrive import deploy_settings, read_batch, redrive_queue, resolve_queue_url

REGION = "eu-west-1"


@dataclass
class Aws:
    dynamodb: Any
    streams: Any
    sqs: Any
    lambda_: Any
    cloudformation: Any
    stream_arn: str
    shard_id: str
    queue_url: str
    function_arn: str


@pytest.fixture
def aws() -> Iterator[Aws]:
    with mock_aws(config={"lambda": {"use_docker": False}}):
        client = lambda name: boto3.client(name, region_name=REGION)  # noqa: E731
        dynamodb = client("dynamodb")
        dynamodb.create_table(
            TableName="photos",
            KeySchema=[{"AttributeName": "userId", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "userId", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        stream_arn = dynamodb.describe_table(TableName="photos")["Table"]["LatestStreamArn"]
        streams = client("dynamodbstreams")
        shard = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]
        role = client("iam").create_role(RoleName="consumer", AssumeRolePolicyDocument="{}")
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as archive:
            archive.writestr("handler.py", "def handler(event, context):\n    return {}\n")
        lambda_ = client("lambda")
        function = lambda_.create_function(
            FunctionName="retention",
            Runtime="python3.13",
            Role=role["Role"]["Arn"],
            Handler="handler.handler",
            Code={"ZipFile": code.getvalue()},
        )
        sqs = client("sqs")
        yield Aws(
            dynamodb=dynamodb,
            streams=streams,
            sqs=sqs,
            lambda_=lambda_,
            cloudformation=client("cloudformation"),
            stream_arn=stream_arn,
            shard_id=shard["ShardId"],
            queue_url=sqs.create_queue(QueueName="retention-failures")["QueueUrl"],
            function_arn=function["FunctionArn"],
        )


def write(aws: Aws, *users: str) -> list[str]:
    """Put one item per user; the stream records' sequence numbers, in order."""
    for user in users:
        aws.dynamodb.put_item(TableName="photos", Item={"userId": {"S": user}})
    iterator = aws.streams.get_shard_iterator(
        StreamArn=aws.stream_arn, ShardId=aws.shard_id, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records = aws.streams.get_records(ShardIterator=iterator)["Records"]
    return [r["dynamodb"]["SequenceNumber"] for r in records]


def failure_message(aws: Aws, start: str, end: str, size: int) -> dict[str, Any]:
    """What Lambda sends an SQS on-failure destination for a DynamoDB stream batch."""
    return {
        "requestContext": {
            "requestId": "316aa6d0-8154-4f3b-9af7-85d5f4a6bc81",
            "functionArn": aws.function_arn,
            "condition": "RetryAttemptsExhausted",
            "approximateInvokeCount": 6,
        },
        "responseContext": {"statusCode": 200, "executedVersion": "1", "functionError": ""},
        "version": "1.0",
        "timestamp": "2026-11-29T10:00:00.000Z",
        "DDBStreamBatchInfo": {
            "shardId": aws.shard_id,
            "startSequenceNumber": start,
            "endSequenceNumber": end,
            "approximateArrivalOfFirstRecord": "2026-11-29T09:59:00Z",
            "approximateArrivalOfLastRecord": "2026-11-29T09:59:00Z",
            "batchSize": size,
            "streamArn": aws.stream_arn,
        },
    }


def send(aws: Aws, message: dict[str, Any]) -> None:
    aws.sqs.send_message(QueueUrl=aws.queue_url, MessageBody=json.dumps(message))


def visible(aws: Aws) -> int:
    attributes = aws.sqs.get_queue_attributes(
        QueueUrl=aws.queue_url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def test_read_batch_reads_the_records_between_the_coordinates(aws: Aws) -> None:
    # Given five records on the stream
    numbers = write(aws, "a", "b", "c", "d", "e")

    # When the batch from the second to the fourth is read back
    records = read_batch(
        aws.streams,
        failure_message(aws, numbers[1], numbers[3], 3)["DDBStreamBatchInfo"],
    )

    # Then exactly those, in Lambda's shape
    assert [r["dynamodb"]["Keys"]["userId"]["S"] for r in records] == ["b", "c", "d"]
    assert {r["eventSourceARN"] for r in records} == {aws.stream_arn}
    assert all(isinstance(r["dynamodb"]["ApproximateCreationDateTime"], int) for r in records)


def test_a_converged_batch_is_deleted_from_the_queue(aws: Aws) -> None:
    # Given a failed batch of two records
    numbers = write(aws, "a", "b", "c")
    send(aws, failure_message(aws, numbers[0], numbers[1], 2))
    invoked: list[tuple[str, list[str]]] = []

    def invoke(function: str, event: dict[str, Any]) -> tuple[Any, str | None]:
        invoked.append((function, [r["dynamodb"]["Keys"]["userId"]["S"] for r in event["Records"]]))
        return {"batchItemFailures": []}, None

    # When the queue is redriven
    outcomes = redrive_queue(aws.queue_url, aws.sqs, aws.streams, aws.lambda_, invoke=invoke)

    # Then the message's function got the batch's records, and the message is gone
    assert invoked == [(aws.function_arn, ["a", "b"])]
    assert [(o.records, o.succeeded, o.failing, o.removed) for o in outcomes] == [(2, 2, 0, True)]
    assert visible(aws) == 0


def test_the_real_invoke_path_through_moto_lambda(aws: Aws) -> None:
    # Given a failed batch (moto's Lambda answers with the event: no batchItemFailures)
    numbers = write(aws, "a")
    send(aws, failure_message(aws, numbers[0], numbers[0], 1))

    # When redriven with boto3's Lambda Invoke
    outcomes = redrive_queue(aws.queue_url, aws.sqs, aws.streams, aws.lambda_)

    # Then it converged and was deleted
    assert [o.converged for o in outcomes] == [True]
    assert visible(aws) == 0


def test_a_batch_still_failing_is_kept_and_visible_again(aws: Aws) -> None:
    # Given a failed batch of three whose second record still fails
    numbers = write(aws, "a", "b", "c")
    send(aws, failure_message(aws, numbers[0], numbers[2], 3))

    def invoke(function: str, event: dict[str, Any]) -> tuple[Any, str | None]:
        return {"batchItemFailures": [{"itemIdentifier": numbers[1]}]}, None

    # When redriven
    (outcome,) = redrive_queue(aws.queue_url, aws.sqs, aws.streams, aws.lambda_, invoke=invoke)

    # Then one record succeeded, two still fail (Lambda retries from the lowest failure), and
    # the message stays, visible at once (the alarm keeps counting it)
    assert (outcome.succeeded, outcome.failing, outcome.removed) == (1, 2, False)
    assert "still failing (2 of 3)" in outcome.line()
    assert visible(aws) == 1


def test_a_function_error_keeps_the_message(aws: Aws) -> None:
    numbers = write(aws, "a")
    send(aws, failure_message(aws, numbers[0], numbers[0], 1))

    (outcome,) = redrive_queue(
        aws.queue_url,
        aws.sqs,
        aws.streams,
        aws.lambda_,
        invoke=lambda function, event: (None, "Unhandled: boom"),
    )

    assert outcome.error == "Unhandled: boom"
    assert not outcome.converged
    assert visible(aws) == 1


def test_records_no_longer_in_the_stream_are_reported_and_kept(aws: Aws) -> None:
    # Given a message pointing at a stream that is gone (moto cannot trim records after 24 h:
    # both end in the same "cannot read it back")
    message = failure_message(aws, "1100000000000000000001", "1100000000000000000002", 2)
    message["DDBStreamBatchInfo"]["streamArn"] = aws.stream_arn.replace("/photos/", "/gone/")
    send(aws, message)

    # When redriven
    (outcome,) = redrive_queue(
        aws.queue_url,
        aws.sqs,
        aws.streams,
        aws.lambda_,
        invoke=lambda function, event: pytest.fail("nothing to invoke"),
    )

    # Then it says so, and the message stays for the operator
    assert outcome.error is not None
    assert "no longer readable from the stream" in outcome.error
    assert visible(aws) == 1


def test_the_mappings_filter_criteria_apply(aws: Aws) -> None:
    # Given the consumer's mapping passes only user "b" (a stand-in for ListEventSourceMappings:
    # moto's mappings on a stream would invoke the function on every write)
    numbers = write(aws, "a", "b", "c")
    send(aws, failure_message(aws, numbers[0], numbers[2], 1))
    pattern = {"dynamodb": {"Keys": {"userId": {"S": ["b"]}}}}

    class Lambda:
        def list_event_source_mappings(self, **kwargs: str) -> dict[str, Any]:
            assert kwargs == {"FunctionName": aws.function_arn, "EventSourceArn": aws.stream_arn}
            return {"EventSourceMappings": [{"FilterCriteria": {"Filters": [
                {"Pattern": json.dumps(pattern)}
            ]}}]}  # fmt: skip

    seen: list[list[str]] = []

    def invoke(function: str, event: dict[str, Any]) -> tuple[Any, str | None]:
        seen.append([r["dynamodb"]["Keys"]["userId"]["S"] for r in event["Records"]])
        return None, None

    # When redriven
    redrive_queue(aws.queue_url, aws.sqs, aws.streams, Lambda(), invoke=invoke)

    # Then only the record the mapping would have delivered is replayed
    assert seen == [["b"]]


def test_queue_given_as_url_name_or_logical_id(aws: Aws) -> None:
    # Given a stack that created the failure queue
    aws.cloudformation.create_stack(
        StackName="profile-photos-dev",
        TemplateBody=json.dumps(
            {"Resources": {"RetentionFailureQueue": {"Type": "AWS::SQS::Queue"}}}
        ),
    )
    queue_arn = aws.sqs.get_queue_attributes(QueueUrl=aws.queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]

    def resolve(queue: str) -> str:
        return resolve_queue_url(queue, aws.sqs, aws.cloudformation, "profile-photos-dev")

    # Then each form names a queue
    assert resolve(aws.queue_url) == aws.queue_url
    assert resolve("retention-failures") == aws.queue_url
    assert resolve(queue_arn) == aws.queue_url
    assert "RetentionFailureQueue" in resolve("RetentionFailureQueue")


def test_failing_records_follows_the_partial_batch_contract() -> None:
    records = [{"dynamodb": {"SequenceNumber": str(n)}} for n in (10, 20, 30)]

    assert failing_records(records, {"batchItemFailures": []}) == 0
    assert failing_records(records, None) == 0
    assert failing_records(records, "ok") == 0
    assert failing_records(records, {"batchItemFailures": [{"itemIdentifier": "30"}]}) == 1
    assert failing_records(records, {"batchItemFailures": [{"itemIdentifier": "20"}]}) == 2


def test_an_empty_batch_converges() -> None:
    assert BatchOutcome("1..2", "f").converged


def test_deploy_settings_come_from_samconfig() -> None:
    assert deploy_settings("prod") == ("profile-photos-prod", "eu-west-1")
    with pytest.raises(SystemExit):
        deploy_settings("nope")
