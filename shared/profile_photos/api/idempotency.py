"""`Idempotency-Key`: a retried request returns the first result instead of acting twice.

Built on Powertools' idempotency utility with its DynamoDB persistence layer. The key is
scoped to the caller and the operation (`[userId, operation, key]`), so two users (or an
upload and a complete) never share one. The request's fingerprint (the file's SHA-256, its
name, type and context; not the multipart boundary, which clients regenerate on retry) is
Powertools' payload validation: the same key with a different request is refused (422).
A request that fails is not remembered, so its retry runs again; results are kept 24 h.

A record keeps no personal data: `idempotent` stores what `remember` makes of the first
result (references such as an asset id, and counts), and a retry's answer is what `recall`
rebuilds from it. File names, signed URLs and exports never reach the idempotency table, so
erasing a user's photos leaves nothing of them there.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from profile_photos.errors import (
    Conflict,
    DependencyUnavailable,
    IdempotencyKeyReused,
    ValidationFailed,
)
from profile_photos.observability import logger

KEY_PATTERN = re.compile(r"[\x21-\x7e]{1,255}")  # printable ASCII, no spaces
RESULT_TTL_SECONDS = 24 * 3600

R = TypeVar("R")


def check_key(key: str) -> str:
    if not KEY_PATTERN.fullmatch(key):
        raise ValidationFailed("Idempotency-Key must be 1-255 printable ASCII characters")
    return key


@functools.cache
def _runner(table: str, client: Callable[[], Any]) -> tuple[Callable[..., dict[str, Any]], Any]:
    from aws_lambda_powertools.utilities.idempotency import (
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
        idempotent_function,
    )

    config = IdempotencyConfig(
        event_key_jmespath="[userId, operation, key]",
        payload_validation_jmespath="fingerprint",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=RESULT_TTL_SECONDS,
    )

    def run(request: dict[str, str], work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        return work()

    once = idempotent_function(
        data_keyword_argument="request",
        persistence_store=DynamoDBPersistenceLayer(table_name=table, boto3_client=client()),
        config=config,
    )(run)
    return once, config


@dataclass(frozen=True, slots=True)
class Idempotency(Generic[R]):
    """One request's `Idempotency-Key` scope, and how its results are kept and rebuilt."""

    table: str
    client: Callable[[], Any]  # the DynamoDB client (the store's: shared session, timeouts)
    user_id: str
    key: str | None  # the header's value; None: the client sent none
    lambda_context: Any
    remember: Callable[[R], dict[str, Any]]
    recall: Callable[[dict[str, Any]], R]


def idempotent(
    scope: Idempotency[R], operation: str, fingerprint: Callable[[], str], work: Callable[[], R]
) -> R:
    """`work()`'s result, once per `Idempotency-Key` when the client sent one (the request's
    fingerprint is computed only then); for a key seen before with the same fingerprint, the
    first result as `recall` rebuilds it from what `remember` kept of it.

    The Lambda context bounds the in-progress record by the invocation's remaining time, so
    a request whose container died can be retried once its timeout has passed."""
    if scope.key is None:
        return work()
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyPersistenceLayerError,
        IdempotencyValidationError,
    )

    request = {"userId": scope.user_id, "operation": operation, "key": check_key(scope.key)}
    run, config = _runner(scope.table, scope.client)
    config.register_lambda_context(scope.lambda_context)
    fresh: list[R] = []

    def first_time() -> dict[str, Any]:
        result = work()
        fresh.append(result)
        return scope.remember(result)

    try:
        record = run(request=request | {"fingerprint": fingerprint()}, work=first_time)
    except IdempotencyValidationError as exc:
        raise IdempotencyKeyReused(
            "Idempotency-Key was already used with a different request; "
            "send a new key for a new upload"
        ) from exc
    except IdempotencyAlreadyInProgressError as exc:
        raise Conflict(
            "A request with this Idempotency-Key is still in progress; retry in a moment"
        ) from exc
    except IdempotencyPersistenceLayerError as exc:
        if fresh:
            # The work was done; only recording its result failed. Answering 503 would send
            # the client into a retry that finds the record in progress (409) and, once that
            # expires, does the work a second time. The record expires as in progress.
            logger.warning("idempotency record not completed", extra={"operation": operation})
            return fresh[0]
        raise DependencyUnavailable("Idempotency records are unavailable, retry later") from exc
    return fresh[0] if fresh else scope.recall(record)


def fingerprint(*parts: bytes | str | None) -> str:
    """A digest of what makes two requests "the same request" (no copy of a file is made)."""
    import hashlib

    digest = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else (part or b"")
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()


def text_fingerprint(*values: Any) -> Callable[[], str]:
    """The fingerprint of a JSON request's fields, as their text (computed when asked)."""
    return lambda: fingerprint(*map(str, values))
