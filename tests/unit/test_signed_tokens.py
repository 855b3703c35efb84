"""Signed URL tokens: bound to one file, one operation and an expiry; HS256 only."""

from __future__ import annotations

import base64
import json

import jwt
import pytest

from profile_photos.errors import Forbidden
from profile_photos.signing import issue_token, signed_url, verify_token

SECRET = "unit-test-storage-secret-32-chars-long"
NOW = 1_800_000_000
PATH = "users/u1/profile-picture/abc.jpg"


def token(**overrides: object) -> str:
    args = {"bucket": "user-assets", "path": PATH, "operation": "GET", "now": NOW, "ttl": 60}
    return issue_token(SECRET, **(args | overrides))  # type: ignore[arg-type]


def verify(value: str | None, *, path: str = PATH, operation: str = "GET", now: int = NOW) -> int:
    return verify_token(
        SECRET, value, bucket="user-assets", path=path, operation=operation, now=now
    )


def refused(value: str | None, **kwargs: object) -> str:
    with pytest.raises(Forbidden) as caught:
        verify(value, **kwargs)  # type: ignore[arg-type]
    return caught.value.message


def test_round_trip_returns_the_expiry() -> None:
    assert verify(token()) == NOW + 60


def test_url_shape() -> None:
    url = signed_url(
        SECRET,
        base_url="https://api.example.com/api/storage",
        bucket="user-assets",
        path=PATH,
        operation="GET",
        now=NOW,
        ttl=3600,
    )

    prefix = f"https://api.example.com/api/storage/signed/user-assets/{PATH}?token="
    assert url.url.startswith(prefix)
    assert url.expires_at == NOW + 3600
    assert verify(url.url.removeprefix(prefix)) == NOW + 3600


def test_expired_token_has_the_contracts_message() -> None:
    assert refused(token(), now=NOW + 60) == "Token has expired"
    assert verify(token(), now=NOW + 59) == NOW + 60


def _reencode(value: str, **claims: object) -> str:
    header, payload, signature = value.split(".")
    decoded = json.loads(base64.urlsafe_b64decode(payload + "=="))
    body = base64.urlsafe_b64encode(json.dumps(decoded | claims).encode()).rstrip(b"=")
    return f"{header}.{body.decode()}.{signature}"


@pytest.mark.parametrize(
    "forged",
    [
        _reencode(token(), exp=NOW + 10**6),
        _reencode(token(), res=f"user-assets/users/other/{PATH}"),
        jwt.encode({"res": f"user-assets/{PATH}", "op": "GET", "exp": NOW + 60}, "x" * 40),
    ],
)
def test_tampered_or_wrongly_signed_tokens(forged: str) -> None:
    assert refused(forged) == "Token verification failed: Invalid token signature"


def test_tampered_expired_token_is_a_signature_failure_not_an_expiry() -> None:
    forged = _reencode(token(), op="GET")
    assert refused(forged, now=NOW + 3600) == "Token verification failed: Invalid token signature"


@pytest.mark.parametrize(
    ("value", "kwargs", "message"),
    [
        (None, {}, "Token verification failed: Missing token"),
        ("", {}, "Token verification failed: Missing token"),
        ("garbage", {}, "Token verification failed: Malformed token"),
        ("a.b.c", {}, "Token verification failed: Malformed token"),
        (
            token(),
            {"path": "users/u1/profile-picture/other.jpg"},
            "Token verification failed: Token is not valid for this file",
        ),
        (
            token(bucket="app-assets"),
            {},
            "Token verification failed: Token is not valid for this file",
        ),
        (
            token(operation="PUT"),
            {},
            "Token verification failed: Token is not valid for GET requests",
        ),
        (
            token(),
            {"operation": "PUT"},
            "Token verification failed: Token is not valid for PUT requests",
        ),
    ],
)
def test_refusals_say_why(value: str | None, kwargs: dict, message: str) -> None:
    assert refused(value, **kwargs) == message


def _unsigned(claims: dict) -> str:
    def part(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def test_alg_none_is_refused() -> None:
    claims = {"res": f"user-assets/{PATH}", "op": "GET", "exp": NOW + 60}

    assert refused(_unsigned(claims)) == "Token verification failed: Algorithm none is not accepted"


def test_other_algorithms_are_refused_even_with_the_right_secret() -> None:
    claims = {"res": f"user-assets/{PATH}", "op": "GET", "exp": NOW + 60}
    hs512 = jwt.encode(claims, SECRET * 2, algorithm="HS512")

    assert refused(hs512) == "Token verification failed: Algorithm HS512 is not accepted"


@pytest.mark.parametrize("missing", ["res", "op", "exp"])
def test_tokens_missing_a_claim_are_refused(missing: str) -> None:
    claims = {"res": f"user-assets/{PATH}", "op": "GET", "exp": NOW + 60}
    del claims[missing]

    message = refused(jwt.encode(claims, SECRET, algorithm="HS256"))

    assert message == f"Token verification failed: Missing claim {missing}"
