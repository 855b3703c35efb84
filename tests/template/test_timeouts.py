"""Every AWS client gives up well inside the Lambda timeout of every function that uses it.

A dependency that does not answer must surface as the contract's 503, not as Lambda killing
the invocation (which API Gateway turns into a bare 502/504 and the logs into a timeout).
Each client's worst case (attempts x (connect + read) plus the retries' backoff,
`store.aws.Timeouts.worst_case`) must stay within two thirds of each function's `Timeout`
in template.yaml; and the clients the store really builds carry exactly those settings.
"""

from __future__ import annotations

from typing import Any

import pytest

from devstack.functions import load_functions
from profile_photos.settings import load_settings
from profile_photos.store import aws
from profile_photos.store.models import (
    PhotoModel,
    RateLimitModel,
    UploadGrantModel,
    UserModel,
    hash_key_table,
    transaction_connection,
)

FUNCTIONS = {function.name: function.timeout for function in load_functions()}
HEADROOM = 2 / 3  # the rest: the cold start and the request's healthy calls


def test_the_template_has_the_functions_checked_here() -> None:
    assert {"UploadFunction", "SignedFetchFunction", "GraphQLFunction"} <= set(FUNCTIONS)
    assert all(timeout > 0 for timeout in FUNCTIONS.values()), FUNCTIONS


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
@pytest.mark.parametrize("service", sorted(aws.CLIENTS))
def test_a_client_gives_up_well_inside_the_function_timeout(service: str, function: str) -> None:
    timeouts = aws.CLIENTS[service]
    limit = FUNCTIONS[function] * HEADROOM
    assert timeouts.worst_case <= limit, (
        f"{service}: {timeouts.attempts} x ({timeouts.connect} + {timeouts.read}) s + backoff"
        f" = {timeouts.worst_case} s, more than {limit:.1f} s of {function}'s"
        f" {FUNCTIONS[function]} s Timeout"
    )


def test_worst_case_counts_every_attempt_and_the_backoff_between() -> None:
    # botocore standard mode: before retry i, up to min(2 ** (i - 1), 20) s
    assert aws.Timeouts(connect=1, read=2, attempts=1).worst_case == 3
    assert aws.Timeouts(connect=1, read=2, attempts=3).worst_case == 3 * 3 + 1 + 2
    assert aws.Timeouts(connect=0, read=0, attempts=7).worst_case == 1 + 2 + 4 + 8 + 16 + 20


def bound(config: Any) -> tuple[float, float, int]:
    """(connect, read, attempts in all) as a botocore client will use them."""
    retries = config.retries
    assert retries.get("mode") == "standard", retries
    attempts = retries.get("total_max_attempts", (retries.get("max_attempts") or 0) + 1)
    return config.connect_timeout, config.read_timeout, attempts


def expected(timeouts: aws.Timeouts) -> tuple[float, float, int]:
    return timeouts.connect, timeouts.read, timeouts.attempts


@pytest.fixture
def region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    aws.reset_session()


@pytest.mark.usefixtures("region")
def test_pynamodb_models_and_connections_use_the_dynamodb_timeouts() -> None:
    for model in (PhotoModel, UserModel, RateLimitModel, UploadGrantModel):
        meta = model.Meta
        assert (
            meta.connect_timeout_seconds,
            meta.read_timeout_seconds,
            meta.max_retry_attempts + 1,
        ) == expected(aws.DYNAMODB), model.__name__
    for connection in (transaction_connection(), hash_key_table("t", "pk").connection):
        assert bound(connection.client.meta.config) == expected(aws.DYNAMODB)


@pytest.mark.usefixtures("region")
def test_the_r2_and_lambda_clients_use_their_timeouts() -> None:
    from profile_photos.store.render_function import lambda_client
    from profile_photos.store.storage.r2 import r2_client

    settings = load_settings(
        {
            "OBJECT_STORAGE_PROVIDER": "R2",
            "R2_ENDPOINT_URL": "http://127.0.0.1:9",
            "R2_ACCESS_KEY_ID": "id",
            "R2_SECRET_ACCESS_KEY": "secret",
            "R2_USER_ASSETS_BUCKET": "user-assets",
            "LOCAL_STORAGE_SECRET": "s" * 40,
            "JWT_SECRET": "j" * 40,
        }
    )
    assert bound(r2_client(settings).meta.config) == expected(aws.OBJECT_STORAGE)
    lambda_client.cache_clear()
    try:
        assert bound(lambda_client().meta.config) == expected(aws.RENDER_FUNCTION)
    finally:
        lambda_client.cache_clear()


@pytest.mark.usefixtures("region")
def test_the_idempotency_records_client_uses_the_dynamodb_timeouts() -> None:
    # Powertools' persistence layer gets this client (Services.open_dynamodb), not one of its
    # own with botocore's defaults (60 s connect, 60 s read)
    assert bound(aws.dynamodb_client().meta.config) == expected(aws.DYNAMODB)
