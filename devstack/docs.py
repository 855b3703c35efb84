"""`/docs`: the OpenAPI document as one self-contained HTML page (no script, no CDN: the
browser may have no internet), rendered on the server from `openapi.yaml`."""

from __future__ import annotations

import html
import json
from typing import Any

METHODS = ("get", "head", "post", "put", "patch", "delete", "options")
STYLE = """
body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
h2{margin-top:2.5rem;border-bottom:1px solid #ccc}
.op{border:1px solid #ddd;border-radius:6px;margin:1rem 0;padding:.5rem 1rem}
.m{display:inline-block;min-width:4.5rem;font-weight:700;text-transform:uppercase}
.get,.head{color:#0b6e99}.post{color:#2b8a3e}.put{color:#b7791f}.options{color:#666}
code,pre{background:#f5f5f5;border-radius:4px}pre{padding:.5rem;overflow:auto;font-size:13px}
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:.2rem .5rem;text-align:left}
"""


def render_docs(spec: dict[str, Any]) -> str:
    info = spec.get("info", {})
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{_e(info.get('title', 'API'))}</title><style>{STYLE}</style></head><body>",
        f"<h1>{_e(info.get('title', 'API'))} <small>{_e(info.get('version', ''))}</small></h1>",
        f"<p>{_e(info.get('description', ''))}</p>",
        "<p>Machine-readable: <a href='/openapi.json'>/openapi.json</a> (OpenAPI "
        f"{_e(spec.get('openapi', ''))}).</p>",
    ]
    for server in spec.get("servers", []):
        parts.append(f"<p>Server: <code>{_e(server.get('url', ''))}</code></p>")
    schemes = spec.get("components", {}).get("securitySchemes", {})
    if schemes:
        parts.append("<h2>Authentication</h2>")
        for name, scheme in schemes.items():
            kind = " ".join(str(scheme.get(k, "")) for k in ("type", "scheme", "bearerFormat"))
            parts.append(f"<p><b>{_e(name)}</b>: {_e(kind)}. {_e(scheme.get('description', ''))}")
    parts.append("<h2>Routes</h2>")
    for path, item in spec.get("paths", {}).items():
        for method in METHODS:
            if method in item:
                parts.append(_operation(path, method, item[method]))
    schemas = spec.get("components", {}).get("schemas", {})
    if schemas:
        parts.append("<h2>Schemas</h2>")
        for name, schema in schemas.items():
            parts.append(f"<h3 id='schema-{_e(name)}'>{_e(name)}</h3>{_pre(schema)}")
    parts.append("</body></html>")
    return "\n".join(parts)


def _operation(path: str, method: str, op: dict[str, Any]) -> str:
    out = [
        f"<div class='op'><p><span class='m {method}'>{method}</span> <code>{_e(path)}</code>"
        f" {_e(op.get('summary', ''))}</p>"
    ]
    if op.get("description"):
        out.append(f"<p>{_e(op['description'])}</p>")
    if op.get("security") == []:
        out.append("<p>No authentication.</p>")
    params = op.get("parameters", [])
    if params:
        out.append("<table><tr><th>parameter</th><th>in</th><th>required</th><th>about</th></tr>")
        for p in params:
            out.append(
                f"<tr><td><code>{_e(p.get('name', p.get('$ref', '')))}</code></td>"
                f"<td>{_e(p.get('in', ''))}</td><td>{'yes' if p.get('required') else ''}</td>"
                f"<td>{_e(p.get('description', ''))}</td></tr>"
            )
        out.append("</table>")
    body = op.get("requestBody")
    if body:
        out.append(f"<p><b>Request body</b> {_e(body.get('description', ''))}</p>")
        for kind, media in body.get("content", {}).items():
            out.append(f"<p><code>{_e(kind)}</code></p>{_pre(media.get('schema', {}))}")
    out.append("<table><tr><th>status</th><th>meaning</th><th>headers</th><th>body</th></tr>")
    for status, response in op.get("responses", {}).items():
        headers = ", ".join(response.get("headers", {}))
        content = response.get("content", {})
        shapes = "; ".join(
            f"{kind}: {_shape(media.get('schema', {}))}" for kind, media in content.items()
        )
        out.append(
            f"<tr><td>{_e(status)}</td><td>{_e(response.get('description', ''))}</td>"
            f"<td>{_e(headers)}</td><td>{_e(shapes)}</td></tr>"
        )
    out.append("</table></div>")
    return "".join(out)


def _shape(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    return str(schema.get("type", "")) or json.dumps(schema)[:80]


def _pre(value: Any) -> str:
    return f"<pre>{_e(json.dumps(value, indent=2))}</pre>"


def _e(value: Any) -> str:
    return html.escape(str(value))
