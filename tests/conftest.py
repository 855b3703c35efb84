"""Process-wide test setup: Powertools and AWS SDK settings that must exist before imports."""

import os
from pathlib import Path

import pytest

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


def _share_botocore_data() -> None:
    """One botocore data loader per test process: botocore parses a service's model and
    endpoint rules once per session, and the tests make fresh sessions all the time (each
    test's moto, `services.reset()`, pynamodb's own), so a test spent more time re-reading
    the same JSON files than running. The clients of one session share a loader's contents
    the same way, S3's rewrite of its operations' paths on its first client included
    (botocore.handlers): a test that compares with botocore's own model reads it with a
    loader of its own (`botocore.loaders.create_loader()`)."""
    import functools

    import botocore.loaders
    import botocore.session

    botocore.session.create_loader = functools.cache(botocore.loaders.create_loader)


_share_botocore_data()


# The order pytest-xdist hands tests out in (`make test`, `--dist load`): the tiers whose tests
# take seconds each (a real stack, a subprocess, a 100 MP image) before the ones of
# milliseconds, so the run ends on many short tests that spread over the workers, not on one
# worker still holding a queue of long ones while the others stand idle. Integration comes
# first: its IAM check (tests/integration/conftest.py moves it after everything else) waits
# for every integration test, and a worker waiting there does nothing else.
TIER_ORDER = ("integration", "corpus", "e2e", "template", "unit")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    tests = Path(__file__).resolve().parent

    def tier(item: pytest.Item) -> int:
        relative = Path(str(item.path)).resolve().relative_to(tests)
        name = relative.parts[0] if len(relative.parts) > 1 else ""
        return TIER_ORDER.index(name) if name in TIER_ORDER else len(TIER_ORDER)

    items.sort(key=tier)  # stable: each tier keeps pytest's own order
