"""One Logger, Tracer and Metrics for every function, and the one way to wrap a handler.

The service name comes from `POWERTOOLS_SERVICE_NAME` and the namespace from
`POWERTOOLS_METRICS_NAMESPACE`, both set in the template's Globals. Never log events,
tokens or file bytes.

The Tracer patches botocore only (`PATCH_MODULES`). Its default, `patch_all`, imports and
patches every library X-Ray knows (pynamodb, requests, httplib, sqlite3, ...) into every
function, ~270 modules and ~0.5 s of cold start for nothing: every call our functions make
to AWS (DynamoDB through pynamodb, R2's S3 API, Lambda Invoke, the idempotency table) goes
through botocore's client, whose patch records one X-Ray subsegment per call (pynamodb's
connections call the botocore client too). Patching httplib as well would record each AWS
call twice.

The patch is applied when `botocore.session` is first imported (a post-import hook), not
when this module is: the X-Ray SDK's botocore patch imports botocore's client module (~100 ms
of a cold start with botocore's docs, urllib3 and dateutil behind it), which a request that
calls no AWS service (a signed GET of a LOCAL file) never needs. Every client is made by a
session (ours, pynamodb's, boto3's), so every AWS call is still recorded. (Not on
`botocore.client` itself: its hook runs before the module is an attribute of `botocore`,
where the patch looks for it.)

What reaches X-Ray (kept 30 days) is an allowlist, applied where segments leave the process
(`TraceEmitter`): names, ids and timings; of an AWS call its operation, region, request id,
status and the table, index, bucket or function it named; error flags and exception types
with their stack frames. Never a request or response value: the X-Ray SDK's botocore patch
records S3's `Key`, `CopySource` and `Prefix` and DynamoDB's `ItemCollectionMetrics`, and
object keys, prefixes and item keys carry user ids. Never an exception's message (botocore's
and ours can quote a key or an id), never metadata, and no annotation but Powertools'
`ColdStart` and `Service`. The handler's response and errors are not captured either
(`capture_response=False, capture_error=False`): responses carry signed URLs.
"""

import json
from collections.abc import Callable
from typing import Any, TypeVar, cast

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging import correlation_paths

PATCH_MODULES = ("botocore",)

# Kept of each segment and subsegment; `aws`, `http`, `cause` and annotations are filtered.
ENTITY_FIELDS = frozenset(
    {
        "name",
        "id",
        "trace_id",
        "parent_id",
        "start_time",
        "end_time",
        "in_progress",
        "type",
        "namespace",
        "origin",
        "service",
        "error",
        "fault",
        "throttle",
        "precursor_ids",
        "subsegments",
        "annotations",
        "aws",
        "http",
        "cause",
    }
)
# Of an AWS call (the botocore patch's names): what was called, where, and how it went.
AWS_FIELDS = frozenset(
    {
        "operation",
        "region",
        "request_id",
        "id_2",
        "retries",
        "xray",
        "table_name",
        "table_names",
        "index_name",
        "bucket_name",
        "function_name",
        "qualifier",
        "invocation_type",
        "status_code",
        "function_error",
        "consumed_capacity",
        "count",
        "scanned_count",
    }
)
ANNOTATIONS = frozenset({"ColdStart", "Service"})  # Powertools' own, on the handler's
EXCEPTION_FIELDS = frozenset({"id", "type", "remote", "stack", "truncated", "skipped", "cause"})

logger = Logger()
tracer = Tracer(patch_modules=PATCH_MODULES, auto_patch=False)  # patched on botocore's import
metrics = Metrics()

REST = correlation_paths.API_GATEWAY_REST  # the request id of an API Gateway REST event
Handler = TypeVar("Handler", bound=Callable[..., Any])


def traced(entity: dict[str, Any]) -> dict[str, Any]:
    """The part of a segment or subsegment (`Entity.to_dict()`) that may go to X-Ray."""
    kept = {key: value for key, value in entity.items() if key in ENTITY_FIELDS}
    if "subsegments" in kept:
        kept["subsegments"] = [traced(child) for child in kept["subsegments"]]
    if "aws" in kept:
        kept["aws"] = {k: v for k, v in kept["aws"].items() if k in AWS_FIELDS}
    if "annotations" in kept:
        kept["annotations"] = {k: v for k, v in kept["annotations"].items() if k in ANNOTATIONS}
    if "http" in kept:
        response = kept["http"].get("response") or {}
        kept["http"] = {"response": {k: v for k, v in response.items() if k == "status"}}
    if isinstance(kept.get("cause"), dict):
        exceptions = kept["cause"].get("exceptions") or []
        kept["cause"] = {
            "exceptions": [
                {k: v for k, v in exception.items() if k in EXCEPTION_FIELDS}
                for exception in exceptions
            ]
        }
    elif "cause" in kept:  # an exception id of a sibling's exception: a plain string
        kept["cause"] = str(kept["cause"])
    return kept


class _Traced:
    """An entity as the emitter serializes it: only `traced(...)` of it."""

    def __init__(self, entity: Any) -> None:
        self.entity = entity

    def serialize(self) -> str:
        return json.dumps(traced(self.entity.to_dict()), default=str)


class TraceEmitter:
    """The X-Ray recorder's emitter (UDP to the daemon), sending `traced` entities only."""

    def __init__(self, emitter: Any) -> None:
        self.emitter = emitter

    def send_entity(self, entity: Any) -> None:
        self.emitter.send_entity(_Traced(entity))

    def set_daemon_address(self, address: str | None) -> None:
        self.emitter.set_daemon_address(address)


def _patch_aws_calls(_botocore_session: Any) -> None:
    tracer.patch(PATCH_MODULES)


if not tracer.disabled:  # the X-Ray SDK is imported (and botocore patched) only then
    import wrapt  # the X-Ray SDK's own dependency
    from aws_xray_sdk.core import xray_recorder  # type: ignore[import-untyped]

    if not isinstance(xray_recorder.emitter, TraceEmitter):
        xray_recorder.configure(emitter=TraceEmitter(xray_recorder.emitter))
    # runs at once when botocore's session is already imported, else right after its import
    wrapt.register_post_import_hook(_patch_aws_calls, "botocore.session")


def entry_point(correlation_id_path: str | None = None) -> Callable[[Handler], Handler]:
    """Every `lambda_handler`: the request's context (and correlation id) in every log line,
    one trace segment (without the response or the error: see the module's docstring),
    metrics flushed with the cold-start metric."""

    def wrap(handler: Handler) -> Handler:
        observed = tracer.capture_lambda_handler(
            metrics.log_metrics(capture_cold_start_metric=True)(handler),
            capture_response=False,
            capture_error=False,
        )
        inject = logger.inject_lambda_context(correlation_id_path=correlation_id_path)
        return cast(Handler, inject(observed))

    return wrap
