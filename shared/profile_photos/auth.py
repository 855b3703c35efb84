"""Caller identity from a verified JWT (`Authorization: Bearer ...`).

HS256 tokens are checked with `JWT_SECRET`; RS256/ES256 tokens with the issuer's keys from
`JWT_JWKS_URL` (pyjwt's `PyJWKClient`, keys cached for the life of the container). `sub` and
`exp` are required; `iss` and `aud` are checked when configured. Every failure is
`Unauthorized` (401), except an unreachable JWKS endpoint, which is the service's problem and
answers 503.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

import jwt

from profile_photos.errors import DependencyUnavailable, Unauthorized
from profile_photos.settings import Settings, SettingsError

USER_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,128}")
USERNAME_CLAIMS = ("username", "preferred_username", "cognito:username")
ASYMMETRIC_ALGORITHMS = ("RS256", "ES256")
LEEWAY_SECONDS = 30  # clock skew tolerated between the issuer and Lambda


@dataclass(frozen=True, slots=True)
class Identity:
    user_id: str
    username: str | None


def bearer_token(authorization: str | None) -> str:
    """The token from an `Authorization: Bearer <token>` header value."""
    if not authorization:
        raise Unauthorized("Missing Authorization header with a Bearer token")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Authorization header must be 'Bearer <token>'")
    return token.strip()


@functools.cache
def _jwks_client(url: str) -> jwt.PyJWKClient:
    if not jwt.algorithms.has_crypto:
        raise SettingsError(
            "JWT_JWKS_URL is set but cryptography is missing: attach the JwksLayer "
            "(template.yaml does when JwtJwksUrl is set)"
        )
    return jwt.PyJWKClient(url, cache_keys=True, lifespan=3600, timeout=5)


def _verification_key(token: str, settings: Settings) -> tuple[Any, list[str]]:
    try:
        algorithm = jwt.get_unverified_header(token).get("alg")
    except jwt.InvalidTokenError as exc:  # DecodeError, or a header pyjwt refuses (kid, crit)
        raise Unauthorized("Malformed token") from exc
    if algorithm == "HS256" and settings.jwt_secret:
        return settings.jwt_secret, ["HS256"]
    if algorithm in ASYMMETRIC_ALGORITHMS and settings.jwt_jwks_url:
        try:
            key = _jwks_client(settings.jwt_jwks_url).get_signing_key_from_jwt(token)
        except jwt.PyJWKClientConnectionError as exc:
            raise DependencyUnavailable("Token signing keys are unavailable, retry later") from exc
        except jwt.PyJWKClientError as exc:
            raise Unauthorized("Token signed with an unknown key") from exc
        except jwt.InvalidTokenError as exc:
            raise Unauthorized("Malformed token") from exc
        return key.key, [algorithm]
    raise Unauthorized(f"Token algorithm {algorithm!s} is not accepted")


def authenticate(authorization: str | None, settings: Settings) -> Identity:
    """Verify the bearer token in `authorization` and return who the caller is."""
    token = bearer_token(authorization)
    key, algorithms = _verification_key(token, settings)
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=algorithms,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            leeway=LEEWAY_SECONDS,
            options={
                "require": ["sub", "exp"],
                "verify_aud": settings.jwt_audience is not None,
            },
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("Token has expired") from exc
    except jwt.InvalidSignatureError as exc:
        raise Unauthorized("Invalid token signature") from exc
    except jwt.MissingRequiredClaimError as exc:
        raise Unauthorized(f"Token is missing the '{exc.claim}' claim") from exc
    except jwt.InvalidIssuerError as exc:
        raise Unauthorized("Token issuer is not accepted") from exc
    except jwt.InvalidAudienceError as exc:
        raise Unauthorized("Token audience is not accepted") from exc
    except jwt.ImmatureSignatureError as exc:
        raise Unauthorized("Token is not valid yet") from exc
    except jwt.InvalidTokenError as exc:
        raise Unauthorized("Malformed token") from exc

    subject = claims["sub"]
    if not isinstance(subject, str) or not USER_ID_PATTERN.fullmatch(subject):
        raise Unauthorized("Token subject must be 1-128 characters of A-Z, a-z, 0-9, _ or -")
    username = next(
        (claims[name] for name in USERNAME_CLAIMS if isinstance(claims.get(name), str)), None
    )
    return Identity(user_id=subject, username=username)
