"""One Logger, Tracer and Metrics for every function, and the one way to wrap a handler.

The service name comes from `POWERTOOLS_SERVICE_NAME` and the namespace from
`POWERTOOLS_METRICS_NAMESPACE`, both set in the template's Globals. Never log events,
tokens or file bytes.
"""

from collections.abc import Callable
from typing import Any, TypeVar, cast

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging import correlation_paths

logger = Logger()
tracer = Tracer()
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
