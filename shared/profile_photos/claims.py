"""The caller's user item, kept current from their token's claims."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from profile_photos.times import iso_ms

if TYPE_CHECKING:
    from profile_photos.auth import Identity

USER_REFRESH_SECONDS = 300


@dataclass(slots=True)
class ClaimsRefresh:
    """Create or refresh the caller's user item from the token's claims (one UpdateItem).

    A warm container skips the write when it stored the same claims for this user in the
    last five minutes: the item cannot be more current than that. One per container (the
    composition root holds it).
    """

    seen: dict[str, tuple[str | None, float]] = field(default_factory=dict)

    def __call__(self, identity: Identity, now: datetime | None = None) -> None:
        last = self.seen.get(identity.user_id)
        recent = last is not None and time.monotonic() - last[1] < USER_REFRESH_SECONDS
        if recent and last is not None and last[0] == identity.username:
            return
        from profile_photos.store import users  # pynamodb: only where a user item is written

        users.save_claims(identity.user_id, identity.username, iso_ms(now or datetime.now(UTC)))
        self.seen[identity.user_id] = (identity.username, time.monotonic())
