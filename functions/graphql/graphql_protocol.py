"""GraphQL over HTTP for this function: reading the request, and the errors' shape.

A request error (unparsable query, failed validation, variables of the wrong shape: nothing
executed, no `path`) is 400 with GRAPHQL_PARSE_FAILED, GRAPHQL_VALIDATION_FAILED or, for
variables, BAD_USER_INPUT; a field error is 200 with the domain error's code. Only an
unexpected exception in a resolver is INTERNAL_SERVER_ERROR, and only that is logged at ERROR
(`format_error` is the one place errors are logged: ariadne's own logger, which logs every
error at ERROR, is silenced).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from ariadne import graphql_sync, load_schema_from_path, make_executable_schema
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.metrics import MetricUnit
from graphql import GraphQLError, GraphQLSyntaxError, VariableDefinitionNode
from graphql_limits import MAX_QUERY_BYTES, PageSize, depth_limit, once_per_operation, query_cost
from graphql_resolvers import EXPORT_PAGE_MAX, PRICES, TYPES, Context

from profile_photos.api.web import json_response
from profile_photos.errors import (
    Conflict,
    DependencyUnavailable,
    Forbidden,
    IdempotencyKeyReused,
    NotFound,
    RateLimited,
    ServiceError,
    Unauthorized,
    UnsupportedMediaType,
    ValidationFailed,
)
from profile_photos.observability import logger, metrics
from profile_photos.renditions import SIZES

# error class -> `extensions.code`. Looked up along the MRO, so subclasses inherit.
GRAPHQL_CODE: dict[type[ServiceError], str] = {
    ValidationFailed: "BAD_USER_INPUT",
    UnsupportedMediaType: "BAD_USER_INPUT",
    Unauthorized: "UNAUTHENTICATED",
    Forbidden: "FORBIDDEN",
    NotFound: "NOT_FOUND",
    Conflict: "CONFLICT",
    IdempotencyKeyReused: "BAD_USER_INPUT",
    RateLimited: "RATE_LIMITED",
    DependencyUnavailable: "SERVICE_UNAVAILABLE",
}
INTERNAL = "INTERNAL_SERVER_ERROR"
SCHEMA = make_executable_schema(
    load_schema_from_path(str(Path(__file__).with_name("schema.graphql"))), *TYPES
)
DEPTH_LIMIT = depth_limit(8)
# Every field costs 1, a field that reads DynamoDB its price on top (graphql_resolvers.PRICES),
# and a list field multiplies its selection by its bound: the largest legitimate operation,
# one full export page with every field, its three renditions and `count` (about 1,980),
# must fit.
MAX_COST = 2000
EXPORT_ONCE = once_per_operation(frozenset({("Mutation", "exportProfilePhotos")}))


def validation_rules(context: Any, _: Any, data: dict[str, Any]) -> list[Any]:
    """Per request: page sizes come from the variables, the profilePhotos bound from the
    settings (RETENTION_ACTIVE_LIMIT, retention's steady state: only between new uploads and
    the retention run that follows them can more be active, and each upload is charged); the
    prices of the fields that read from graphql_resolvers."""
    variables = data.get("variables") if isinstance(data.get("variables"), dict) else None
    bounds: dict[tuple[str, str], int | PageSize] = {
        ("User", "profilePhotos"): context.services.settings.retention_active_limit,
        ("PhotoExport", "items"): PageSize("first", EXPORT_PAGE_MAX),
        ("ExportedPhoto", "renditions"): len(SIZES),
    }
    return [DEPTH_LIMIT, EXPORT_ONCE, query_cost(MAX_COST, bounds, variables, PRICES)]


class _Silent(logging.LoggerAdapter):  # type: ignore[type-arg]
    """Given to ariadne, which logs every GraphQL error at ERROR (client errors included);
    `format_error` logs what needs logging instead."""

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        return None


ARIADNE_LOGGER = _Silent(logging.getLogger("ariadne"), {})


def graphql_code(error: BaseException) -> str:
    for cls in type(error).__mro__:
        if cls in GRAPHQL_CODE:
            return GRAPHQL_CODE[cls]
    return INTERNAL


def parse_request(body: bytes) -> dict[str, Any] | Response[str]:
    """The GraphQL request object, or a 400 in GraphQL's error shape."""
    if len(body) > MAX_QUERY_BYTES:
        return bad_request(f"Request is larger than {MAX_QUERY_BYTES} bytes")
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return bad_request("Body must be a JSON object with a 'query' string")
    if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
        return bad_request("Body must be a JSON object with a 'query' string")
    return payload


def bad_request(message: str) -> Response[str]:
    metrics.add_metric(name="RequestRefused", unit=MetricUnit.Count, value=1)
    return json_response(
        400, {"errors": [{"message": message, "extensions": {"code": "BAD_REQUEST"}}]}
    )


def execute(payload: dict[str, Any], context: Context) -> Response[str]:
    """Run the operation: 200 once execution started, 400 for a request error."""
    success, result = graphql_sync(
        SCHEMA,
        payload,
        context_value=context,
        validation_rules=validation_rules,
        introspection=context.services.settings.graphql_introspection,
        error_formatter=format_error,
        logger=ARIADNE_LOGGER,
        debug=False,
    )
    metrics.add_metric(name="GraphQLRequest", unit=MetricUnit.Count, value=1)
    return json_response(200 if success or executed(result) else 400, result)


def executed(result: dict[str, Any]) -> bool:
    """Whether execution started: `data` is present and not every error is a request error
    (field errors carry a `path`; a mutation nulled by its error still executed: HTTP 200)."""
    if "data" not in result:
        return False
    return result["data"] is not None or any("path" in e for e in result.get("errors", []))


def format_error(error: GraphQLError, debug: bool = False) -> dict[str, Any]:
    """`extensions.code` from the domain error; anything unexpected is logged and hidden.

    An error without a `path` was raised before execution, by the parser, a validation rule
    or variable coercion: always the client's, whatever `original_error` it carries
    (variable coercion wraps the GraphQLError of the scalar's parser, which was once taken for
    a resolver failure). Only a resolver's unexpected exception is internal.
    """
    formatted: dict[str, Any] = dict(error.formatted)
    extensions: dict[str, Any] = {}
    original = error.original_error
    if isinstance(original, ServiceError):
        formatted["message"] = original.message
        code = graphql_code(original)
        if isinstance(original, RateLimited):
            extensions["retryAfter"] = original.retry_after
    elif isinstance(error, GraphQLSyntaxError):
        code = "GRAPHQL_PARSE_FAILED"
    elif error.path is None and is_variable_error(error):
        code = "BAD_USER_INPUT"  # variables of the wrong type or shape
    elif error.path is None or original is None:
        code = "GRAPHQL_VALIDATION_FAILED"  # unknown fields, limits, non-null violations
    else:
        logger.exception("resolver failed", exc_info=original)
        formatted["message"] = "Internal server error"
        code = INTERNAL
    if code != INTERNAL:
        logger.info("GraphQL error", extra={"code": code, "graphqlMessage": error.message[:200]})
    formatted["extensions"] = {"code": code, **extensions}
    return formatted


def is_variable_error(error: GraphQLError) -> bool:
    """Variable coercion's errors point at the variable's definition (and only there)."""
    return bool(error.nodes) and all(
        isinstance(node, VariableDefinitionNode) for node in error.nodes or ()
    )
