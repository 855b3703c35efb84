"""One botocore session per container: pynamodb's connections and the boto3 clients share it.

A fresh botocore session reloads endpoints.json and each service model (~55 ms a client);
`store.aws.share_session` points pynamodb's `Connection.session` at the container's one.
"""

from __future__ import annotations

from collections.abc import Iterator

import botocore.session
import pytest
from pynamodb.connection import Connection

from profile_photos.settings import load_settings
from profile_photos.store import aws
from profile_photos.store.models import hash_key_table, transaction_connection
from profile_photos.store.render_function import lambda_client
from profile_photos.store.storage.r2 import r2_client


@pytest.fixture
def sessions_made(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[object]]:
    """Every botocore Session created while the test runs."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    made: list[object] = []
    original = botocore.session.Session.__init__

    def counting(self: botocore.session.Session, *args: object, **kwargs: object) -> None:
        made.append(self)
        original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(botocore.session.Session, "__init__", counting)
    aws.reset_session()
    lambda_client.cache_clear()
    yield made
    lambda_client.cache_clear()
    aws.reset_session()


def test_every_client_of_a_container_comes_from_one_session(sessions_made: list[object]) -> None:
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
    # what the models' table connections do (each model holds its own Connection)
    connections = [Connection(**aws.connection_options()) for _ in range(4)]
    connections += [transaction_connection.__wrapped__()]
    connections += [hash_key_table.__wrapped__("rate-limits", "pk").connection]
    for connection in connections:
        assert connection.client.meta.service_model.service_name == "dynamodb"
    r2_client(settings)
    lambda_client()

    assert len(sessions_made) == 1
    assert all(connection.session is aws.session() for connection in connections)


def test_reset_starts_a_new_session(sessions_made: list[object]) -> None:
    first = aws.session()
    assert aws.session() is first
    aws.reset_session()
    assert aws.session() is not first
    assert len(sessions_made) == 2
