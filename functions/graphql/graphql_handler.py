"""Lambda: `POST /graphql` (JWT). Reads profiles; manages the caller's own photos.

A request without a valid token is refused before execution with the REST endpoints' 401
envelope. Media types, statuses and errors follow the GraphQL-over-HTTP draft
(`errors[].extensions.code`, graphql_protocol); query size, depth and cost are limited
(graphql_limits); introspection is off unless configured (the local stack turns it on).
"""

import time
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext
from graphql_protocol import execute, parse_request
from graphql_resolvers import Context

from profile_photos.api.web import public_base_url, raw_body, rest_app
from profile_photos.auth import authenticate
from profile_photos.observability import REST, entry_point
from profile_photos.services import services

app = rest_app()


@app.post("/graphql")
def graphql_endpoint() -> Response[str]:
    event, root = app.current_event, services()
    identity = authenticate(event.headers.get("authorization"), root.settings)
    request = parse_request(event.headers, raw_body(event))
    if isinstance(request, Response):
        return request
    root.refresh_claims(identity)
    here = root.at(public_base_url(event, root.settings))
    return execute(request, Context(here, identity, int(time.time())))


@entry_point(REST)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
