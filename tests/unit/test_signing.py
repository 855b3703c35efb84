"""Signed URL tokens: HS256 only, bound to one `bucket/path`, one operation and an expiry.

One file: the one token format's round trip and every refusal, each against the contract's
messages, read as one table of cases.

Every refusal is a 403 FORBIDDEN; the contract fixes two messages exactly (`Token has
expired`, `Token verification failed: Invalid token signature`) and the prefix of the rest.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from profile_photos.api.web import status_and_code
from profile_photos.errors import Forbidden
from profile_photos.signing import Signer, issue_token, verify_token

SECRET = "unit-test-storage-secret-at-least-32-chars"
OTHER_SECRET = "another-deployment-secret-also-32-chars-long"
NOW = 1_800_000_000
TTL = 3600
BUCKET = "user-assets"
PATH = "users/u1/profile-picture/0b7c2a4e-6a57-4a40-9d3c-3f1f4b8e2a11.jpg"
PREFIX = "Token verification failed:"
INVALID_SIGNATURE = "Token verification failed: Invalid token signature"
EXPIRED = "Token has expired"
GOOD_CLAIMS = {"res": f"{BUCKET}/{PATH}", "op": "GET", "iat": NOW, "exp": NOW + TTL}


def token(**overrides: Any) -> str:
    args = {"bucket": BUCKET, "path": PATH, "operation": "GET", "now": NOW, "ttl": TTL}
    return issue_token(SECRET, **(args | overrides))


def verify(
    value: str | None,
    *,
    bucket: str = BUCKET,
    path: str = PATH,
    operation: str = "GET",
    now: int = NOW,
    secret: str = SECRET,
) -> dict[str, Any]:
    return verify_token(secret, value, bucket=bucket, path=path, operation=operation, now=now)


def refusal(value: str | None, **kwargs: Any) -> str:
    """The message of the 403 a client gets for this token."""
    with pytest.raises(Forbidden) as caught:
        verify(value, **kwargs)
    assert status_and_code(caught.value) == (403, "FORBIDDEN")
    return caught.value.message


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(value: Any) -> str:
    return b64(json.dumps(value).encode())


def hand_signed(header: dict[str, Any], claims: dict[str, Any], secret: str = SECRET) -> str:
    """A compact JWS signed with HMAC-SHA256, built without pyjwt (any header we like)."""
    signing_input = f"{segment(header)}.{segment(claims)}"
    mac = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


def with_payload(value: str, **claims: Any) -> str:
    """`value` with its payload changed and its original signature kept."""
    header, payload, signature = value.split(".")
    decoded = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return f"{header}.{segment(decoded | claims)}.{signature}"


@functools.cache
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


# --- round trip ----------------------------------------------------------------------------


def test_a_fresh_token_grants_its_file_and_operation() -> None:
    # Given a GET token issued now
    value = token()

    # When it is checked for the same file and operation
    claims = verify(value)

    # Then its claims are returned, expiring TTL seconds after issue
    assert claims == GOOD_CLAIMS


def test_extra_claims_are_bound_but_cannot_widen_the_grant() -> None:
    # Given a PUT token carrying a size, whose caller also tried to pass another resource
    value = token(operation="PUT", size=1234, res="user-assets/users/u2/x.jpg", exp=NOW + 10**9)

    # Then the extra claim is signed in, while res/op/exp are the issuer's own
    claims = verify(value, operation="PUT")
    assert (claims["size"], claims["res"], claims["exp"]) == (1234, f"{BUCKET}/{PATH}", NOW + TTL)
    assert refusal(value, path="users/u2/x.jpg", operation="PUT").startswith(PREFIX)


# --- expiry --------------------------------------------------------------------------------


@pytest.mark.parametrize("later", [0, 1, TTL - 1])
def test_a_token_is_valid_until_its_last_second(later: int) -> None:
    assert verify(token(), now=NOW + later)["exp"] == NOW + TTL


@pytest.mark.parametrize("later", [TTL, TTL + 1, 10 * 365 * 86400])
def test_an_expired_token_is_refused_with_the_contract_message(later: int) -> None:
    assert refusal(token(), now=NOW + later) == EXPIRED


# --- tampering and wrong keys --------------------------------------------------------------


def _flip_first_signature_char(value: str) -> str:
    header, payload, signature = value.split(".")
    first = "B" if signature[0] == "A" else "A"
    return f"{header}.{payload}.{first}{signature[1:]}"


@pytest.mark.parametrize(
    "forged",
    [
        pytest.param(with_payload(token(), exp=NOW + 10**8), id="exp-extended"),
        pytest.param(with_payload(token(), res=f"{BUCKET}/users/u2/photo.jpg"), id="res-changed"),
        pytest.param(with_payload(token(operation="GET"), op="PUT"), id="op-changed"),
        pytest.param(_flip_first_signature_char(token()), id="signature-changed"),
        pytest.param(
            issue_token(OTHER_SECRET, bucket=BUCKET, path=PATH, operation="GET", now=NOW, ttl=TTL),
            id="other-secret",
        ),
        pytest.param(
            hand_signed({"alg": "HS256", "typ": "JWT"}, GOOD_CLAIMS, "x" * 32),
            id="hand-signed-with-another-key",
        ),
        pytest.param(
            segment({"alg": "HS256", "typ": "JWT", "kid": "k1"}) + "." + token().split(".", 1)[1],
            id="header-changed",
        ),
    ],
)
def test_tampered_or_wrongly_signed_tokens_are_refused_with_the_contract_message(
    forged: str,
) -> None:
    assert refusal(forged) == INVALID_SIGNATURE


def test_a_token_for_this_file_is_refused_by_a_deployment_with_another_secret() -> None:
    assert refusal(token(), secret=OTHER_SECRET) == INVALID_SIGNATURE


def test_a_tampered_expired_token_is_a_signature_failure_not_an_expiry() -> None:
    # Given an expired token whose exp was pushed into the future without re-signing
    forged = with_payload(token(), exp=NOW + 10 * TTL)

    # Then the forgery is what the client is told about, at any time
    assert refusal(forged, now=NOW + 2 * TTL) == INVALID_SIGNATURE


# --- binding to file and operation ---------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "request_", "reason"),
    [
        pytest.param(
            token(),
            {"path": "users/u1/profile-picture/other.jpg"},
            "not valid for this file",
            id="other-path",
        ),
        pytest.param(token(), {"path": "users/u2/" + PATH}, "not valid for this file", id="nested"),
        pytest.param(
            token(path="users/u1/profile-picture"),
            {},
            "not valid for this file",
            id="token-for-a-prefix",
        ),
        pytest.param(
            token(path="users/u1/../u2/x.jpg"),
            {"path": "users/u2/x.jpg"},
            "not valid for this file",
            id="dot-dot-is-not-resolved",
        ),
        pytest.param(token(bucket="app-assets"), {}, "not valid for this file", id="other-bucket"),
        pytest.param(
            token(bucket="user-assets/users"),
            {"path": "u1/profile-picture/" + PATH.rsplit("/", 1)[1]},
            "not valid for this file",
            id="bucket-path-split-moved",
        ),
        pytest.param(token(operation="PUT"), {}, "not valid for GET requests", id="put-for-get"),
        pytest.param(token(), {"operation": "PUT"}, "not valid for PUT requests", id="get-for-put"),
        pytest.param(token(operation="get"), {}, "not valid for GET requests", id="operation-case"),
    ],
)
def test_a_token_for_another_file_or_operation_is_refused(
    value: str, request_: dict[str, str], reason: str
) -> None:
    message = refusal(value, **request_)

    assert message.startswith(PREFIX)
    assert reason in message


# --- other algorithms ----------------------------------------------------------------------


def _unsigned(alg: str) -> str:
    return f"{segment({'alg': alg, 'typ': 'JWT'})}.{segment(GOOD_CLAIMS)}."


@pytest.mark.parametrize("alg", ["none", "None", "NONE", ""])
def test_unsigned_tokens_are_refused(alg: str) -> None:
    # Given a token a client built by hand, claiming no signature
    forged = _unsigned(alg)

    # Then it is refused for its algorithm, before any claim is trusted
    message = refusal(forged)
    assert message.startswith(PREFIX)
    assert message != INVALID_SIGNATURE
    assert "Algorithm" in message


def test_a_token_without_an_algorithm_is_refused() -> None:
    forged = f"{segment({'typ': 'JWT'})}.{segment(GOOD_CLAIMS)}.{b64(b'sig')}"

    assert refusal(forged).startswith(PREFIX)


@pytest.mark.parametrize(
    ("alg", "key"),
    [
        ("HS384", SECRET * 2),  # the right secret, a different HMAC
        ("HS512", SECRET * 2),
        ("RS256", None),
        ("ES256", None),
    ],
)
def test_tokens_signed_with_another_algorithm_are_refused(alg: str, key: str | None) -> None:
    # Given a well-formed token signed with another algorithm
    if alg == "RS256":
        key = rsa_key()
    elif alg == "ES256":
        key = ec.generate_private_key(ec.SECP256R1())
    forged = jwt.encode(GOOD_CLAIMS, key, algorithm=alg)

    # Then it is refused, naming the algorithm
    message = refusal(forged)
    assert message.startswith(PREFIX)
    assert alg in message


def test_an_rs256_token_cannot_be_confused_for_hs256_with_the_public_key() -> None:
    # Given an attacker who HMACs a token with an RSA public key they know, under alg HS256
    from cryptography.hazmat.primitives import serialization

    public_pem = (
        rsa_key()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    forged = hand_signed({"alg": "HS256", "typ": "JWT"}, GOOD_CLAIMS, public_pem)

    # Then the storage secret, not the key they chose, decides
    assert refusal(forged) == INVALID_SIGNATURE


# --- missing and malformed tokens ----------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(None, id="none"),
        pytest.param("", id="empty"),
        pytest.param("garbage", id="garbage"),
        pytest.param("a.b.c", id="three-junk-segments"),
        pytest.param("....", id="dots"),
        pytest.param("!!!.???.***", id="not-base64url"),
        pytest.param(token() + ".extra", id="four-segments"),
        pytest.param(token().rsplit(".", 1)[0], id="no-signature-segment"),
        pytest.param(f"{b64(b'[1, 2]')}.{segment(GOOD_CLAIMS)}.{b64(b's')}", id="header-array"),
        pytest.param(f"{b64(b'{not json')}.{segment(GOOD_CLAIMS)}.{b64(b's')}", id="header-junk"),
        pytest.param(
            hand_signed({"alg": "HS256"}, GOOD_CLAIMS).split(".")[0] + ".e30=x.abc",
            id="bad-payload-padding",
        ),
        pytest.param(" " + token(), id="leading-space"),
    ],
)
def test_missing_or_malformed_tokens_are_refused(value: str | None) -> None:
    message = refusal(value)

    assert message.startswith(PREFIX)
    assert message != INVALID_SIGNATURE


def test_a_signed_payload_that_is_not_a_json_object_is_refused() -> None:
    header = segment({"alg": "HS256", "typ": "JWT"})
    payload = b64(b"[1, 2, 3]")
    mac = hmac.new(SECRET.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()

    assert refusal(f"{header}.{payload}.{b64(mac)}").startswith(PREFIX)


@pytest.mark.parametrize("missing", ["res", "op", "exp"])
def test_a_correctly_signed_token_missing_a_claim_is_refused(missing: str) -> None:
    # Given a token signed with the right secret but without one of its binding claims
    claims = {name: value for name, value in GOOD_CLAIMS.items() if name != missing}
    forged = jwt.encode(claims, SECRET, algorithm="HS256")

    # Then it is refused, naming the missing claim
    message = refusal(forged)
    assert message.startswith(PREFIX)
    assert missing in message


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param(GOOD_CLAIMS | {"exp": str(NOW + TTL)}, id="exp-string"),
        pytest.param(GOOD_CLAIMS | {"exp": NOW + TTL + 0.5}, id="exp-float"),
        pytest.param(GOOD_CLAIMS | {"exp": True}, id="exp-bool"),
        pytest.param(GOOD_CLAIMS | {"exp": None}, id="exp-null"),
        pytest.param(GOOD_CLAIMS | {"res": [f"{BUCKET}/{PATH}"]}, id="res-list"),
        pytest.param(GOOD_CLAIMS | {"op": ["GET"]}, id="op-list"),
    ],
)
def test_correctly_signed_tokens_with_claims_of_the_wrong_type_are_refused(
    claims: dict[str, Any],
) -> None:
    forged = hand_signed({"alg": "HS256", "typ": "JWT"}, claims)

    assert refusal(forged).startswith(PREFIX)


@pytest.mark.parametrize(
    "header",
    [
        pytest.param({"alg": "HS256", "kid": 1}, id="kid-not-a-string"),
        pytest.param({"alg": "HS256", "crit": ["exp"]}, id="unsupported-crit"),
        pytest.param({"alg": "HS256", "crit": "b64"}, id="crit-not-a-list"),
        pytest.param({"alg": "HS256", "b64": False, "crit": ["b64"]}, id="detached-payload"),
    ],
)
def test_headers_the_jwt_library_refuses_are_a_403_not_a_crash(header: dict[str, Any]) -> None:
    # Given a token whose header pyjwt rejects while reading it (no secret needed to send one)
    forged = hand_signed(header, GOOD_CLAIMS)

    # Then the client gets the documented 403, not an unhandled error (a 500)
    assert refusal(forged).startswith(PREFIX)


# --- signed URLs ---------------------------------------------------------------------------

WINDOW = 300
WINDOW_START = NOW - NOW % WINDOW  # NOW is a multiple of 300: the first second of a window
assert WINDOW_START == NOW


def signer(ttl: int = TTL, window: int = WINDOW, base: str = "https://x") -> Signer:
    return Signer(SECRET, ttl, base, window=window)


def token_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["token"][0]


def test_signed_url_shape_and_expiry() -> None:
    # Given the service's public base URL
    base = "https://photos.example.com/api/storage"

    # When a GET URL is signed for a stored photo, at the first second of a window
    signed = signer(base=base).photo_url(BUCKET, PATH, now=NOW)

    # Then it is `{base}/signed/{bucket}/{path}?token=...`, expiring a window and a TTL later
    prefix = f"{base}/signed/{BUCKET}/{PATH}?token="
    assert signed.url.startswith(prefix)
    assert signed.expires_at == NOW + WINDOW + TTL
    # and its token grants exactly that GET until then, and holds nothing per request
    value = signed.url.removeprefix(prefix)
    assert verify(value) == {
        "res": f"{BUCKET}/{PATH}",
        "op": "GET",
        "iat": NOW,
        "exp": signed.expires_at,
    }
    assert refusal(value, operation="PUT").startswith(PREFIX)
    assert refusal(value, now=signed.expires_at) == EXPIRED


def test_existing_constructions_keep_working_with_the_default_window() -> None:
    # Given a Signer built as before windows existed (secret, ttl, base)
    legacy = Signer(SECRET, TTL, "https://x")

    # Then it mints in 300 s windows
    assert legacy.window == 300
    assert legacy.photo_url(BUCKET, PATH, now=NOW + 299) == signer().photo_url(
        BUCKET, PATH, now=NOW
    )


@pytest.mark.parametrize("bad", [{"ttl": 0}, {"window": 0}, {"window": -5}])
def test_a_signer_needs_a_positive_ttl_and_window(bad: dict[str, int]) -> None:
    with pytest.raises(ValueError, match=">= 1"):
        signer(**bad)


def test_signed_url_percent_encodes_the_path_but_binds_the_raw_one() -> None:
    # Given a key with characters that are not URL-safe
    path = "users/u1/profile-picture/a b#c?d%e\u00e9.png"

    signed = signer(60, 60, "http://127.0.0.1:3000/api/storage").photo_url(BUCKET, path, now=NOW)

    # Then the URL keeps its shape (slashes intact, one query parameter)
    parts = urlsplit(signed.url)
    assert parts.path.startswith(f"/api/storage/signed/{BUCKET}/users/u1/profile-picture/")
    assert unquote(parts.path) == f"/api/storage/signed/{BUCKET}/{path}"
    assert list(parse_qs(parts.query)) == ["token"]
    assert parts.fragment == ""
    # and the token is bound to the decoded path a server sees
    assert verify(parse_qs(parts.query)["token"][0], path=path)["res"] == f"{BUCKET}/{path}"


@pytest.mark.parametrize("ttl", [1, 60, 3600, 7 * 24 * 3600])
def test_signed_url_expiry_follows_the_ttl(ttl: int) -> None:
    window = min(WINDOW, ttl)
    signed = signer(ttl, window).photo_url(BUCKET, PATH, now=NOW)

    assert signed.expires_at == NOW + window + ttl
    assert verify(token_of(signed.url), now=NOW + window + ttl - 1)["exp"] == signed.expires_at
    assert refusal(token_of(signed.url), now=NOW + window + ttl) == EXPIRED


# --- windows: the same URL for every viewer, so caches hit -----------------------------------


@pytest.mark.parametrize("later", [0, 1, 150, WINDOW - 1])
def test_urls_minted_within_one_window_are_byte_identical(later: int) -> None:
    # Given two independent signers of one deployment (two containers), each minting once
    first = signer().photo_url(BUCKET, PATH, now=NOW)
    second = signer().photo_url(BUCKET, PATH, now=NOW + later)

    # Then the URLs are the same string (HS256 and pyjwt's encoding are deterministic)
    assert second.url == first.url
    assert second == first


def test_the_token_is_deterministic_down_to_its_bytes() -> None:
    # Given the claims a window's URL carries, encoded by hand in pyjwt's layout
    claims = {"res": f"{BUCKET}/{PATH}", "op": "GET", "iat": NOW, "exp": NOW + WINDOW + TTL}
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = b64(json.dumps(claims, separators=(",", ":")).encode())
    mac = hmac.new(SECRET.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()

    # Then the signer's token is exactly that string, however often it is minted
    minted = {token_of(signer().photo_url(BUCKET, PATH, now=NOW + i).url) for i in range(50)}
    assert minted == {f"{header}.{payload}.{b64(mac)}"}


@pytest.mark.parametrize(
    ("before", "after"),
    [
        pytest.param(NOW + WINDOW - 1, NOW + WINDOW, id="last-and-first-second"),
        pytest.param(NOW, NOW + WINDOW, id="window-apart"),
        pytest.param(NOW + 10, NOW + 3 * WINDOW + 10, id="windows-apart"),
    ],
)
def test_urls_minted_in_different_windows_differ(before: int, after: int) -> None:
    old = signer().photo_url(BUCKET, PATH, now=before)
    new = signer().photo_url(BUCKET, PATH, now=after)

    assert new.url != old.url
    assert new.expires_at > old.expires_at


def test_urls_for_another_file_or_secret_differ_within_a_window() -> None:
    url = signer().photo_url(BUCKET, PATH, now=NOW).url

    assert signer().photo_url(BUCKET, PATH + ".webp", now=NOW).url != url
    assert signer().photo_url("app-assets", PATH, now=NOW).url != url
    assert Signer(OTHER_SECRET, TTL, "https://x").photo_url(BUCKET, PATH, now=NOW).url != url


@pytest.mark.parametrize(("ttl", "window"), [(3600, 300), (60, 60), (60, 1), (604800, 3600)])
@pytest.mark.parametrize("offset", [0, 1, 7, 59, 299])
def test_a_url_is_valid_at_least_ttl_after_it_was_minted_and_at_most_one_window_longer(
    ttl: int, window: int, offset: int
) -> None:
    # Given a URL minted `offset` seconds into some window
    minted = NOW + 17 * window + offset % window
    signed = signer(ttl, window).photo_url(BUCKET, PATH, now=minted)
    value = token_of(signed.url)

    # Then it is still good TTL seconds after minting
    assert verify(value, now=minted + ttl)["exp"] == signed.expires_at
    # and it ends no later than TTL + window after minting, exactly at `expires_at`
    assert ttl < signed.expires_at - minted <= ttl + window
    assert verify(value, now=signed.expires_at - 1)
    assert refusal(value, now=signed.expires_at) == EXPIRED
    assert refusal(value, now=minted + ttl + window) == EXPIRED


def test_put_urls_are_not_windowed() -> None:
    # Given two PUT grants a second apart (direct uploads: a URL per grant)
    first = signer().put_url(BUCKET, "staging/u1/a.jpg", now=NOW + 1, ttl=900, len=10)
    second = signer().put_url(BUCKET, "staging/u1/a.jpg", now=NOW + 2, ttl=900, len=10)

    # Then each is fixed by its own issue time
    assert first.url != second.url
    assert (first.expires_at, second.expires_at) == (NOW + 901, NOW + 902)
    assert verify(token_of(first.url), path="staging/u1/a.jpg", operation="PUT")["iat"] == NOW + 1
