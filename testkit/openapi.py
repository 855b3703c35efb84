"""Check real HTTP responses against `openapi.yaml` (OpenAPI 3.1, whose schemas are JSON
Schema 2020-12): the status is documented for the operation, the documented headers are there
and well formed, and the body has the documented media type and shape.

Used by tests/e2e (every response of the local stack in the e2e suite goes through
`OpenApi.check`, see tests/e2e/conftest.py) and by tests/e2e/test_openapi.py.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

ROOT = Path(__file__).resolve().parent.parent
DOCUMENT = ROOT / "openapi.yaml"
BASE = "urn:profile-photos:openapi"
METHODS = ("get", "head", "post", "put", "patch", "delete", "options")


class ResponseMismatch(AssertionError):
    """A response that the document does not describe."""


@dataclass(frozen=True)
class Operation:
    method: str  # upper case
    path: str  # the document's path template
    spec: dict[str, Any]


class OpenApi:
    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.registry: Registry = Registry().with_resource(
            BASE, Resource.from_contents(document, default_specification=DRAFT202012)
        )
        self.patterns = [
            (self._pattern(path, item), path) for path, item in document["paths"].items()
        ]

    @classmethod
    @functools.cache
    def load(cls, path: Path = DOCUMENT) -> OpenApi:
        return cls(yaml.safe_load(path.read_text()))

    # -- reading the document ------------------------------------------------------------------

    def resolve(self, node: Any) -> Any:
        """A `$ref` (`#/...`) followed to its target, repeatedly."""
        while isinstance(node, dict) and "$ref" in node:
            target: Any = self.document
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            node = target
        return node

    def _pattern(self, path: str, item: dict[str, Any]) -> re.Pattern[str]:
        greedy = {
            p["name"]
            for p in self._parameters(item, {})
            if p.get("in") == "path" and p.get("x-greedy")
        }
        regex = ""
        for token in re.split(r"(\{[^}]+\})", path):
            if token.startswith("{"):
                name = token[1:-1]
                regex += f"(?P<{name}>{'.+' if name in greedy else '[^/]+'})"
            else:
                regex += re.escape(token)
        return re.compile(regex)

    def _parameters(self, item: dict[str, Any], op: dict[str, Any]) -> list[dict[str, Any]]:
        params = item.get("parameters", []) + [
            p for method in METHODS for p in item.get(method, {}).get("parameters", [])
        ]
        return [self.resolve(p) for p in params + op.get("parameters", [])]

    def routes(self) -> set[tuple[str, str]]:
        """(METHOD, path template) of every operation."""
        return {
            (method.upper(), path)
            for path, item in self.document["paths"].items()
            for method in METHODS
            if method in item
        }

    def operation(self, method: str, path: str) -> Operation | None:
        for pattern, template in self.patterns:
            if pattern.fullmatch(path):
                spec = self.document["paths"][template].get(method.lower())
                return Operation(method.upper(), template, spec) if spec else None
        return None

    def schema_check(self, schema: Any, instance: Any, where: str) -> None:
        """`instance` against `schema` (a part of the document: its `$ref`s resolve)."""
        validator = Draft202012Validator(
            {"$id": f"{BASE}/check", "$ref": f"{BASE}#{self._pointer(schema)}"}
            if isinstance(schema, dict) and "$ref" in schema and len(schema) == 1
            else {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema},
            registry=self.registry,
            format_checker=Draft202012Validator.FORMAT_CHECKER,
        )
        errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.path))
        if errors:
            details = "; ".join(
                f"{'/'.join(map(str, e.path)) or '(root)'}: {e.message}" for e in errors[:5]
            )
            raise ResponseMismatch(f"{where}: {details}")

    @staticmethod
    def _pointer(schema: dict[str, Any]) -> str:
        return str(schema["$ref"]).removeprefix("#")

    # -- checking a response -------------------------------------------------------------------

    def check(
        self,
        method: str,
        path: str,
        status: int,
        headers: Mapping[str, str],
        body: bytes,
    ) -> Operation:
        """Raise `ResponseMismatch` unless the document describes this response."""
        operation = self.operation(method, path)
        where = f"{method.upper()} {path} -> {status}"
        if operation is None:
            raise ResponseMismatch(f"{where}: no such operation in openapi.yaml")
        responses = operation.spec["responses"]
        key = next(
            (k for k in (str(status), f"{status // 100}XX", "default") if k in responses), None
        )
        if key is None:
            raise ResponseMismatch(
                f"{where}: status not documented (documented: {', '.join(responses)})"
            )
        response = self.resolve(responses[key])
        lowered = {name.lower(): value for name, value in headers.items()}
        for name, header in response.get("headers", {}).items():
            header = self.resolve(header)
            value = lowered.get(name.lower())
            if value is None:
                if header.get("required"):
                    raise ResponseMismatch(f"{where}: required header {name} missing")
                continue
            self.schema_check(header.get("schema", {}), value, f"{where} header {name}")
        self._check_body(operation, response, lowered, body, where)
        return operation

    def _check_body(
        self,
        operation: Operation,
        response: dict[str, Any],
        headers: Mapping[str, str],
        body: bytes,
        where: str,
    ) -> None:
        content = response.get("content")
        if operation.method == "HEAD":
            return  # HEAD has no body; its headers were checked
        if not content:
            if body:
                raise ResponseMismatch(f"{where}: undocumented body ({len(body)} bytes)")
            return
        media = (headers.get("content-type") or "").split(";")[0].strip().lower()
        matched = next(
            (
                spec
                for kind, spec in content.items()
                if kind in (media, "*/*") or (kind.endswith("/*") and media.startswith(kind[:-1]))
            ),
            None,
        )
        if matched is None:
            raise ResponseMismatch(f"{where}: Content-Type {media!r} not in {list(content)}")
        if media == "application/json" or media.endswith("+json"):
            try:
                payload = json.loads(body)
            except ValueError as exc:
                raise ResponseMismatch(f"{where}: body is not JSON: {body[:80]!r}") from exc
            self.schema_check(matched.get("schema", {}), payload, f"{where} body")
        elif not body:
            raise ResponseMismatch(f"{where}: empty {media} body")

    def check_error(self, status: int, headers: Mapping[str, str], body: bytes, where: str) -> None:
        """A response outside the document's routes (an unknown route): the envelope."""
        media = (headers.get("Content-Type") or headers.get("content-type") or "").split(";")[0]
        if media != "application/json":
            raise ResponseMismatch(f"{where} -> {status}: Content-Type {media!r}, not the envelope")
        try:
            payload = json.loads(body)
        except ValueError as exc:
            raise ResponseMismatch(f"{where} -> {status}: body is not JSON") from exc
        error = {"$ref": "#/components/schemas/Error"}
        self.schema_check(error, payload, f"{where} -> {status} body")
