"""One Logger, Tracer and Metrics for every function.

The service name comes from `POWERTOOLS_SERVICE_NAME` and the namespace from
`POWERTOOLS_METRICS_NAMESPACE`, both set in the template's Globals. Never log events,
tokens or file bytes.
"""

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
tracer = Tracer()
metrics = Metrics()
