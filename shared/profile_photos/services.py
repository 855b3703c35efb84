"""The composition root: everything a function needs, built once per container.

`services()` loads the settings, binds the tables and makes the one `Signer`, the rate
`Limiter` and the claims refresh, on the first request of a container, and returns the same
object afterwards. The object store (R2's S3 client, in R2 mode) is opened on first use of
`storage`: the graphql function needs it only for its delete mutations, and its other
requests never pay for it. Handlers take what they need from it; tests build their own with
`Services.build(settings)` or, after changing the environment, `reset()`.

The CDN purger (`cdn`) is built the same way: it reads the distribution's id and makes its
CloudFront client only on a purge with a CDN configured (`profile_photos.store.cdn`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from profile_photos.claims import ClaimsRefresh
from profile_photos.ratelimit import Limiter
from profile_photos.settings import Settings, get_settings
from profile_photos.signing import Signer
from profile_photos.store.aws import dynamodb_client, reset_session
from profile_photos.store.cdn import Cdn, open_cdn
from profile_photos.store.storage import Storage, open_storage
from profile_photos.store.tables import bind


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    open_storage: Callable[[], Storage]  # the same store on every call, opened on the first
    open_dynamodb: Callable[[], Any]  # a DynamoDB client for Powertools, made on first use
    signer: Signer
    limiter: Limiter
    refresh_claims: ClaimsRefresh
    cdn: Cdn  # purges a photo's paths from the CDN (a receipt saying so without one)

    @property
    def storage(self) -> Storage:
        return self.open_storage()

    @classmethod
    def build(cls, settings: Settings) -> Services:
        bind(settings)
        return cls(
            settings=settings,
            open_storage=functools.cache(functools.partial(open_storage, settings)),
            open_dynamodb=functools.cache(dynamodb_client),
            signer=Signer(
                settings.local_storage_secret,
                settings.signed_url_ttl_seconds,
                settings.local_storage_base_url or "",
                window=settings.signed_url_window_seconds,
            ),
            limiter=Limiter(settings.rate_limit_per_minute, settings.rate_limit_per_hour),
            refresh_claims=ClaimsRefresh(),
            cdn=open_cdn(settings),
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
    reset_session()
