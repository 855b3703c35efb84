"""Process-wide test setup: Powertools and AWS SDK settings that must exist before imports."""

import os

# Powertools reads these when Logger/Metrics/Tracer are created (at handler import).
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "profile-photos")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "ProfilePhotos")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
# Never reach a real AWS account from the tests.
os.environ["AWS_DEFAULT_REGION"] = "eu-west-1"
os.environ["AWS_ACCESS_KEY_ID"] = "testing"
os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
os.environ.pop("AWS_PROFILE", None)
# botocore 1.44 addresses DynamoDB Streams at `<account>.streams-ddb.<region>`, a host moto
# 5.2.5 does not route; the classic endpoint is what moto (and the local stack) serve.
os.environ["AWS_ACCOUNT_ID_ENDPOINT_MODE"] = "disabled"


from devstack.moto_atomic import make_dynamodb_atomic

make_dynamodb_atomic()
