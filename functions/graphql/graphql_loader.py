"""The reads of one GraphQL request, each made at most once: a per-request loader.

GraphQL lets a client ask for the same data many times in one document: aliases
(`a: user(id: "x") { id } b: user(id: "x") { id }`), `me` beside `user(id: <own id>)`, the
same fragment spread under several fields, an export's `count` under a hundred names. Each
resolver reads through the `Loader` in the request's `Context`, keyed by what it reads (the
user id), so every distinct read is one DynamoDB request however many fields ask for it.

The DynamoDB requests this leaves an operation, and the prices that bound the distinct
reads, are listed in graphql_resolvers' docstring.

Why a dict and not a DataLoader: execution is synchronous (`graphql_sync`), fields resolve
one after the other, and there is no tick at which to gather keys into a batch; ariadne and
graphql-core ship no sync loader (aiodataloader, which ariadne's contrib uses, is asyncio
only). A cache keyed by the
arguments gives the same guarantee, once per key, with nothing to schedule.

The loader lives in the request's Context, so it dies with the request: nothing is shared
between requests or callers, and no answer is older than the request that asked. A failure
the service reports (`ServiceError`: DynamoDB unavailable) is remembered like an answer, so an
outage costs one failed request per key, not one per alias; an unexpected exception is not
kept (it is a bug, reported as INTERNAL_SERVER_ERROR with its own traceback). Mutations call
`forget()` before they change anything, so their results, and every field after them in the
operation, read the data as it is after the change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from profile_photos import profiles
from profile_photos.errors import ServiceError
from profile_photos.store.records import Photo, User

T = TypeVar("T")


@dataclass(slots=True)
class Loader:
    """One request's reads, by `(what, user id)` (module docstring)."""

    _answers: dict[tuple[str, str], tuple[bool, Any]] = field(default_factory=dict)

    def user(self, user_id: str) -> User | None:
        """The user item (one GetItem per id and request); None for an id never seen."""
        return self._once(("user", user_id), lambda: profiles.get_user(user_id))

    def active_photos(self, user_id: str) -> list[Photo]:
        """The user's active photos, newest first (one Query per user and request)."""
        return self._once(("active", user_id), lambda: profiles.active_photos(user_id))

    def count(self, user_id: str) -> int:
        """How many photos the user has, archived included (one COUNT query per request)."""
        return self._once(("count", user_id), lambda: profiles.count_photos(user_id))

    def forget(self) -> None:
        """Drop every answer: the next read of each key goes to DynamoDB again."""
        self._answers.clear()

    def _once(self, key: tuple[str, str], read: Callable[[], T]) -> T:
        if key not in self._answers:
            try:
                self._answers[key] = (True, read())
            except ServiceError as error:
                self._answers[key] = (False, error)
        ok, answer = self._answers[key]
        if not ok:
            raise answer
        return answer  # type: ignore[no-any-return]
