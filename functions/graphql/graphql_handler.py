"""Lambda: `POST /graphql` (JWT). Reads profiles; manages the caller's own photos.

A request without a valid token is refused before execution with the REST endpoints' 401
envelope. Errors inside GraphQL follow the spec (`errors[].extensions.code`); internals are
logged, never returned. Query size, depth and cost are limited (see graphql_limits: list
fields count their bound, so one export page of 100 items with every field costs about 910);
an operation exports at most once; introspection is off unless `GRAPHQL_INTROSPECTION=true`.

Client errors are never server errors: a request error (unparsable query, failed validation,
variables of the wrong shape: nothing executed, no `path`) is 400 with
GRAPHQL_PARSE_FAILED, GRAPHQL_VALIDATION_FAILED or, for variables, BAD_USER_INPUT; a field
error is 200 with the domain error's code. Only an unexpected exception in a resolver is
INTERNAL_SERVER_ERROR, and only that is logged at ERROR (`format_error` is the one place
errors are logged: ariadne's own logger, which logs every error at ERROR, is silenced).
"""

import json
import logging
import time
from pathlib import Path
from typing import Any

from ariadne import graphql_sync, load_schema_from_path, make_executable_schema
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from graphql import GraphQLError, GraphQLSyntaxError, VariableDefinitionNode
from graphql_limits import MAX_QUERY_BYTES, PageSize, depth_limit, once_per_operation, query_cost
from graphql_resolvers import EXPORT_PAGE_MAX, TYPES, Context

from profile_photos.auth import authenticate
from profile_photos.errors import RateLimited, ServiceError, graphql_code
from profile_photos.models import bind_tables
from profile_photos.observability import logger, metrics, tracer
from profile_photos.profiles import refresh_user
from profile_photos.settings import get_settings
from profile_photos.storage import get_storage
from profile_photos.web import install_error_handlers, json_response, public_base_url, raw_body

SCHEMA = make_executable_schema(
    load_schema_from_path(str(Path(__file__).with_name("schema.graphql"))), *TYPES
)
DEPTH_LIMIT = depth_limit(8)
# Every field costs 1 and a list field multiplies its selection by its bound: the largest
# legitimate operation, one full export page with every field (about 910), must fit.
MAX_COST = 1000
EXPORT_ONCE = once_per_operation(frozenset({("Mutation", "exportProfilePhotos")}))


class _Silent(logging.LoggerAdapter):
    """Given to ariadne, which logs every GraphQL error at ERROR (client errors included);
    `format_error` logs what needs logging instead."""

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        return None


ARIADNE_LOGGER = _Silent(logging.getLogger("ariadne"), {})


def validation_rules(context: Any, __: Any, data: dict[str, Any]) -> list[Any]:
    """Per request: page sizes come from the variables, the profilePhotos bound from the
    settings (RETENTION_ACTIVE_LIMIT, retention's steady state: only between new uploads and
    the retention run that follows them can more be active, and each upload is charged)."""
    variables = data.get("variables") if isinstance(data.get("variables"), dict) else None
    bounds = {
        ("User", "profilePhotos"): context.settings.retention_active_limit,
        ("PhotoExport", "items"): PageSize("first", EXPORT_PAGE_MAX),
    }
    return [DEPTH_LIMIT, EXPORT_ONCE, query_cost(MAX_COST, bounds, variables)]


app = APIGatewayRestResolver()
install_error_handlers(app)


@app.post("/graphql")
def graphql_endpoint() -> Response:
    event = app.current_event
    settings = get_settings()
    identity = authenticate(event.headers.get("authorization"), settings)
    payload = parse_request(raw_body(event))
    if isinstance(payload, Response):
        return payload
    bind_tables(settings)
    refresh_user(identity)
    context = Context(
        identity=identity,
        settings=settings,
        storage=get_storage(settings),
        base_url=public_base_url(event, settings),
        now=int(time.time()),
    )
    success, result = graphql_sync(
        SCHEMA,
        payload,
        context_value=context,
        validation_rules=validation_rules,
        introspection=settings.graphql_introspection,
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


def parse_request(body: bytes) -> dict[str, Any] | Response:
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


def bad_request(message: str) -> Response:
    metrics.add_metric(name="RequestRefused", unit=MetricUnit.Count, value=1)
    return json_response(
        400, {"errors": [{"message": message, "extensions": {"code": "BAD_REQUEST"}}]}
    )


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
        code = "INTERNAL_SERVER_ERROR"
    if code != "INTERNAL_SERVER_ERROR":
        logger.info("GraphQL error", extra={"code": code, "graphqlMessage": error.message[:200]})
    formatted["extensions"] = {"code": code, **extensions}
    return formatted


def is_variable_error(error: GraphQLError) -> bool:
    """Variable coercion's errors point at the variable's definition (and only there)."""
    return bool(error.nodes) and all(
        isinstance(node, VariableDefinitionNode) for node in error.nodes or ()
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
