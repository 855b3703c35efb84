"""Caller identity from a verified JWT (`Authorization: Bearer ...`).

HS256 tokens are checked with `JWT_SECRET`; RS256/ES256 tokens with the issuer's keys from
`JWT_JWKS_URL` (pyjwt's `PyJWKClient`, keys cached for the life of the container). `sub` and
`exp` are required; `iss` and `aud` are checked when configured (with a JWKS both are
required, see settings: a key set is often shared by many tenants and apps of one issuer).

The JWK that a token's `kid` selects must be a key of the algorithm the token's header names
(its `alg`, or the one its `kty`/`crv` imply, and the matching key type): `kid`s are public,
so a token naming `ES256` with the `kid` of an RSA key is an attack, not a server error.

The audience is the `aud` claim; a token without one (a Cognito access token) is accepted only
when `token_use` is `access` and its `client_id` is the configured audience.

Every failure is `Unauthorized` (401), except an unreachable JWKS endpoint, which is the
service's problem and answers 503.
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
# algorithm -> the JWK key type (`kty`) it needs
ASYMMETRIC_ALGORITHMS = {"RS256": "RSA", "ES256": "EC"}
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
def jwks_client(url: str) -> jwt.PyJWKClient:
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
            key = jwks_client(settings.jwt_jwks_url).get_signing_key_from_jwt(token)
        except jwt.PyJWKClientConnectionError as exc:
            raise DependencyUnavailable("Token signing keys are unavailable, retry later") from exc
        except jwt.PyJWKClientError as exc:
            raise Unauthorized("Token signed with an unknown key") from exc
        except (jwt.InvalidTokenError, jwt.PyJWKError) as exc:
            raise Unauthorized("Malformed token") from exc
        if not _key_fits(key, algorithm):
            raise Unauthorized(f"Token algorithm {algorithm} does not match its signing key")
        return key.key, [algorithm]
    raise Unauthorized(f"Token algorithm {algorithm!s} is not accepted")


def _key_fits(key: jwt.PyJWK, algorithm: str) -> bool:
    """Whether the JWK is a key for `algorithm`: its own algorithm and its key type agree.

    (A curve other than P-256 under ES256 fails signature verification, caught below.)"""
    return key.algorithm_name == algorithm and key.key_type == ASYMMETRIC_ALGORITHMS[algorithm]


def _check_audience(claims: dict[str, Any], audience: str | None) -> None:
    """`aud` must name `audience`; without `aud`, a Cognito access token's `client_id` must."""
    if audience is None:
        return
    if "aud" in claims:
        named = claims["aud"]
        accepted = named == audience or (isinstance(named, list) and audience in named)
    else:
        accepted = claims.get("token_use") == "access" and claims.get("client_id") == audience
    if not accepted:
        raise Unauthorized("Token audience is not accepted")


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
            leeway=LEEWAY_SECONDS,
            # the audience is checked below: Cognito access tokens name it in `client_id`
            options={"require": ["sub", "exp"], "verify_aud": False},
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
    except (jwt.InvalidTokenError, jwt.PyJWKError, TypeError, ValueError) as exc:
        # TypeError/ValueError: a key that the library cannot use for this algorithm
        raise Unauthorized("Malformed token") from exc
    _check_audience(claims, settings.jwt_audience)

    subject = claims["sub"]
    if not isinstance(subject, str) or not USER_ID_PATTERN.fullmatch(subject):
        raise Unauthorized("Token subject must be 1-128 characters of A-Z, a-z, 0-9, _ or -")
    username = next(
        (claims[name] for name in USERNAME_CLAIMS if isinstance(claims.get(name), str)), None
    )
    return Identity(user_id=subject, username=username)
