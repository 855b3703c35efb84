"""Signed URL tokens: HS256 JWTs bound to one `bucket/path`, one operation and an expiry.

The claims are `res` (`"{bucket}/{path}"`), `op` (`GET` or `PUT`), `iat` and `exp`. Only HS256
is accepted, so `alg: none` and algorithm-confusion tokens fail before any claim is read.
Every refusal is a `Forbidden` whose message the contract fixes: `Token has expired`, or
`Token verification failed: <why>`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import jwt

from profile_photos.errors import Forbidden

ALGORITHM = "HS256"
INVALID_SIGNATURE = "Token verification failed: Invalid token signature"
EXPIRED = "Token has expired"


@dataclass(frozen=True, slots=True)
class SignedUrl:
    url: str
    expires_at: int  # epoch seconds


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
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def signed_url(
    secret: str, *, base_url: str, bucket: str, path: str, operation: str, now: int, ttl: int
) -> SignedUrl:
    """`{base_url}/signed/{bucket}/{path}?token=...`, valid for `ttl` seconds from `now`."""
    token = issue_token(secret, bucket=bucket, path=path, operation=operation, now=now, ttl=ttl)
    url = f"{base_url}/signed/{quote(bucket)}/{quote(path)}?token={token}"
    return SignedUrl(url=url, expires_at=now + ttl)


def verify_token(
    secret: str, token: str | None, *, bucket: str, path: str, operation: str, now: int
) -> dict[str, Any]:
    """Check that `token` grants `operation` on `bucket/path` at `now`; return its claims."""
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
