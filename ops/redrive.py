"""Redrive a stream consumer's failure queue: replay each failed batch through its consumer.

Usage: python -m ops redrive QUEUE [--env dev|prod|local] [--function NAME_OR_ARN]
(`make redrive QUEUE=... [ENV=...]`).

A DynamoDB stream event source mapping that gives up on a batch sends its on-failure
destination the batch's coordinates, not its records:
`DDBStreamBatchInfo.{shardId, startSequenceNumber, endSequenceNumber, streamArn}` and
`requestContext.functionArn`, the function (alias) it invoked. On AWS (`--env dev|prod`, the
stack and region from samconfig.toml) each message is replayed as the mapping would have:

1. read the batch back from the stream: GetShardIterator AT_SEQUENCE_NUMBER its start, then
   GetRecords up to its end sequence number (only possible within the stream's 24 h
   retention), keeping the records the mapping's FilterCriteria pass, in Lambda's record
   shape;
2. invoke the function (the ARN in the message: the `live` alias) with `{"Records": [...]}`;
3. a batch that fully succeeds (no error, no `batchItemFailures`) converged: its message is
   deleted. Otherwise the message is made visible again at once (the alarm keeps counting
   it) and the report says how many records still fail.

QUEUE is a queue URL, a queue ARN, a queue name, or the template's logical id
(`RetentionFailureQueue`), looked up in the stack. `--env local` replays the local stack's
failure file instead (devstack/redrive.py). Exit status 0 when every batch converged (or
there was nothing to redrive), 1 when some still fail, 2 on a usage error.

IAM for the operator: sqs:ReceiveMessage, sqs:DeleteMessage, sqs:ChangeMessageVisibility,
sqs:GetQueueUrl, dynamodb:GetShardIterator, dynamodb:GetRecords,
lambda:ListEventSourceMappings, lambda:InvokeFunction, cloudformation:DescribeStackResource.
"""

from __future__ import annotations

import argparse
import json
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from devkit.replay import BatchOutcome, Invoke, replay, summary
from devkit.streams import lambda_record, passes_filters
from devkit.template import ROOT, load_template, resources_of_type

# The batch is no longer readable: trimmed (24 h retention), or the stream/shard is gone.
GONE = {"TrimmedDataAccessException", "ResourceNotFoundException", "ExpiredIteratorException"}
MAX_EMPTY_READS = 5  # an open shard answers empty pages while nothing newer exists
VISIBILITY_SECONDS = 300  # a message is hidden while its batch is replayed

# ------------------------------------------------------------------------------- AWS


def read_batch(streams: Any, info: dict[str, Any]) -> list[dict[str, Any]]:
    """The batch's records, from its start to its end sequence number, in Lambda's shape."""
    stream_arn = info["streamArn"]
    iterator = streams.get_shard_iterator(
        StreamArn=stream_arn,
        ShardId=info["shardId"],
        ShardIteratorType="AT_SEQUENCE_NUMBER",
        SequenceNumber=info["startSequenceNumber"],
    )["ShardIterator"]
    end = int(info["endSequenceNumber"])
    records: list[dict[str, Any]] = []
    empty = 0
    while iterator and empty < MAX_EMPTY_READS:
        page = streams.get_records(ShardIterator=iterator, Limit=1000)
        for raw in page["Records"]:
            number = int(raw["dynamodb"]["SequenceNumber"])
            if number > end:
                return records
            records.append(lambda_record(raw, stream_arn))
            if number == end:
                return records
        empty = 0 if page["Records"] else empty + 1
        iterator = page.get("NextShardIterator")
    return records  # the shard ended (or went quiet) before the end: what there was


def mapping_filters(lambda_client: Any, function: str, stream_arn: str) -> list[dict[str, Any]]:
    """The FilterCriteria of `function`'s mapping on the stream ([] when none is found)."""
    mappings = lambda_client.list_event_source_mappings(
        FunctionName=function, EventSourceArn=stream_arn
    ).get("EventSourceMappings", [])
    for mapping in mappings:
        filters = mapping.get("FilterCriteria", {}).get("Filters", [])
        return [json.loads(f["Pattern"]) for f in filters if "Pattern" in f]
    return []


def lambda_invoker(lambda_client: Any) -> Invoke:
    def invoke(function: str, event: dict[str, Any]) -> tuple[Any, str | None]:
        answer = lambda_client.invoke(FunctionName=function, Payload=json.dumps(event).encode())
        text = answer["Payload"].read().decode() if "Payload" in answer else ""
        try:
            payload = json.loads(text) if text else None
        except ValueError:
            payload = text
        if answer.get("FunctionError"):
            message = payload.get("errorMessage") if isinstance(payload, dict) else payload
            return None, f"{answer['FunctionError']}: {message}"
        return payload, None

    return invoke


def redrive_message(
    body: dict[str, Any],
    streams: Any,
    lambda_client: Any,
    invoke: Invoke,
    function: str | None = None,
) -> BatchOutcome:
    """Replay the batch one on-failure message points at."""
    info = body.get("DDBStreamBatchInfo")
    target = function or body.get("requestContext", {}).get("functionArn") or "?"
    if not isinstance(info, dict):
        return BatchOutcome("?", target, error="not a DynamoDB stream failure record")
    label = f"{info['startSequenceNumber']}..{info['endSequenceNumber']}"
    if target == "?":
        return BatchOutcome(label, target, error="no function: pass --function")
    try:
        filters = mapping_filters(lambda_client, target, info["streamArn"])
        records = read_batch(streams, info)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code not in GONE:
            raise
        return BatchOutcome(
            label,
            target,
            records=int(info.get("batchSize", 0)),
            failing=int(info.get("batchSize", 0)),
            error=f"records no longer readable from the stream ({code}; 24 h retention)",
        )
    selected = [r for r in records if passes_filters(filters, r)]
    return replay(label, target, selected, invoke)


def redrive_queue(
    queue_url: str,
    sqs: Any,
    streams: Any,
    lambda_client: Any,
    invoke: Invoke | None = None,
    function: str | None = None,
) -> list[BatchOutcome]:
    """Replay every message of the queue once; delete those whose batch converged."""
    invoke = invoke or lambda_invoker(lambda_client)
    outcomes: list[BatchOutcome] = []
    seen: set[str] = set()
    kept: list[str] = []
    while True:
        messages = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=1,
            VisibilityTimeout=VISIBILITY_SECONDS,
        ).get("Messages", [])
        fresh = [m for m in messages if m["MessageId"] not in seen]
        if not fresh:
            break
        for message in fresh:
            seen.add(message["MessageId"])
            try:
                body = json.loads(message["Body"])
            except ValueError:
                body = {}
            outcome = redrive_message(body, streams, lambda_client, invoke, function)
            if outcome.converged:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
                outcome.removed = True
            else:
                kept.append(message["ReceiptHandle"])
            outcomes.append(outcome)
    for receipt in kept:  # visible again now, so the alarm keeps seeing them
        sqs.change_message_visibility(
            QueueUrl=queue_url, ReceiptHandle=receipt, VisibilityTimeout=0
        )
    return outcomes


def template_queues() -> set[str]:
    return set(resources_of_type(load_template(), "AWS::SQS::Queue"))


def resolve_queue_url(queue: str, sqs: Any, cloudformation: Any, stack_name: str) -> str:
    """A URL as is; an ARN or a name through GetQueueUrl; a logical id through the stack."""
    if queue.startswith(("https://", "http://")):
        return queue
    if queue.startswith("arn:"):
        parts = queue.split(":")
        return sqs.get_queue_url(QueueName=parts[5], QueueOwnerAWSAccountId=parts[4])["QueueUrl"]
    if queue in template_queues():
        detail = cloudformation.describe_stack_resource(
            StackName=stack_name, LogicalResourceId=queue
        )["StackResourceDetail"]
        return detail["PhysicalResourceId"]  # an SQS queue's physical id is its URL
    return sqs.get_queue_url(QueueName=queue)["QueueUrl"]


def deploy_settings(env: str, config: Path = ROOT / "samconfig.toml") -> tuple[str, str]:
    """(stack name, region) of a samconfig.toml deploy environment."""
    settings = tomllib.loads(config.read_text()).get(env, {}).get("deploy", {})
    parameters = settings.get("parameters", {})
    if "stack_name" not in parameters:
        raise SystemExit(f"samconfig.toml has no [{env}.deploy.parameters] stack_name")
    return parameters["stack_name"], parameters.get("region", "eu-west-1")


def redrive_aws(queue: str, env: str, function: str | None) -> list[BatchOutcome]:
    import boto3

    stack_name, region = deploy_settings(env)
    session = boto3.session.Session(region_name=region)
    sqs = session.client("sqs")
    url = resolve_queue_url(queue, sqs, session.client("cloudformation"), stack_name)
    print(f"redrive {url} (stack {stack_name}, {region})")
    return redrive_queue(
        url,
        sqs,
        session.client("dynamodbstreams"),
        session.client("lambda"),
        function=function,
    )


def report(outcomes: Iterable[BatchOutcome]) -> int:
    outcomes = list(outcomes)
    for outcome in outcomes:
        print("  " + outcome.line())
    print(summary(outcomes))
    return 0 if all(o.converged for o in outcomes) else 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("queue", help="queue URL, ARN, name, or the template's logical id")
    parser.add_argument("--env", default="dev", help="samconfig.toml environment, or local")
    parser.add_argument("--function", help="invoke this function instead of the message's")


def run(args: argparse.Namespace) -> int:
    if args.env == "local":
        from devstack.redrive import redrive_local

        return report(redrive_local(args.queue))
    return report(redrive_aws(args.queue, args.env, args.function))
