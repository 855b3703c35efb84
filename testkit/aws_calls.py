"""botocore event hooks on every AWS client this process creates: how the bench's request
counter (`bench/recorder.py`) and the integration suite's IAM recorder
(`tests/integration/aws_calls.py`) see the calls the handlers make, without reading the code.

`hook(event, handler)` patches `botocore.session.Session.create_client` once; every client
created from then on (boto3's, pynamodb's, which builds its own sessions, Powertools') gets
one dispatcher per event of `EVENTS`, which calls the handlers hooked to that event, in the
order they were hooked, with botocore's keyword arguments. A handler hooked later reaches
the clients created earlier too (after the patch), but a client created before the first
`hook()` is never seen: hook before the service creates its clients.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

EVENTS = ("before-parameter-build", "before-call", "after-call", "after-call-error")
Handler = Callable[..., None]

_HANDLERS: dict[str, list[Handler]] = {event: [] for event in EVENTS}
_LOCK = threading.Lock()
_installed = False


def hook(event: str, handler: Handler) -> None:
    """Call `handler(**kwargs)` on `event` of every botocore client created from now on
    (idempotent: a handler hooked twice runs once). Its return value is ignored."""
    if event not in _HANDLERS:
        raise ValueError(f"unknown event {event!r}: one of {', '.join(EVENTS)}")
    with _LOCK:
        if handler not in _HANDLERS[event]:
            _HANDLERS[event].append(handler)
        _install()


def _install() -> None:
    global _installed
    if _installed:
        return
    import botocore.session

    original = botocore.session.Session.create_client

    @functools.wraps(original)
    def create_client(self: Any, *args: Any, **kwargs: Any) -> Any:
        client = original(self, *args, **kwargs)
        for event in EVENTS:
            client.meta.events.register(event, _dispatcher(event))
        return client

    botocore.session.Session.create_client = create_client  # type: ignore[method-assign]
    _installed = True


def _dispatcher(event: str) -> Callable[..., None]:
    handlers = _HANDLERS[event]

    def dispatch(**kwargs: Any) -> None:
        for handler in list(handlers):
            handler(**kwargs)

    return dispatch
