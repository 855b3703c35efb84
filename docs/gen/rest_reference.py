"""The REST reference page, rendered from `openapi.yaml` at build time.

The page is Markdown made from the document itself, so it cannot drift from what the e2e
suite checks responses against: every operation with its parameters (`$ref`s resolved), its
request body and every response it declares, errors included, then the shared schemas.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
OPENAPI = ROOT / "openapi.yaml"
METHODS = ("get", "head", "put", "post", "delete", "patch", "options")


def load(path: Path = OPENAPI) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return document


def resolve(document: dict[str, Any], node: Any) -> Any:
    """Follow `$ref`s inside the document until a node that is not a reference."""
    seen: set[str] = set()
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        if not ref.startswith("#/") or ref in seen:
            raise ValueError(f"unresolvable $ref {ref!r} in {OPENAPI.name}")
        seen.add(ref)
        target: Any = document
        for part in ref[2:].split("/"):
            target = target[part]
        node = target
    return node


def schema_anchor(name: str) -> str:
    return f"schema-{name.lower()}"


def cell(text: object) -> str:
    """Text safe inside a Markdown table cell."""
    return " ".join(str(text).split()).replace("|", "\\|")


def describe(schema: dict[str, Any] | None) -> str:
    """A one-line type for a schema: a link for a named schema, else its type and limits."""
    if not schema:
        return "any"
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{schema_anchor(name)})"
    parts: list[str] = []
    if "const" in schema:
        parts.append(f"`{json.dumps(schema['const'])}`")
    if "enum" in schema:
        parts.append("one of " + ", ".join(f"`{value}`" for value in schema["enum"]))
    kind = schema.get("type")
    if isinstance(kind, list):
        parts.append(" or ".join(kind))
    elif kind == "array":
        parts.append(f"array of {describe(schema.get('items'))}")
    elif kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        parts.append(f"object of {describe(schema['additionalProperties'])}")
    elif kind:
        parts.append(kind)
    for key, label in (
        ("format", "format"),
        ("contentMediaType", "media type"),
        ("pattern", "pattern"),
        ("minimum", "min"),
        ("maximum", "max"),
        ("minLength", "min length"),
        ("maxLength", "max length"),
        ("default", "default"),
    ):
        if key in schema:
            parts.append(f"{label} `{schema[key]}`")
    if "examples" in schema:
        parts.append("e.g. " + ", ".join(f"`{value}`" for value in schema["examples"]))
    return ", ".join(parts) or "any"


def properties(document: dict[str, Any], schema: dict[str, Any], prefix: str = "") -> list[str]:
    """Table rows for an object schema's properties, nested objects as dotted names."""
    rows: list[str] = []
    schema = resolve(document, schema) if "$ref" in schema and not prefix else schema
    required = set(schema.get("required", []))
    for name, prop in schema.get("properties", {}).items():
        full = f"{prefix}{name}"
        nested = prop.get("type") == "object" and "properties" in prop
        kind = "object" if nested else describe(prop)
        note = cell(prop.get("description", ""))
        rows.append(f"| `{full}` | {kind} | {'yes' if name in required else 'no'} | {note} |")
        if nested:
            rows += properties(document, prop, prefix=f"{full}.")
    return rows


def property_table(document: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    target = resolve(document, schema)
    rows = properties(document, target)
    if not rows:
        return [f"Body: {describe(schema)}."]
    head = ["| Field | Type | Required | Description |", "| --- | --- | --- | --- |"]
    return head + rows


def operation_security(document: dict[str, Any], operation: dict[str, Any]) -> str:
    requirements = operation.get("security", document.get("security", []))
    names = [name for requirement in requirements for name in requirement]
    if not names:
        return "none"
    schemes = document.get("components", {}).get("securitySchemes", {})
    labels = []
    for name in names:
        scheme = schemes.get(name, {})
        labels.append(f"`{name}` ({scheme.get('scheme', scheme.get('type', ''))})".strip())
    return ", ".join(labels)


def headers_cell(document: dict[str, Any], headers: dict[str, Any]) -> str:
    out = []
    for name, header in headers.items():
        header = resolve(document, header)
        text = f"`{name}`"
        if header.get("required"):
            text += " (always)"
        if header.get("description"):
            text += f": {header['description'].rstrip('.')}"
        out.append(text)
    return cell("; ".join(out)) or "-"


def body_cell(document: dict[str, Any], content: dict[str, Any]) -> str:
    if not content:
        return "-"
    return cell(
        "; ".join(f"`{media}` {describe(entry.get('schema'))}" for media, entry in content.items())
    )


def render_operation(
    document: dict[str, Any], path: str, method: str, item: dict[str, Any]
) -> list[str]:
    operation = item[method]
    out = [f"### {method.upper()} `{path}` {{#{operation['operationId'].lower()}}}", ""]
    out.append(f"**{operation.get('summary', operation['operationId'])}**")
    out.append("")
    if operation.get("description"):
        out += [" ".join(operation["description"].split()), ""]
    out += [f"Auth: {operation_security(document, operation)}.", ""]
    params = [resolve(document, p) for p in item.get("parameters", [])]
    params += [resolve(document, p) for p in operation.get("parameters", [])]
    if params:
        out += ["| Parameter | In | Required | Type | Description |"]
        out += ["| --- | --- | --- | --- | --- |"]
        for param in params:
            out.append(
                f"| `{param['name']}` | {param['in']} | {'yes' if param.get('required') else 'no'}"
                f" | {describe(param.get('schema'))} | {cell(param.get('description', ''))} |"
            )
        out.append("")
    body = operation.get("requestBody")
    if body:
        body = resolve(document, body)
        for media, entry in body.get("content", {}).items():
            required = "required" if body.get("required") else "optional"
            out += [f"Request body, `{media}` ({required}):", ""]
            out += property_table(document, entry.get("schema", {}))
            out.append("")
    out += ["| Status | Meaning | Headers | Body |", "| --- | --- | --- | --- |"]
    for status, response in operation.get("responses", {}).items():
        answer = resolve(document, response)
        out.append(
            f"| {status} | {cell(answer.get('description', ''))}"
            f" | {headers_cell(document, answer.get('headers', {}))}"
            f" | {body_cell(document, answer.get('content', {}))} |"
        )
    out.append("")
    return out


def render(document: dict[str, Any] | None = None) -> str:
    document = document or load()
    info = document["info"]
    out = [f"{' '.join(info.get('description', '').split())}", ""]
    out += ["## Servers", ""]
    for server in document.get("servers", []):
        out.append(f"- `{server['url']}`: {server.get('description', '')}")
    out += ["", "## Operations", ""]
    for path, item in document["paths"].items():
        for method in METHODS:
            if method in item:
                out += render_operation(document, path, method, item)
    components = document.get("components", {})
    out += ["## Security schemes", ""]
    for name, scheme in components.get("securitySchemes", {}).items():
        out += [f"- `{name}`: {' '.join(scheme.get('description', '').split())}"]
    out += ["", "## Schemas", ""]
    for name, schema in components.get("schemas", {}).items():
        out += [f"### {name} {{#{schema_anchor(name)}}}", ""]
        if schema.get("description"):
            out += [" ".join(schema["description"].split()), ""]
        if "properties" in schema:
            out += property_table(document, schema)
        else:
            out.append(f"Type: {describe(schema)}.")
        if "anyOf" in schema:
            options = [", ".join(option.get("required", [])) for option in schema["anyOf"]]
            out += ["", "At least one of: " + "; ".join(f"`{o}`" for o in options) + "."]
        out.append("")
    return "\n".join(out)


def operations(document: dict[str, Any] | None = None) -> list[tuple[str, str, list[str]]]:
    """(method, path, statuses) of every operation: what a test holds the page to."""
    document = document or load()
    return [
        (method, path, list(item[method].get("responses", {})))
        for path, item in document["paths"].items()
        for method in METHODS
        if method in item
    ]
