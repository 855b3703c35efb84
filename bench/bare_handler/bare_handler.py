"""The anchor: a bare Powertools handler (Logger, Tracer, Metrics, APIGatewayRestResolver, one
route returning 200), decorated exactly as the service's handlers are.

Its one route answers a signed-fetch path. With `BARE_FILE` set it returns that file's bytes,
read from disk on every request: the floor a signed fetch could reach (no token, no object
store). Without it, an empty 200. No package of ours, nothing lazy: what every function pays
at least.
"""

import os

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
tracer = Tracer()
metrics = Metrics()
app = APIGatewayRestResolver()


@app.get("/api/storage/signed/<bucket>/.+")
@tracer.capture_method
def serve(bucket: str) -> Response:
    path = os.environ.get("BARE_FILE")
    body = b""
    if path:
        with open(path, "rb") as handle:  # the floor: one plain read from disk
            body = handle.read()
    return Response(status_code=200, content_type="image/jpeg", body=body)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
