"""Signed URL tokens: HS256 JWTs bound to one `bucket/path`, one operation and an expiry.

The claims are `res` (`"{bucket}/{path}"`), `op` (`GET` or `PUT`), `iat` and `exp`. Only HS256
is accepted, so `alg: none` and algorithm-confusion tokens fail before any claim is read.
Every refusal is a `Forbidden` whose message the contract fixes: `Token has expired`, or
`Token verification failed: <why>`.

GET URLs are minted per window (`SIGNED_URL_WINDOW_SECONDS`) so that caches can share them:
`iat` is the start of the window holding the moment of minting and `exp` is `iat + window +
ttl`. A token holds nothing else, pyjwt writes the claims in the order given (the header
sorted) and HMAC-SHA256 has no randomness, so every URL for one file minted within one
window is the same string: a browser or CDN that cached it once hits for every viewer. It
stays valid at least `ttl` after it was minted and at most `ttl + window`. PUT URLs (LOCAL
direct uploads) are not windowed: one per grant, from the grant's issue time.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote

from profile_photos.errors import Forbidden

ALGORITHM = "HS256"
DEFAULT_WINDOW = 300  # seconds; SIGNED_URL_WINDOW_SECONDS
INVALID_SIGNATURE = "Token verification failed: Invalid token signature"
EXPIRED = "Token has expired"


@dataclass(frozen=True, slots=True)
class SignedUrl:
    url: str
    expires_at: int  # epoch seconds


@dataclass(frozen=True, slots=True)
class Signer:
    """The one place signed URLs are minted and checked: `LOCAL_STORAGE_SECRET` (it signs
    every signed URL, whatever the storage provider), `SIGNED_URL_TTL_SECONDS`, the public
    base URL the URLs point at (`at()`: per request when `LOCAL_STORAGE_BASE_URL` is unset)
    and `SIGNED_URL_WINDOW_SECONDS`, the window within which GET URLs are identical.

    URLs are `{base_url}/signed/{bucket}/{path}?token=...`.
    """

    secret: str
    ttl: int
    base_url: str = ""
    window: int = DEFAULT_WINDOW

    def __post_init__(self) -> None:
        if self.ttl < 1 or self.window < 1:
            raise ValueError(f"ttl and window must be >= 1, got {self.ttl} and {self.window}")

    def at(self, base_url: str) -> Signer:
        return replace(self, base_url=base_url)

    def url(self, bucket: str, path: str, token: str) -> str:
        return f"{self.base_url}/signed/{quote(bucket)}/{quote(path)}?token={token}"

    def window_start(self, now: int) -> int:
        """The start of the window holding `now`: what a GET token minted at `now` says as its
        `iat`."""
        return now - now % self.window

    def photo_url(self, bucket: str, path: str, *, now: int) -> SignedUrl:
        """A GET URL for `bucket/path`: the same string for every `now` within one window,
        valid at least the TTL from `now` and at most one window longer (`expires_at`)."""
        issued = self.window_start(now)
        lifetime = self.window + self.ttl
        token = issue_token(
            self.secret, bucket=bucket, path=path, operation="GET", now=issued, ttl=lifetime
        )
        return SignedUrl(self.url(bucket, path, token), issued + lifetime)

    def put_url(self, bucket: str, path: str, *, now: int, ttl: int, **bound: Any) -> SignedUrl:
        """A PUT URL for `bucket/path` (LOCAL direct uploads); `bound` claims fix what may be
        PUT (`len`, `type`, `name`). Not windowed: one grant, one URL, valid `ttl` from `now`
        (the grant's issue time)."""
        token = issue_token(
            self.secret, bucket=bucket, path=path, operation="PUT", now=now, ttl=ttl, **bound
        )
        return SignedUrl(self.url(bucket, path, token), now + ttl)

    def verify(
        self, token: str | None, *, bucket: str, path: str, operation: str, now: int
    ) -> dict[str, Any]:
        return verify_token(
            self.secret, token, bucket=bucket, path=path, operation=operation, now=now
        )


def issue_token(
    secret: str,
    *,
    bucket: str,
    path: str,
    operation: str,
    now: int,
    ttl: int,
    **extra: Any,
) -> str:
    """A token for `operation` on `bucket/path`; `extra` claims bind more (a PUT's size)."""
    claims = {**extra, "res": f"{bucket}/{path}", "op": operation, "iat": now, "exp": now + ttl}
    import jwt  # imported on first use: the stream consumers never sign

    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_token(
    secret: str, token: str | None, *, bucket: str, path: str, operation: str, now: int
) -> dict[str, Any]:
    """Check that `token` grants `operation` on `bucket/path` at `now`; return its claims."""
    import jwt

    if not token:
        raise Forbidden("Token verification failed: Missing token")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError as exc:  # DecodeError, or a header pyjwt refuses (kid, crit)
        raise Forbidden("Token verification failed: Malformed token") from exc
    if header.get("alg") != ALGORITHM:
        raise Forbidden(
            f"Token verification failed: Algorithm {header.get('alg')!s} is not accepted"
        )
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            # time is checked below against the caller's clock, not pyjwt's
            options={
                "require": ["exp", "res", "op"],
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
            },
        )
    except jwt.InvalidSignatureError as exc:
        raise Forbidden(INVALID_SIGNATURE) from exc
    except jwt.MissingRequiredClaimError as exc:
        raise Forbidden(f"Token verification failed: Missing claim {exc.claim}") from exc
    except jwt.InvalidTokenError as exc:
        raise Forbidden("Token verification failed: Malformed token") from exc

    expires = claims["exp"]
    if not isinstance(expires, int) or isinstance(expires, bool):
        raise Forbidden("Token verification failed: Malformed token")
    if expires <= now:
        raise Forbidden(EXPIRED)
    if claims["res"] != f"{bucket}/{path}":
        raise Forbidden("Token verification failed: Token is not valid for this file")
    if claims["op"] != operation:
        raise Forbidden(f"Token verification failed: Token is not valid for {operation} requests")
    return claims
