"""The composition root: everything a function needs, built once per container.

`services()` loads the settings, binds the tables, opens the object store and makes the one
`Signer`, the rate `Limiter` and the claims refresh, on the first request of a container, and
returns the same object afterwards. Handlers take what they need from it; tests build their
own with `Services.build(settings)` or, after changing the environment, `services.cache_clear()`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace

from profile_photos.claims import ClaimsRefresh
from profile_photos.ratelimit import Limiter
from profile_photos.settings import Settings, get_settings
from profile_photos.signing import Signer
from profile_photos.store.models import bind_tables
from profile_photos.store.storage import Storage, open_storage


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    storage: Storage
    signer: Signer
    limiter: Limiter
    refresh_claims: ClaimsRefresh

    @classmethod
    def build(cls, settings: Settings) -> Services:
        bind_tables(settings)
        return cls(
            settings=settings,
            storage=open_storage(settings),
            signer=Signer(
                settings.local_storage_secret,
                settings.signed_url_ttl_seconds,
                settings.local_storage_base_url or "",
                window=settings.signed_url_window_seconds,
            ),
            limiter=Limiter(settings.rate_limit_per_minute, settings.rate_limit_per_hour),
            refresh_claims=ClaimsRefresh(),
        )

    def at(self, base_url: str) -> Services:
        """The same services, with signed URLs pointing at `base_url` (this request's)."""
        return replace(self, signer=self.signer.at(base_url))


@functools.cache
def services() -> Services:
    """The container's services, built on first use."""
    return Services.build(get_settings())


def reset() -> None:
    """Forget the settings and services, as a new container starts afresh: for tests and the
    bench, after they change the environment."""
    get_settings.cache_clear()
    services.cache_clear()
