"""Lambda: `POST /graphql` (JWT). Reads profiles; manages the caller's own photos.

A request without a valid token is refused before execution with the REST endpoints' 401
envelope. Errors follow the spec (`errors[].extensions.code`, graphql_protocol); query size,
depth and cost are limited (graphql_limits); introspection is off unless configured.
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
    payload = parse_request(raw_body(event))
    if isinstance(payload, Response):
        return payload
    root.refresh_claims(identity)
    here = root.at(public_base_url(event, root.settings))
    return execute(payload, Context(here, identity, int(time.time())))


@entry_point(REST)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
