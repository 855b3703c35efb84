"""What every AWS client of the store shares: one botocore session, and timeouts fit for Lambda.

**One session.** botocore's `Session` owns the loaders of `endpoints.json` (1.25 MB) and of
each service model; a client made from a session that already loaded them costs ~3 ms, a
client on a fresh session ~55 ms more. pynamodb's `Connection.session` calls botocore's
`get_session()` for every connection (each model class holds its own), so `share_session()`
points that property at `session()`: the models' connections, the transaction and counter
connections, the R2, Lambda, CloudFront and SSM clients (`client()`) all come from one session
per container.
The session is per thread (botocore's client creation is not thread-safe, which is why
pynamodb keeps one per thread too); a Lambda container runs one thread, so it has one.
`reset_session()` forgets it (tests and the bench, with `services.reset()`). Its loader reads
`endpoints.json` from `store.endpoints`' cut-down copy (~45 KB of the 1.25 MB file, the same
entries for the services called here): ~25-45 ms less for a container's first client; it
knows only those services (`kept_services_loader`: botocore's loader lists all ~450 before
loading one) and finds S3's model cut to the operations R2 is called with.

**Timeouts.** A dependency that does not answer must become the contract's 503
(`DependencyUnavailable` -> SERVICE_UNAVAILABLE) well before Lambda kills the invocation:
pynamodb's defaults wait 15 s to connect and 30 s to read, three times, against a 15 s
function. Each client's worst case is `attempts x (connect + read)` plus the retries'
backoff (botocore's standard mode: before retry i, at most `min(2 ** (i - 1), 20)` s, the
throttling scale), and it must stay within two thirds of the shortest `Timeout` of the
functions that use the client, leaving a third for the cold start and the request's healthy
calls (tests/template/test_timeouts.py checks this against template.yaml):

- DynamoDB: connect 1 s, read 2 s, 2 attempts -> 7 s. Single-item and transactional calls
  answer in milliseconds; the second attempt absorbs one dropped connection or 500.
- R2 (S3 API, over the internet): connect 1 s, read 3 s, 2 attempts -> 9 s.
- The renditions function (Lambda `Invoke`): connect 1 s, read 7 s, 1 attempt -> 8 s. A
  render takes well under a second for 12 MP (a few seconds at 100 MP, its cold start
  included); a second invoke would only repeat a slow render, and the client's retry of the
  URL does that just as well after the 503.

- CloudFront (`CreateInvalidation`, an erasure's CDN purge): connect 1 s, read 3 s, 2
  attempts -> 9 s. CloudFront answers once the invalidation is recorded, not once it is done;
  a second attempt reuses the request's `CallerReference`, so it cannot start a second one.
- SSM Parameter Store (the distribution's id, read once per container when a CDN is
  configured): connect 1 s, read 2 s, 2 attempts -> 7 s.

The read timeout bounds each wait for bytes, not a whole response that keeps trickling in.
The bound leaves out the `x-amz-retry-after` header (up to 5 s more per retry), which
DynamoDB, S3 and Lambda do not send.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from botocore.config import Config
    from botocore.loaders import Loader
    from botocore.session import Session

MAX_BACKOFF_SECONDS = 20.0  # botocore's standard retry mode caps each backoff here


@dataclass(frozen=True, slots=True)
class Timeouts:
    connect: float  # seconds to open the connection (TCP + TLS)
    read: float  # seconds to wait for the next bytes of the response
    attempts: int  # in all, the first one included (botocore's total_max_attempts)

    @property
    def worst_case(self) -> float:
        """Seconds a call can take against a dependency that accepts and never answers."""
        backoff = sum(min(2.0**retry, MAX_BACKOFF_SECONDS) for retry in range(self.attempts - 1))
        return self.attempts * (self.connect + self.read) + backoff

    def config(self, **options: Any) -> Config:
        """botocore's client configuration with these timeouts (standard retry mode)."""
        from botocore.config import Config

        return Config(
            connect_timeout=self.connect,
            read_timeout=self.read,
            retries={"mode": "standard", "total_max_attempts": self.attempts},
            **options,
        )


DYNAMODB = Timeouts(connect=1.0, read=2.0, attempts=2)
OBJECT_STORAGE = Timeouts(connect=1.0, read=3.0, attempts=2)
RENDER_FUNCTION = Timeouts(connect=1.0, read=7.0, attempts=1)
CDN = Timeouts(connect=1.0, read=3.0, attempts=2)
PARAMETERS = Timeouts(connect=1.0, read=2.0, attempts=2)

# Every client the store makes, by the AWS service it calls (tests/template/test_timeouts.py).
CLIENTS = {
    "dynamodb": DYNAMODB,
    "s3": OBJECT_STORAGE,
    "lambda": RENDER_FUNCTION,
    "cloudfront": CDN,
    "ssm": PARAMETERS,
}


class DynamoDBMeta:
    """The timeouts of every pynamodb model and connection (pynamodb's `Meta` options;
    its `max_retry_attempts` counts the retries, botocore's the attempts)."""

    connect_timeout_seconds = DYNAMODB.connect
    read_timeout_seconds = DYNAMODB.read
    max_retry_attempts = DYNAMODB.attempts - 1


def connection_options() -> dict[str, Any]:
    """The same timeouts as keyword arguments of pynamodb's `Connection`/`TableConnection`."""
    return {
        "connect_timeout_seconds": DynamoDBMeta.connect_timeout_seconds,
        "read_timeout_seconds": DynamoDBMeta.read_timeout_seconds,
        "max_retry_attempts": DynamoDBMeta.max_retry_attempts,
    }


_per_thread = threading.local()


def session() -> Session:
    """This thread's botocore session (one per Lambda container), created on first use."""
    current: Session | None = getattr(_per_thread, "session", None)
    if current is None:
        from botocore.session import get_session

        from profile_photos.store.endpoints import FOLDER

        current = _per_thread.session = get_session()
        # botocore's endpoints.json cut to our services, ahead of any AWS_DATA_PATH and of
        # botocore's own data (store.endpoints); set before the session's loader exists
        paths = [str(FOLDER), current.get_config_variable("data_path")]
        current.set_config_variable("data_path", os.pathsep.join(p for p in paths if p))
        current.register_component("data_loader", kept_services_loader(current))
    return current


def kept_services_loader(session: Session) -> Loader:
    """botocore's loader on the session's data path, told that the services the store calls
    (`store.endpoints.KEPT`) are the only ones there are.

    Before it loads a service's model or endpoint rules, botocore's `Loader` lists every
    service it could load (`list_available_services`: a directory listing of each of the
    ~450 service folders of its data, once for `service-2` and once more for
    `endpoint-rule-set-1`), ~30-40 ms of a container's first client, only to check that the
    one asked for exists. This loader answers from `KEPT` alone, checked against the same
    search paths, so a kept service loads the same files as before and any other service is
    unknown to the store's session, as its cut-down endpoints.json already makes it."""
    from botocore.loaders import Loader

    from profile_photos.store.endpoints import KEPT

    class KeptServicesLoader(Loader):
        def list_available_services(self, type_name: str) -> list[str]:
            return sorted(
                service
                for service in KEPT
                if any(_offers(root, service, type_name, self) for root in self.search_paths)
            )

    data_path = session.get_config_variable("data_path")
    return KeptServicesLoader(
        extra_search_paths=[os.path.expanduser(p) for p in data_path.split(os.pathsep) if p]
    )


def _offers(root: str, service: str, type_name: str, loader: Loader) -> bool:
    """Whether `root` holds `type_name` of some API version of `service` (botocore's test)."""
    folder = os.path.join(root, service)
    if not os.path.isdir(folder):
        return False
    return any(
        loader.file_loader.exists(os.path.join(folder, version, type_name))
        for version in os.listdir(folder)
    )


def reset_session() -> None:
    """Forget the session: the next client starts a new one (after moto starts, say)."""
    _per_thread.session = None


def share_session() -> None:
    """Make pynamodb's connections use `session()` instead of a session each. The models
    never carry credentials of their own (the function's role signs), so pynamodb's per-
    connection `set_credentials` has nothing to do."""
    from pynamodb.connection import Connection

    setattr(Connection, "session", property(lambda _connection: session()))  # noqa: B010


def client(service: str, **options: Any) -> Any:
    """A botocore client for `service` on the shared session, with that service's timeouts
    (`CLIENTS`); `options` are `create_client`'s (endpoint, region, keys) and, under
    `config`, more of botocore's `Config` (signature version, S3 addressing).

    botocore's own client, not boto3's: boto3 only wraps the same client, and importing it
    loads s3transfer, concurrent.futures and multiprocessing (~60 modules, ~25 ms of a cold
    start) for transfer helpers nothing here calls. Presigned URLs are botocore's."""
    config = CLIENTS[service].config(**options.pop("config", {}))
    return session().create_client(service, config=config, **options)


def dynamodb_client() -> Any:
    """A low-level DynamoDB client on the shared session, with the DynamoDB timeouts: for
    what talks to DynamoDB without pynamodb (Powertools' idempotency records)."""
    return client("dynamodb")
