"""RS256/ES256 tokens verified with keys from a JWKS endpoint (served on loopback)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from profile_photos import auth
from profile_photos.auth import authenticate
from profile_photos.errors import DependencyUnavailable, Unauthorized
from profile_photos.settings import Settings, load_settings

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())


def _jwk(key: object, kid: str, algorithm: str) -> dict:
    algo = jwt.algorithms.RSAAlgorithm if algorithm == "RS256" else jwt.algorithms.ECAlgorithm
    jwk = json.loads(algo.to_jwk(key.public_key()))  # type: ignore[attr-defined]
    return {**jwk, "kid": kid, "alg": algorithm, "use": "sig"}


JWKS = {"keys": [_jwk(RSA_KEY, "rsa-1", "RS256"), _jwk(EC_KEY, "ec-1", "ES256")]}


@pytest.fixture(scope="module")
def jwks_url() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(JWKS).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    server.shutdown()


@pytest.fixture
def settings(jwks_url: str) -> Settings:
    auth._jwks_client.cache_clear()
    return load_settings(
        {
            "JWT_JWKS_URL": jwks_url,
            "JWT_ISSUER": "https://issuer.example",
            "LOCAL_STORAGE_SECRET": "s" * 32,
        }
    )


def _token(key: object, algorithm: str, kid: str, **claims: object) -> str:
    payload = {
        "sub": "user-1",
        "exp": int(time.time()) + 300,
        "iss": "https://issuer.example",
        "cognito:username": "ann",
        **claims,
    }
    return jwt.encode(payload, key, algorithm=algorithm, headers={"kid": kid})


@pytest.mark.parametrize(
    ("key", "algorithm", "kid"), [(RSA_KEY, "RS256", "rsa-1"), (EC_KEY, "ES256", "ec-1")]
)
def test_asymmetric_tokens_verify_against_the_jwks(
    settings: Settings, key: object, algorithm: str, kid: str
) -> None:
    identity = authenticate(f"Bearer {_token(key, algorithm, kid)}", settings)

    assert (identity.user_id, identity.username) == ("user-1", "ann")


def test_token_signed_by_a_key_not_in_the_jwks_is_401(settings: Settings) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    with pytest.raises(Unauthorized) as caught:
        authenticate(f"Bearer {_token(stranger, 'RS256', 'rsa-1')}", settings)
    assert caught.value.message == "Invalid token signature"


def test_unknown_kid_is_401(settings: Settings) -> None:
    with pytest.raises(Unauthorized) as caught:
        authenticate(f"Bearer {_token(RSA_KEY, 'RS256', 'rotated-away')}", settings)
    assert caught.value.message == "Token signed with an unknown key"


def test_hs256_token_is_refused_when_only_a_jwks_is_configured(settings: Settings) -> None:
    # algorithm confusion: the JWKS public key must never be used as an HMAC secret
    forged = jwt.encode({"sub": "u", "exp": int(time.time()) + 60}, "x" * 32, algorithm="HS256")

    with pytest.raises(Unauthorized) as caught:
        authenticate(f"Bearer {forged}", settings)
    assert caught.value.message == "Token algorithm HS256 is not accepted"


def test_unreachable_jwks_is_503_not_401() -> None:
    auth._jwks_client.cache_clear()
    unreachable = load_settings(
        {"JWT_JWKS_URL": "http://127.0.0.1:9/jwks.json", "LOCAL_STORAGE_SECRET": "s" * 32}
    )

    with pytest.raises(DependencyUnavailable):
        authenticate(f"Bearer {_token(RSA_KEY, 'RS256', 'rsa-1')}", unreachable)
