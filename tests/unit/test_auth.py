"""JWT verification (HS256 path): who the caller is, or a 401 that says why."""

from __future__ import annotations

import time

import jwt
import pytest

from profile_photos.auth import Identity, authenticate, bearer_token
from profile_photos.errors import Unauthorized
from profile_photos.settings import Settings, load_settings

SECRET = "unit-test-jwt-secret-of-at-least-32-chars"


def settings(**env: str) -> Settings:
    return load_settings({"JWT_SECRET": SECRET, "LOCAL_STORAGE_SECRET": "s" * 32, **env})


def token(secret: str = SECRET, algorithm: str = "HS256", **claims: object) -> str:
    # a day: parametrized tokens are built at collection, minutes before their test runs
    payload = {"sub": "user_1-A", "exp": int(time.time()) + 86400, **claims}
    payload = {k: v for k, v in payload.items() if v is not None}
    return jwt.encode(payload, secret, algorithm=algorithm)


def test_valid_token_gives_the_identity() -> None:
    identity = authenticate(f"Bearer {token(username='ann')}", settings())

    assert identity == Identity(user_id="user_1-A", username="ann")


@pytest.mark.parametrize(
    ("claims", "username"),
    [
        ({"username": "a", "preferred_username": "b", "cognito:username": "c"}, "a"),
        ({"preferred_username": "b", "cognito:username": "c"}, "b"),
        ({"cognito:username": "c"}, "c"),
        ({}, None),
    ],
)
def test_username_claim_precedence(claims: dict, username: str | None) -> None:
    assert authenticate(f"Bearer {token(**claims)}", settings()).username == username


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (None, "Missing Authorization header with a Bearer token"),
        ("", "Missing Authorization header with a Bearer token"),
        ("Basic dXNlcjpwYXNz", "Authorization header must be 'Bearer <token>'"),
        ("Bearer", "Authorization header must be 'Bearer <token>'"),
        ("Bearer    ", "Authorization header must be 'Bearer <token>'"),
        ("Bearer not-a-jwt", "Malformed token"),
    ],
)
def test_missing_or_malformed_header_is_401(header: str | None, message: str) -> None:
    with pytest.raises(Unauthorized) as caught:
        authenticate(header, settings())
    assert caught.value.message == message


def test_scheme_is_case_insensitive() -> None:
    assert bearer_token(f"bearer {token()}") == token()


@pytest.mark.parametrize(
    ("bad_token", "message"),
    [
        (token(exp=int(time.time()) - 60), "Token has expired"),
        (token(secret="another-secret-of-at-least-32-characters"), "Invalid token signature"),
        (token(secret="k" * 64, algorithm="HS512"), "Token algorithm HS512 is not accepted"),
        (token(exp=None), "Token is missing the 'exp' claim"),
        (token(sub=None), "Token is missing the 'sub' claim"),
        (token(sub="a/b"), "Token subject must be 1-128 characters of A-Z, a-z, 0-9, _ or -"),
        (token(sub="x" * 129), "Token subject must be 1-128 characters of A-Z, a-z, 0-9, _ or -"),
        (token(sub=""), "Token subject must be 1-128 characters of A-Z, a-z, 0-9, _ or -"),
        (token(sub=12345), "Malformed token"),
        (token(nbf=int(time.time()) + 86400), "Token is not valid yet"),
    ],
)
def test_bad_tokens_are_401_with_the_reason(bad_token: str, message: str) -> None:
    with pytest.raises(Unauthorized) as caught:
        authenticate(f"Bearer {bad_token}", settings())
    assert caught.value.message == message


def test_alg_none_is_refused() -> None:
    unsigned = jwt.encode({"sub": "u", "exp": int(time.time()) + 60}, None, algorithm="none")

    with pytest.raises(Unauthorized, match="algorithm none is not accepted"):
        authenticate(f"Bearer {unsigned}", settings())


def test_rs256_token_is_refused_when_only_a_secret_is_configured() -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(Unauthorized, match="Token algorithm RS256 is not accepted"):
        authenticate(f"Bearer {token(secret=key, algorithm='RS256')}", settings())


def test_issuer_and_audience_checked_when_configured() -> None:
    configured = settings(JWT_ISSUER="https://issuer.example", JWT_AUDIENCE="app")
    good = token(iss="https://issuer.example", aud="app")

    assert authenticate(f"Bearer {good}", configured).user_id == "user_1-A"
    for bad, message in (
        (token(iss="https://other.example", aud="app"), "Token issuer is not accepted"),
        (token(iss="https://issuer.example", aud="web"), "Token audience is not accepted"),
        (token(aud="app"), "Token is missing the 'iss' claim"),
    ):
        with pytest.raises(Unauthorized) as caught:
            authenticate(f"Bearer {bad}", configured)
        assert caught.value.message == message


def test_audience_in_token_is_ignored_when_none_is_configured() -> None:
    assert authenticate(f"Bearer {token(aud='anything')}", settings()).user_id == "user_1-A"


@pytest.mark.parametrize("header", [{"kid": 1}, {"crit": ["exp"]}, {"crit": "x"}])
def test_headers_pyjwt_refuses_are_401_not_a_crash(header: dict) -> None:
    import base64
    import hashlib
    import hmac
    import json

    def part(value: dict) -> bytes:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=")

    signing_input = (
        part({"alg": "HS256", "typ": "JWT", **header})
        + b"."
        + part({"sub": "u", "exp": int(time.time()) + 60})
    )
    mac = hmac.new(SECRET.encode(), signing_input, hashlib.sha256).digest()
    bad = (signing_input + b"." + base64.urlsafe_b64encode(mac).rstrip(b"=")).decode()

    with pytest.raises(Unauthorized, match=r"^Malformed token$"):
        authenticate(f"Bearer {bad}", settings())
