"""openapi.yaml: a valid OpenAPI 3.1 document with exactly the template's REST routes, which
real responses of the local stack satisfy (the e2e suite checks every response it receives
against it: tests/e2e/conftest.py)."""

from __future__ import annotations

import re
from io import BytesIO

import pytest
import requests
from openapi_spec_validator import validate
from PIL import Image

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


# the errors /graphql answers in GraphQL's own shape (GraphQL over HTTP): a request that never
# runs, an Accept it cannot satisfy, a body not declared JSON; its others are the envelope
GRAPHQL_SHAPED = {"400", "406", "415"}


def test_every_error_response_is_the_envelope_or_graphqls_shape() -> None:
    spec = OpenApi.load()
    for method, path in spec.routes():
        operation = spec.operation(method, path.replace("{bucket}", "b").replace("{filePath}", "k"))
        assert operation is not None
        for status, response in operation.spec["responses"].items():
            if not status.startswith(("4", "5")):
                continue
            content = spec.resolve(response).get("content", {})
            shape = (
                "GraphQLResponse" if path == "/graphql" and status in GRAPHQL_SHAPED else "Error"
            )
            for media in content.values():
                assert media["schema"] == {"$ref": f"#/components/schemas/{shape}"}, (
                    method,
                    path,
                    status,
                )
            assert "application/json" in content, (method, path, status)


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


def test_the_crop_is_documented_and_its_answers_match(stack: RunningStack) -> None:
    # Given the document's crop field (multipart) and crop object (upload-url)
    spec = OpenApi.load()
    upload = spec.operation("POST", UPLOAD)
    grant = spec.operation("POST", "/api/storage/profile-photo/upload-url")
    assert upload is not None
    assert grant is not None
    field = upload.spec["requestBody"]["content"]["multipart/form-data"]["schema"]["properties"]
    box = grant.spec["requestBody"]["content"]["application/json"]["schema"]["properties"]
    pattern = re.compile(field["crop"]["pattern"])
    assert pattern.match("120,40,512")
    assert not pattern.match("120,40")
    assert box["crop"]["required"] == ["left", "top", "side"]
    assert box["crop"]["properties"]["side"]["minimum"] == 32
    for operation in (upload, grant):
        refused = spec.resolve(operation.spec["responses"]["400"])["description"]
        assert "crop" in refused

    # When crops are sent, good and bad (each answer is checked against the document)
    auth = {"Authorization": f"Bearer {make_token('openapi-crop', 'oc')}"}
    out = BytesIO()
    Image.new("RGB", (64, 48), (200, 120, 40)).save(out, "JPEG")
    photo = out.getvalue()  # 64 x 48: a 32 px square fits, a 99999 px one does not

    def multipart(crop: str) -> requests.Response:
        return requests.post(
            f"{stack.url}{UPLOAD}",
            headers=auth,
            files={"file": ("me.jpg", photo, "image/jpeg")},
            data={"crop": crop},
            timeout=30,
        )

    def direct(crop: dict[str, int]) -> requests.Response:
        announce = {"fileName": "me.jpg", "contentType": "image/jpeg", "size": len(photo)}
        return requests.post(
            f"{stack.url}/api/storage/profile-photo/upload-url",
            headers=auth,
            json={**announce, "crop": crop},
            timeout=30,
        )

    # Then a crop inside the photo is a 201, and the bad ones the documented 400
    assert multipart("0,0,32").status_code == 201
    assert direct({"left": 0, "top": 0, "side": 32}).status_code == 201
    for bad in ("0,0,31", "0,0,99999", "a,b,c"):
        answer = multipart(bad)
        assert answer.status_code == 400, (bad, answer.text)
        assert answer.json()["error"]["code"] == "VALIDATION_FAILED"
    assert direct({"left": 0, "top": 0, "side": 31}).status_code == 400
