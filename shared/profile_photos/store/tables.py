"""Which DynamoDB tables the models use, bound by the composition root without importing them.

`profile_photos.services` binds the settings here on a container's first request; the
pynamodb models (`store.models`) take the names from here when they are first imported, or
at once when they already are. So pynamodb and botocore load only on the code paths that
read or write a table: a signed GET, which never does, loads neither.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from profile_photos.settings import Settings

MODELS = "profile_photos.store.models"
_bound: list[Settings] = []  # the settings last bound (at most one)


def bind(settings: Settings) -> None:
    """Point the models at `settings`' tables, now if they are loaded, else when they load."""
    _bound[:] = [settings]
    models = sys.modules.get(MODELS)
    if models is not None:
        models.bind_tables(settings)


def bound() -> Settings | None:
    """The settings the models are to use (None before the composition root is built)."""
    return _bound[0] if _bound else None
