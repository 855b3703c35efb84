"""openapi.yaml: a valid OpenAPI 3.1 document with exactly the template's REST routes, which
real responses of the local stack satisfy (the e2e suite checks every response it receives
against it: tests/e2e/conftest.py)."""

from __future__ import annotations

import re

import pytest
import requests
from openapi_spec_validator import validate

from devkit.token import make_token
from devstack.functions import load_functions
from testkit.images import jpeg_bytes
from testkit.openapi import OpenApi, ResponseMismatch
from tests.e2e.conftest import RunningStack

UPLOAD = "/api/storage/profile-photo/upload"


def template_routes() -> set[tuple[str, str]]:
    """(METHOD, path) of every Api event in template.yaml, `{name+}` written `{name}`."""
    return {
        (route.method, re.sub(r"\{(\w+)\+\}", r"{\1}", route.path))
        for function in load_functions()
        for route in function.routes
    }


def test_the_document_is_valid_openapi_3_1() -> None:
    document = OpenApi.load().document
    assert document["openapi"].startswith("3.1.")
    validate(document)


def test_the_document_has_exactly_the_templates_routes() -> None:
    documented, deployed = OpenApi.load().routes(), template_routes()
    assert documented - deployed == set(), "documented but not in template.yaml"
    assert deployed - documented == set(), "in template.yaml but not documented"


def test_every_error_response_is_the_envelope_or_graphqls_shape() -> None:
    spec = OpenApi.load()
    for method, path in spec.routes():
        operation = spec.operation(method, path.replace("{bucket}", "b").replace("{filePath}", "k"))
        assert operation is not None
        for status, response in operation.spec["responses"].items():
            content = spec.resolve(response).get("content", {})
            if status.startswith(("4", "5")) and not (path == "/graphql" and status == "400"):
                assert content["application/json"]["schema"] == {
                    "$ref": "#/components/schemas/Error"
                }, (method, path, status)


def test_a_response_the_document_does_not_describe_is_caught(stack: RunningStack) -> None:
    # the check that every e2e response goes through can fail: a real response, altered
    response = requests.post(f"{stack.url}{UPLOAD}", timeout=30)
    spec = OpenApi.load()
    spec.check("POST", UPLOAD, response.status_code, response.headers, response.content)

    with pytest.raises(ResponseMismatch, match="status not documented"):
        spec.check("POST", UPLOAD, 418, response.headers, response.content)
    with pytest.raises(ResponseMismatch, match="body"):
        spec.check("POST", UPLOAD, 401, response.headers, b'{"message": "Unauthorized"}')
    with pytest.raises(ResponseMismatch, match="no such operation"):
        spec.check("GET", UPLOAD, 401, response.headers, response.content)


def test_every_operation_answers_as_documented(stack: RunningStack) -> None:
    # each request below is checked against the document by the e2e suite's hook
    auth = {"Authorization": f"Bearer {make_token('openapi-user', 'oa')}"}
    photo = jpeg_bytes()
    created = requests.post(
        f"{stack.url}{UPLOAD}",
        headers=auth,
        files={"file": ("me.jpg", photo, "image/jpeg")},
        timeout=30,
    )
    assert created.status_code == 201, created.text
    url = created.json()["data"]["uploadUrl"]
    get = requests.get(url, timeout=30)
    assert get.status_code == 200
    assert requests.head(url, timeout=30).status_code == 200
    cached = requests.get(url, headers={"If-None-Match": get.headers["ETag"]}, timeout=30)
    assert cached.status_code == 304
    assert requests.get(url.replace("token=", "token=x"), timeout=30).status_code == 403

    grant = requests.post(
        f"{stack.url}/api/storage/profile-photo/upload-url",
        headers=auth,
        json={"fileName": "big.jpg", "contentType": "image/jpeg", "size": len(photo)},
        timeout=30,
    )
    assert grant.status_code == 201, grant.text
    put = grant.json()["data"]
    assert requests.put(put["uploadUrl"], data=photo, headers=put["headers"], timeout=30).ok
    done = requests.post(
        f"{stack.url}/api/storage/profile-photo/complete",
        headers=auth,
        json={"fileKey": put["fileKey"]},
        timeout=30,
    )
    assert done.status_code == 201, done.text

    query = {"query": "{ me { id profilePhotos { assetId url } } }"}
    assert requests.post(f"{stack.url}/graphql", headers=auth, json=query, timeout=30).ok
    bad = requests.post(f"{stack.url}/graphql", headers=auth, json={"query": "{"}, timeout=30)
    assert bad.status_code == 400
    assert requests.post(f"{stack.url}/graphql", json=query, timeout=30).status_code == 401
    assert requests.options(f"{stack.url}{UPLOAD}", timeout=30).status_code == 204
    assert requests.get(f"{stack.url}/nowhere", timeout=30).status_code == 404
