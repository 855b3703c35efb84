"""Lambda: `POST /graphql` (JWT). Reads profiles; manages the caller's own photos.

A request without a valid token is refused before execution with the REST endpoints' 401
envelope. Errors inside GraphQL follow the spec (`errors[].extensions.code`); internals are
logged, never returned. Query size, depth and cost are limited; introspection is off unless
`GRAPHQL_INTROSPECTION=true`.
"""

import json
import time
from pathlib import Path
from typing import Any

from ariadne import graphql_sync, load_schema_from_path, make_executable_schema
from ariadne.validation import cost_validator
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from graphql import GraphQLError, GraphQLSyntaxError
from graphql_limits import MAX_QUERY_BYTES, depth_limit
from graphql_resolvers import TYPES, Context

from profile_photos.auth import authenticate
from profile_photos.errors import ServiceError, graphql_code
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
MAX_COST = 500


def validation_rules(_: Any, __: Any, data: dict[str, Any]) -> list[Any]:
    """Per request: the cost of fields with arguments depends on the request's variables."""
    variables = data.get("variables") if isinstance(data.get("variables"), dict) else None
    return [DEPTH_LIMIT, cost_validator(MAX_COST, default_cost=1, variables=variables)]


app = APIGatewayRestResolver()
install_error_handlers(app)


@app.post("/graphql")
@tracer.capture_method
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
        debug=False,
    )
    metrics.add_metric(name="GraphQLRequest", unit=MetricUnit.Count, value=1)
    return json_response(200 if success else 400, result)


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
    """`extensions.code` from the domain error; anything unexpected is logged and hidden."""
    formatted: dict[str, Any] = dict(error.formatted)
    original = error.original_error
    if isinstance(original, ServiceError):
        formatted["message"] = original.message
        code = graphql_code(original)
    elif isinstance(error, GraphQLSyntaxError):
        code = "GRAPHQL_PARSE_FAILED"
    elif original is None:
        code = "GRAPHQL_VALIDATION_FAILED"  # unknown fields, bad variables, limits
    else:
        logger.exception("resolver failed", exc_info=original)
        formatted["message"] = "Internal server error"
        code = "INTERNAL_SERVER_ERROR"
    formatted["extensions"] = {"code": code}
    return formatted


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
