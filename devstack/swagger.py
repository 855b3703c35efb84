"""`/docs`: Swagger UI over the stack's own `/openapi.json`, with every file served locally.

Swagger UI comes from the `flask-swagger-ui` wheel (requirements-dev.txt): it ships Swagger
UI's release build (`dist/`, Apache-2.0, its `VERSION` beside it) and its Flask dependency is
already in the dev venv through moto's server. Only those files are read, located without
importing the package, so the stack never imports Flask for them. (`swagger-ui-bundle` on
PyPI ships Swagger UI 4, which refuses OpenAPI 3.1, the version of openapi.yaml.)

The page and its initializer are the stack's own: Swagger UI's `BaseLayout`, which has no
box to load another document; the validator badge off, because it calls validator.swagger.io;
"Try it out" against the document's `servers`, which the stack sets to its own origin. The
script is a file rather than inline, so the page's Content-Security-Policy allows this origin
alone: the page works with no network and can reach nothing but the stack.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

# name under /docs/ -> Content-Type; anything else under /docs/ is 404
ASSETS = {
    "swagger-ui.css": "text/css; charset=utf-8",
    "swagger-ui-bundle.js": "application/javascript; charset=utf-8",
    "favicon-32x32.png": "image/png",
    "favicon-16x16.png": "image/png",
}
INITIALIZER = "swagger-initializer.js"
MISSING = "Swagger UI is not installed: pip install -r requirements-dev.txt"
# Swagger UI sets inline styles and shows image responses through blob: URLs
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Profile Photos API</title>
  <link rel="stylesheet" href="/docs/swagger-ui.css">
  <link rel="icon" type="image/png" href="/docs/favicon-32x32.png" sizes="32x32">
  <link rel="icon" type="image/png" href="/docs/favicon-16x16.png" sizes="16x16">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script src="/docs/swagger-initializer.js"></script>
</body>
</html>
"""
SCRIPT = """window.addEventListener("load", () => {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    deepLinking: true,
    validatorUrl: null,
    showExtensions: true,
    showCommonExtensions: true,
  });
});
"""


@functools.cache
def dist() -> Path | None:
    """Swagger UI's `dist/` inside the installed wheel, or None when it is not installed."""
    spec = importlib.util.find_spec("flask_swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        return None
    found = Path(next(iter(spec.submodule_search_locations))) / "dist"
    return found if (found / "swagger-ui-bundle.js").is_file() else None


def installed() -> bool:
    return dist() is not None


def asset(name: str) -> tuple[str, bytes] | None:
    """Content-Type and bytes of `/docs/<name>`, or None for a name the page does not use:
    an allowlist, so no other file of the package (nor of the disk) is ever served."""
    if name == INITIALIZER:
        return "application/javascript; charset=utf-8", SCRIPT.encode()
    folder = dist()
    if name not in ASSETS or folder is None:
        return None
    return ASSETS[name], (folder / name).read_bytes()
