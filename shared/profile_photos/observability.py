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
"""

from collections.abc import Callable
from typing import Any, TypeVar, cast

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging import correlation_paths

PATCH_MODULES = ("botocore",)

logger = Logger()
tracer = Tracer(patch_modules=PATCH_MODULES)
metrics = Metrics()

REST = correlation_paths.API_GATEWAY_REST  # the request id of an API Gateway REST event
Handler = TypeVar("Handler", bound=Callable[..., Any])


def entry_point(correlation_id_path: str | None = None) -> Callable[[Handler], Handler]:
    """Every `lambda_handler`: the request's context (and correlation id) in every log line,
    one trace segment, metrics flushed with the cold-start metric."""

    def wrap(handler: Handler) -> Handler:
        observed = tracer.capture_lambda_handler(
            metrics.log_metrics(capture_cold_start_metric=True)(handler)
        )
        inject = logger.inject_lambda_context(correlation_id_path=correlation_id_path)
        return cast(Handler, inject(observed))

    return wrap
