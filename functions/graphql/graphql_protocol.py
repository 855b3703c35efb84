"""GraphQL over HTTP for this function: reading the request, and the errors' shape.

The GraphQL-over-HTTP draft's rules, as graphql-http's audit checks them: a POST whose body
is not `application/json` is 415; the answer is `application/graphql-response+json` when the
`Accept` header prefers it, else `application/json` (no `Accept`, `*/*`), and 406 when it
accepts neither. Both media types follow the same status rules: a request error
(unparsable query, failed validation, variables of the wrong shape: nothing executed, no
`path`) is 400 with GRAPHQL_PARSE_FAILED, GRAPHQL_VALIDATION_FAILED or, for variables,
BAD_USER_INPUT; a field error is 200 with the domain error's code. (For `application/json`
the draft prefers 200 for request errors too; the contract keeps 400, which tells a client
at once that nothing ran.) Only an unexpected exception in a resolver is
INTERNAL_SERVER_ERROR, and only that is logged at ERROR (`format_error` is the one place
errors are logged: ariadne's own logger, which logs every error at ERROR, is silenced).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from ariadne import graphql_sync, load_schema_from_path, make_executable_schema
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.metrics import MetricUnit
from graphql import GraphQLError, GraphQLSyntaxError, VariableDefinitionNode
from graphql_limits import MAX_QUERY_BYTES, PageSize, depth_limit, once_per_operation, query_cost
from graphql_resolvers import EXPORT_PAGE_MAX, PRICES, TYPES, Context

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


class GraphQLCode(StrEnum):
    """Every `errors[].extensions.code` this function answers, the only place one is spelled.
    The docs' table of codes is generated from it (docs/gen/error_codes.py)."""

    BAD_REQUEST = "BAD_REQUEST"
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
    NOT_ACCEPTABLE = "NOT_ACCEPTABLE"
    GRAPHQL_PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
    GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
    BAD_USER_INPUT = "BAD_USER_INPUT"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    CONFLICT = "CONFLICT"
    RATE_LIMITED = "RATE_LIMITED"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"


# error class -> `extensions.code`. Looked up along the MRO, so subclasses inherit.
GRAPHQL_CODE: dict[type[ServiceError], GraphQLCode] = {
    ValidationFailed: GraphQLCode.BAD_USER_INPUT,
    UnsupportedMediaType: GraphQLCode.BAD_USER_INPUT,
    Unauthorized: GraphQLCode.UNAUTHENTICATED,
    Forbidden: GraphQLCode.FORBIDDEN,
    NotFound: GraphQLCode.NOT_FOUND,
    Conflict: GraphQLCode.CONFLICT,
    IdempotencyKeyReused: GraphQLCode.BAD_USER_INPUT,
    RateLimited: GraphQLCode.RATE_LIMITED,
    DependencyUnavailable: GraphQLCode.SERVICE_UNAVAILABLE,
}
INTERNAL = GraphQLCode.INTERNAL_SERVER_ERROR
JSON = "application/json"
GRAPHQL_RESPONSE = "application/graphql-response+json"
# The answer's Content-Type per negotiated media type (application/json is UTF-8 by
# definition and takes no charset parameter).
CONTENT_TYPE = {JSON: JSON, GRAPHQL_RESPONSE: f"{GRAPHQL_RESPONSE}; charset=utf-8"}
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


def graphql_code(error: BaseException) -> GraphQLCode:
    for cls in type(error).__mro__:
        if cls in GRAPHQL_CODE:
            return GRAPHQL_CODE[cls]
    return INTERNAL


@dataclass(frozen=True)
class GraphQLRequest:
    """A well-formed GraphQL-over-HTTP request, and the media type its answer takes."""

    payload: dict[str, Any]
    media_type: str


def parse_request(headers: Any, body: bytes) -> GraphQLRequest | Response[str]:
    """The request, or its refusal in GraphQL's error shape: 406 when `Accept` names neither
    media type, 415 when the body is not declared JSON (a POST without `Content-Type`
    included), 400 when it is not a GraphQL request."""
    media_type = response_media_type(headers.get("accept"))
    if media_type is None:
        return refusal(406, GraphQLCode.NOT_ACCEPTABLE, f"Accept must allow {JSON}", JSON)
    if not is_json(headers.get("content-type")):
        message = f"Content-Type must be {JSON} (UTF-8)"
        return refusal(415, GraphQLCode.UNSUPPORTED_MEDIA_TYPE, message, media_type)
    problem = request_problem(body)
    if isinstance(problem, str):
        return refusal(400, GraphQLCode.BAD_REQUEST, problem, media_type)
    return GraphQLRequest(problem, media_type)


def request_problem(body: bytes) -> dict[str, Any] | str:
    """The GraphQL request object, or why the body is not one."""
    if len(body) > MAX_QUERY_BYTES:
        return f"Request is larger than {MAX_QUERY_BYTES} bytes"
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return "Body must be a JSON object with a 'query' string"
    if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
        return "Body must be a JSON object with a 'query' string"
    if not isinstance(payload.get("operationName"), str | None):
        return "'operationName' must be a string or null"
    for name in ("variables", "extensions"):
        if not isinstance(payload.get(name), dict | None):
            return f"'{name}' must be an object or null"
    return payload


def response_media_type(accept: str | None) -> str | None:
    """The media type to answer in (None: `Accept` allows neither, 406).

    Each supported type takes the q of the most specific range that matches it (RFC 9110,
    12.5.1); the higher q wins, then the type named explicitly, then the one listed first.
    Without `Accept`, or with wildcards only, `application/json`: what clients that predate
    `application/graphql-response+json` expect."""
    if not accept or not accept.strip():
        return JSON
    ranges = [media_range(index, item) for index, item in enumerate(accept.split(","))]
    ranked = []
    for preference, candidate in enumerate((GRAPHQL_RESPONSE, JSON)):  # JSON wins a tie
        kind = candidate.split("/")[0]
        names = {candidate: 2, f"{kind}/*": 1, "*/*": 0}
        matches = [(names[name], -index, q) for name, q, index in ranges if name in names]
        if matches:
            specificity, position, q = max(matches)
            ranked.append((q, specificity, position, preference, candidate))
    best = max(ranked, default=None)
    return best[4] if best is not None and best[0] > 0 else None


def media_range(index: int, item: str) -> tuple[str, float, int]:
    """One `Accept` element: (type/subtype lowercased, q, position); a bad q counts as 0."""
    name, *parameters = (part.strip() for part in item.split(";"))
    q = 1.0
    for parameter in parameters:
        key, _, value = parameter.partition("=")
        if key.strip().lower() == "q":
            try:
                q = min(max(float(value.strip()), 0.0), 1.0)
            except ValueError:
                q = 0.0
    return name.lower(), q, index


def is_json(content_type: str | None) -> bool:
    """`application/json`, with no charset or UTF-8 (the draft's only required request
    type; anything else, a missing Content-Type included, is 415)."""
    name, *parameters = (part.strip() for part in (content_type or "").split(";"))
    if name.lower() != JSON:
        return False
    for parameter in parameters:
        key, _, value = parameter.partition("=")
        if key.strip().lower() == "charset" and value.strip().strip('"').lower() not in (
            "utf-8",
            "utf8",
        ):
            return False
    return True


def refusal(status: int, code: GraphQLCode, message: str, media_type: str) -> Response[str]:
    """A request refused before GraphQL saw it, in GraphQL's error shape."""
    metrics.add_metric(name="RequestRefused", unit=MetricUnit.Count, value=1)
    logger.info("GraphQL request refused", extra={"status": status, "code": code})
    body = {"errors": [{"message": message, "extensions": {"code": code}}]}
    return answer(status, body, media_type)


def answer(status: int, payload: dict[str, Any], media_type: str) -> Response[str]:
    return Response(
        status_code=status,
        content_type=CONTENT_TYPE[media_type],
        body=json.dumps(payload, separators=(",", ":")),
    )


def execute(request: GraphQLRequest, context: Context) -> Response[str]:
    """Run the operation: 200 once execution started; a request error is 400 without `data`
    (graphql-core answers a variable coercion failure with `data: null`, which the GraphQL
    spec keeps for an execution that ran and failed)."""
    success, result = graphql_sync(
        SCHEMA,
        request.payload,
        context_value=context,
        validation_rules=validation_rules,
        introspection=context.services.settings.graphql_introspection,
        error_formatter=format_error,
        logger=ARIADNE_LOGGER,
        debug=False,
    )
    metrics.add_metric(name="GraphQLRequest", unit=MetricUnit.Count, value=1)
    if success or executed(result):
        return answer(200, result, request.media_type)
    return answer(400, {"errors": result.get("errors", [])}, request.media_type)


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
        code = GraphQLCode.GRAPHQL_PARSE_FAILED
    elif error.path is None and is_variable_error(error):
        code = GraphQLCode.BAD_USER_INPUT  # variables of the wrong type or shape
    elif error.path is None or original is None:
        code = GraphQLCode.GRAPHQL_VALIDATION_FAILED  # unknown fields, limits, non-null violations
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
