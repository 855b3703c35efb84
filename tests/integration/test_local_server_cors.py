"""The local HTTP server's own answers, in process over real HTTP on loopback: the platform
errors in the envelope (with the template's messages) and CORS, the browser page, the OpenAPI
document and page, and the dev-token endpoint. A stand-in replaces the functions."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from typing import Any

import jwt
import pytest
import requests

from devkit.defaults import DEV_JWT_SECRET
from devstack.functions import LocalFunction, load_functions
from devstack.server import WEB_DIR, LocalApi
from testkit.openapi import OpenApi

APP = "http://app.test:8080"
Answer = Callable[[LocalFunction, dict[str, Any], str], Any]


def ok(function: LocalFunction, event: dict[str, Any], request_id: str) -> dict[str, Any]:
    return {"statusCode": 200, "headers": {}, "body": "{}", "isBase64Encoded": False}


class Server:
    def __init__(self, answer: Answer = ok, **options: Any) -> None:
        self.api = LocalApi(("127.0.0.1", 0), load_functions(), answer, **options)
        self.url = f"http://127.0.0.1:{self.api.server_address[1]}"
        threading.Thread(target=self.api.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.api.shutdown()
        self.api.server_close()


@pytest.fixture
def serve() -> Iterator[Callable[..., Server]]:
    started: list[Server] = []

    def start(answer: Answer = ok, **options: Any) -> Server:
        started.append(Server(answer, **options))
        return started[-1]

    yield start
    for server in started:
        server.close()


def envelope(response: requests.Response) -> dict[str, Any]:
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"success", "error"}
    assert body["success"] is False
    return body["error"]  # type: ignore[no-any-return]


def test_an_unknown_route_is_not_found_with_cors(serve: Callable[..., Server]) -> None:
    server = serve(cors_origins=(APP,))

    response = requests.get(f"{server.url}/nowhere", headers={"Origin": APP}, timeout=10)
    wrong_method = requests.delete(f"{server.url}/graphql", headers={"Origin": APP}, timeout=10)

    for answer in (response, wrong_method):
        assert answer.status_code == 404
        assert envelope(answer) == {"code": "NOT_FOUND", "message": "Route not found"}
        assert answer.headers["Access-Control-Allow-Origin"] == APP
        assert answer.headers["Vary"] == "Origin"


@pytest.mark.error_log_expected  # a failed function is logged, as Lambda's error would be
def test_a_failed_function_is_service_unavailable_with_cors(
    serve: Callable[..., Server],
) -> None:
    def crash(function: LocalFunction, event: dict[str, Any], request_id: str) -> Any:
        return {"no": "statusCode"}  # a malformed proxy response, as API Gateway sees it

    server = serve(crash, cors_origins=(APP,))

    response = requests.post(f"{server.url}/graphql", headers={"Origin": APP}, timeout=10)

    assert response.status_code == 502
    assert envelope(response)["code"] == "SERVICE_UNAVAILABLE"
    assert response.headers["Access-Control-Allow-Origin"] == APP


def test_an_emulated_payload_limit_is_payload_too_large_with_cors(
    serve: Callable[..., Server],
) -> None:
    server = serve(cors_origins=(APP,), emulate_lambda_limits=True)

    response = requests.post(
        f"{server.url}/api/storage/profile-photo/upload",
        data=b"x" * 4_800_000,  # 6.4 MB once base64-encoded
        headers={"Origin": APP, "Content-Type": "multipart/form-data; boundary=x"},
        timeout=30,
    )

    assert response.status_code == 413
    error = envelope(response)
    assert error["code"] == "PAYLOAD_TOO_LARGE"
    assert "upload-url" in error["message"]
    assert response.headers["Access-Control-Allow-Origin"] == APP


def test_platform_errors_answer_no_cors_header_to_another_origin_or_without_origins(
    serve: Callable[..., Server],
) -> None:
    with_cors, without = serve(cors_origins=(APP,)), serve(cors_origins=())

    other = requests.get(
        f"{with_cors.url}/nowhere", headers={"Origin": "http://x.test"}, timeout=10
    )
    off = requests.get(f"{without.url}/nowhere", headers={"Origin": APP}, timeout=10)

    assert "Access-Control-Allow-Origin" not in other.headers
    assert other.headers["Vary"] == "Origin"
    assert not [h for h in off.headers if h.lower().startswith("access-control") or h == "Vary"]


def test_the_page_and_its_files_are_served_and_nothing_else(serve: Callable[..., Server]) -> None:
    server = serve(cors_origins=())
    page = requests.get(f"{server.url}/", timeout=10)

    assert page.status_code == 200
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert page.content == (WEB_DIR / "index.html").read_bytes()
    for file in sorted(WEB_DIR.iterdir()):
        served = requests.get(f"{server.url}/web/{file.name}", timeout=10)
        assert served.status_code == 200, file.name
        assert served.content == file.read_bytes()
    # the icon a browser asks for by itself is there, so no page load logs a 404
    icon = requests.get(f"{server.url}/favicon.ico", timeout=10)
    assert icon.status_code == 200
    assert icon.headers["Content-Type"] == "image/svg+xml"
    assert icon.content == (WEB_DIR / "favicon.svg").read_bytes()
    for bad in ("../README.md", "%2e%2e/README.md", ".hidden", "nope.js", "a/b.js"):
        refused = requests.get(f"{server.url}/web/{bad}", timeout=10)
        assert refused.status_code == 404, bad
        assert envelope(refused)["code"] == "NOT_FOUND"


def test_the_document_is_served_as_json_and_as_swagger_ui_from_this_origin_only(
    serve: Callable[..., Server],
) -> None:
    server = serve(cors_origins=())

    document = requests.get(f"{server.url}/openapi.json", timeout=10)
    page = requests.get(f"{server.url}/docs", timeout=10)

    assert document.status_code == 200
    served = document.json()
    assert served["openapi"].startswith("3.1")
    assert served["paths"] == OpenApi.load().document["paths"]
    assert served["servers"][0]["url"] == server.url
    assert page.status_code == 200
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    # the browser may load and call nothing but this origin, and every file the page names
    # is served here (tests/e2e/test_browser.py renders it in Chromium)
    policy = page.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "connect-src 'self'" in policy
    files = re.findall(r'(?:src|href)="([^"]*)"', page.text)
    assert "/docs/swagger-ui-bundle.js" in files
    for file in files:
        assert file.startswith("/docs/"), file
        loaded = requests.get(server.url + file, timeout=10)
        assert loaded.status_code == 200, file
        assert loaded.content, file
    script = requests.get(f"{server.url}/docs/swagger-initializer.js", timeout=10)
    assert '"/openapi.json"' in script.text
    for bad in ("../README.md", "%2e%2e/openapi.yaml", "LICENSE", "VERSION", "index.html", "x/"):
        refused = requests.get(f"{server.url}/docs/{bad}", timeout=10)
        assert refused.status_code == 404, bad
        assert envelope(refused)["code"] == "NOT_FOUND"


def test_a_dev_token_is_signed_with_the_development_secret(serve: Callable[..., Server]) -> None:
    server = serve(cors_origins=(), dev_tokens=True)

    default = requests.post(f"{server.url}/dev/token", timeout=10)
    chosen = requests.post(
        f"{server.url}/dev/token", json={"userId": "ann_1", "username": "Ann"}, timeout=10
    )

    assert default.status_code == 200
    claims = jwt.decode(default.json()["data"]["token"], DEV_JWT_SECRET, algorithms=["HS256"])
    assert (claims["sub"], claims["username"]) == ("demo-user", "demo")
    assert chosen.json()["success"] is True
    claims = jwt.decode(chosen.json()["data"]["token"], DEV_JWT_SECRET, algorithms=["HS256"])
    assert (claims["sub"], claims["username"]) == ("ann_1", "Ann")


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[1]", b'{"userId": "../etc"}', b'{"userId": ""}', b'{"userId": 7}'],
)
def test_a_bad_dev_token_request_is_refused(serve: Callable[..., Server], body: bytes) -> None:
    server = serve(cors_origins=(), dev_tokens=True)

    response = requests.post(f"{server.url}/dev/token", data=body, timeout=10)

    assert response.status_code == 400
    assert envelope(response)["code"] == "VALIDATION_FAILED"


def test_no_dev_token_while_the_stack_verifies_real_tokens(serve: Callable[..., Server]) -> None:
    server = serve(cors_origins=(), dev_tokens=False)

    response = requests.post(f"{server.url}/dev/token", timeout=10)

    assert response.status_code == 404
    assert envelope(response)["code"] == "NOT_FOUND"
    assert "data" not in response.json()


def test_dev_tokens_follow_the_secret_in_the_environment(
    serve: Callable[..., Server], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JWT_SECRET", "a-real-secret-of-at-least-32-characters!")
    real = serve(cors_origins=())
    monkeypatch.setenv("JWT_SECRET", DEV_JWT_SECRET)
    dev = serve(cors_origins=())

    assert requests.post(f"{real.url}/dev/token", timeout=10).status_code == 404
    assert requests.post(f"{dev.url}/dev/token", timeout=10).status_code == 200


def test_the_stacks_own_routes_answer_preflights(serve: Callable[..., Server]) -> None:
    server = serve(cors_origins=(APP,))

    response = requests.options(
        f"{server.url}/dev/token",
        headers={"Origin": APP, "Access-Control-Request-Method": "POST"},
        timeout=10,
    )

    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == APP
    assert response.headers["Access-Control-Allow-Methods"] == "OPTIONS, POST"
    assert "Content-Type" in response.headers["Access-Control-Allow-Headers"]
