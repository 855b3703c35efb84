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
    auth.jwks_client.cache_clear()
    return load_settings(
        {
            "JWT_JWKS_URL": jwks_url,
            "JWT_ISSUER": "https://issuer.example",
            "JWT_AUDIENCE": "profile-photos-app",
            "LOCAL_STORAGE_SECRET": "s" * 32,
        }
    )


def _token(key: object, algorithm: str, kid: str, **claims: object) -> str:
    payload = {
        "sub": "user-1",
        "exp": int(time.time()) + 300,
        "iss": "https://issuer.example",
        "aud": "profile-photos-app",
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
    auth.jwks_client.cache_clear()
    unreachable = load_settings(
        {
            "JWT_JWKS_URL": "http://127.0.0.1:9/jwks.json",
            "JWT_ISSUER": "https://issuer.example",
            "JWT_AUDIENCE": "profile-photos-app",
            "LOCAL_STORAGE_SECRET": "s" * 32,
        }
    )

    with pytest.raises(DependencyUnavailable):
        authenticate(f"Bearer {_token(RSA_KEY, 'RS256', 'rsa-1')}", unreachable)


# --- hardening: key/algorithm mismatch, other tenants, Cognito access tokens ---------------


@pytest.mark.parametrize(
    ("key", "algorithm", "kid"),
    [(EC_KEY, "ES256", "rsa-1"), (RSA_KEY, "RS256", "ec-1")],
    ids=["ES256-with-an-RSA-kid", "RS256-with-an-EC-kid"],
)
def test_a_header_algorithm_that_does_not_fit_the_kids_key_is_401(
    settings: Settings, key: object, algorithm: str, kid: str
) -> None:
    # kids are public: naming another key type's kid made pyjwt raise TypeError (a 500)
    with pytest.raises(Unauthorized) as caught:
        authenticate(f"Bearer {_token(key, algorithm, kid)}", settings)
    assert caught.value.message == f"Token algorithm {algorithm} does not match its signing key"


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ({"iss": "https://other-tenant.example"}, "Token issuer is not accepted"),
        ({"aud": "another-app"}, "Token audience is not accepted"),
        ({"aud": ["another-app", "third-app"]}, "Token audience is not accepted"),
    ],
    ids=["other-issuer", "other-audience", "audience-list-without-ours"],
)
def test_tokens_for_another_tenant_sharing_the_key_set_are_401(
    settings: Settings, claims: dict, message: str
) -> None:
    with pytest.raises(Unauthorized) as caught:
        authenticate(f"Bearer {_token(RSA_KEY, 'RS256', 'rsa-1', **claims)}", settings)
    assert caught.value.message == message


def test_an_audience_list_naming_ours_is_accepted(settings: Settings) -> None:
    token = _token(RSA_KEY, "RS256", "rsa-1", aud=["another-app", "profile-photos-app"])

    assert authenticate(f"Bearer {token}", settings).user_id == "user-1"


def _access_token(**claims: object) -> str:
    """A Cognito access token: `client_id` and `token_use`, no `aud`."""
    payload = {
        "sub": "user-1",
        "exp": int(time.time()) + 300,
        "iss": "https://issuer.example",
        "username": "ann",
        **claims,
    }
    return jwt.encode(payload, RSA_KEY, algorithm="RS256", headers={"kid": "rsa-1"})


def test_a_cognito_access_token_is_checked_through_client_id(settings: Settings) -> None:
    token = _access_token(token_use="access", client_id="profile-photos-app")

    assert authenticate(f"Bearer {token}", settings).username == "ann"


@pytest.mark.parametrize(
    "claims",
    [
        {"token_use": "access", "client_id": "another-app"},
        {"token_use": "id", "client_id": "profile-photos-app"},
        {"client_id": "profile-photos-app"},
        {},
    ],
    ids=["other-client", "id-token-without-aud", "no-token-use", "neither"],
)
def test_a_token_without_aud_needs_an_access_token_for_our_client(
    settings: Settings, claims: dict
) -> None:
    with pytest.raises(Unauthorized) as caught:
        authenticate(f"Bearer {_access_token(**claims)}", settings)
    assert caught.value.message == "Token audience is not accepted"


def test_a_mismatched_key_reaches_clients_as_the_401_envelope(
    jwks_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the real handlers: 401 UNAUTHORIZED (and, as in every integration test,
    nothing logged at ERROR: see `no_error_logs`)."""
    import graphql_handler
    import upload_handler

    from devkit.defaults import DEV_ENV
    from profile_photos.services import reset
    from tests.integration.conftest import invoke, load_event

    for name, value in DEV_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("JWT_SECRET")
    monkeypatch.setenv("JWT_JWKS_URL", jwks_url)
    monkeypatch.setenv("JWT_ISSUER", "https://issuer.example")
    monkeypatch.setenv("JWT_AUDIENCE", "profile-photos-app")
    reset()
    auth.jwks_client.cache_clear()
    forged = f"Bearer {_token(EC_KEY, 'ES256', 'rsa-1')}"
    try:
        for handler, event_name in (
            (graphql_handler.lambda_handler, "graphql-user"),
            (upload_handler.lambda_handler, "upload-valid-jpg"),
        ):
            event = load_event(event_name)
            event["headers"]["Authorization"] = forged
            event["multiValueHeaders"]["Authorization"] = [forged]
            result = invoke(handler, event)

            assert result.status == 401
            assert result.json() == {
                "success": False,
                "error": {
                    "code": "UNAUTHORIZED",
                    "message": "Token algorithm ES256 does not match its signing key",
                },
            }
    finally:
        reset()
        auth.jwks_client.cache_clear()
