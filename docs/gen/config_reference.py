"""The configuration page, derived from `shared/profile_photos/settings.py` at build time.

The list of variables and their defaults comes from the code: `load_settings` is parsed and
every `text()`, `integer()` and `flag()` call it makes is a variable (names fed to `text` from
a tuple count too). Only the meaning of each is written here, in `MEANINGS`; a variable the
code reads without a meaning fails the build (and `tests/unit/test_docs.py`), so a new
variable cannot ship undocumented.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = ROOT / "shared" / "profile_photos" / "settings.py"
READERS = {"text", "integer", "flag"}

# Meaning of every variable `load_settings` reads; `default` replaces the code's default
# where the code computes it (a derived value, a requirement) rather than passing a literal,
# and may name the settings module's constants as `{NAME}`.
MEANINGS: dict[str, dict[str, str]] = {
    "OBJECT_STORAGE_PROVIDER": {
        "meaning": "`LOCAL` (files on disk) or `R2` (Cloudflare R2 through boto3's S3 client). "
        "The template sets `R2`.",
    },
    "LOCAL_STORAGE_SECRET": {
        "default": "required, at least {MIN_SECRET_LENGTH} characters",
        "meaning": "signs every signed URL's token, in both providers (on AWS: the Secrets "
        "Manager secret's `signingSecret`)",
    },
    "LOCAL_STORAGE_ALLOWED_EXTENSIONS": {
        "default": "`{DEFAULT_ALLOWED_EXTENSIONS}`",
        "meaning": "the types an upload may have: a comma-separated subset of the default",
    },
    "JWT_SECRET": {
        "default": "this or `JWT_JWKS_URL`",
        "meaning": "HS256 key of the bearer tokens, at least 32 characters",
    },
    "JWT_JWKS_URL": {
        "default": "this or `JWT_SECRET`",
        "meaning": "JWKS of an RS256/ES256 issuer (keys cached per container); needs "
        "`JWT_ISSUER` and `JWT_AUDIENCE`",
    },
    "JWT_ISSUER": {"meaning": "the `iss` a token must carry, checked when set"},
    "JWT_AUDIENCE": {
        "meaning": "the `aud` a token must carry, checked when set. A token without `aud` "
        "(a Cognito access token) passes only with `token_use: access` and `client_id` equal "
        "to it",
    },
    "LOCAL_STORAGE_BASE_URL": {
        "default": "derived from the request",
        "meaning": "public base of signed URLs, e.g. `https://api.example.com/api/storage` "
        "(the template's `PublicBaseUrl`)",
    },
    "R2_ACCOUNT_ID": {
        "default": "required for R2 unless `R2_ENDPOINT_URL`",
        "meaning": "the endpoint `https://<id>.r2.cloudflarestorage.com`",
    },
    "R2_ACCESS_KEY_ID": {"default": "required for R2", "meaning": "R2 API token's key id"},
    "R2_SECRET_ACCESS_KEY": {"default": "required for R2", "meaning": "R2 API token's secret"},
    "R2_USER_ASSETS_BUCKET": {
        "default": "required for R2",
        "meaning": "the bucket behind `user-assets`",
    },
    "R2_APP_ASSETS_BUCKET": {"meaning": "the bucket behind `app-assets` (optional)"},
    "R2_ENDPOINT_URL": {
        "meaning": "overrides the R2 endpoint (the tests and the local stack point it at moto)",
    },
    "SIGNED_URL_TTL_SECONDS": {"meaning": "life of a signed URL, 1 s to 7 days"},
    "SIGNED_URL_WINDOW_SECONDS": {
        "default": "`{DEFAULT_SIGNED_URL_WINDOW}`, at most the TTL",
        "meaning": "signed GET URLs minted within one window are byte-identical; each is valid "
        "from TTL to TTL + window after it is handed out ([Caching signed URLs]"
        "(api.md#caching-signed-urls))",
    },
    "LOCAL_STORAGE_MAX_FILE_SIZE": {"meaning": "upload size limit in bytes"},
    "RETENTION_ACTIVE_LIMIT": {"meaning": "active photos kept per user"},
    "RATE_LIMIT_PER_MINUTE": {"meaning": "rate-limit units per user and minute"},
    "RATE_LIMIT_PER_HOUR": {"meaning": "rate-limit units per user and hour"},
    "PHOTOS_TABLE": {"meaning": "DynamoDB table of photos (set by the template)"},
    "USERS_TABLE": {"meaning": "DynamoDB table of users (set by the template)"},
    "IDEMPOTENCY_TABLE": {
        "meaning": "Powertools idempotency records (set by the template)",
    },
    "RATE_LIMITS_TABLE": {"meaning": "rate-limit counters (set by the template)"},
    "UPLOADS_TABLE": {"meaning": "direct-upload grants (set by the template)"},
    "GRAPHQL_INTROSPECTION": {
        "meaning": "`true` allows GraphQL introspection queries (what GraphiQL-style tools "
        "load the schema with). The template sets `false`; the local stack sets `true` "
        "unless the environment says `false`",
    },
    "RENDITIONS_FUNCTION": {
        "default": "set by the template (signed fetch)",
        "meaning": "the function signed fetch invokes for a size not made yet; unset, signed "
        "fetch renders in its own process (needs Pillow: a self-hosted single process)",
    },
    "CORS_ALLOWED_ORIGINS": {
        "default": "empty: no CORS",
        "meaning": "comma-separated origins (`https://app.example.com,http://localhost:5173`, "
        "or `*`) a browser may call the API from; the template's `CorsAllowedOrigins`; "
        "`make r2-cors` gives the R2 bucket the same origins",
    },
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": {
        "meaning": "set by Lambda from the function's `MemorySize` (MB); what a decode may "
        "take is derived from it",
    },
    "CDN_DISTRIBUTION_PARAMETER": {
        "default": "set by the template (GraphQL, with `EnableCdn`)",
        "meaning": "name of the SSM parameter holding the CloudFront distribution's id; "
        "erasure and crop changes invalidate the photo's CDN paths there before answering; "
        "unset: no CDN to purge ([Caching signed URLs](api.md#caching-signed-urls))",
    },
    "DEV_DATA_DIR": {
        "meaning": "everything the local stack persists; the default root of LOCAL storage",
    },
    "LOCAL_STORAGE_BASE_PATH": {
        "default": "`$DEV_DATA_DIR/object-storage`",
        "meaning": "root of LOCAL storage (`<root>/user-assets/...`)",
    },
}

# Read by the local stack (`make dev`, `make sam-api`), not by the functions.
LOCAL_STACK: dict[str, tuple[str, str]] = {
    "HOST": (
        "`127.0.0.1`",
        "where the stack listens; an address other than `localhost` or "
        "loopback needs your own `JWT_SECRET` and `LOCAL_STORAGE_SECRET`",
    ),
    "PORT": ("`3000`", "the API's port"),
    "LOG_LEVEL": (
        "`INFO`",
        "the console's level: `INFO` a line per request and per problem, `DEBUG` also every "
        "line of `$DEV_DATA_DIR/logs/stack.log` (the functions' logs and metrics)",
    ),
    "LOCAL_EMULATE_LAMBDA_LIMITS": (
        "off",
        "`1` refuses events and responses over Lambda's 6 MB, as AWS does",
    ),
    "SAM_LAMBDA_PORT": ("`PORT` + 1", "`make sam-api`: where `sam local start-lambda` listens"),
    "SAM_INVOKE_IMAGE": ("SAM's image", "`make sam-api`: the Lambda base image to run"),
}


@dataclass(frozen=True)
class Variable:
    name: str
    reader: str  # text, integer or flag
    default: str | None  # the default the code passes, as source text
    bounds: str | None  # integer limits


def constants(tree: ast.Module) -> dict[str, object]:
    """The settings module's plain constants (`DEFAULT_SIGNED_URL_TTL = 3600`, `5 * 1024 *
    1024`, tuples of strings), evaluated without importing the module."""
    values: dict[str, object] = {}
    for node in tree.body:
        target = node.target if isinstance(node, ast.AnnAssign) else None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
        value = getattr(node, "value", None)
        if not isinstance(target, ast.Name) or value is None:
            continue
        try:
            values[target.id] = ast.literal_eval(value)
        except ValueError:
            if isinstance(value, ast.BinOp):
                try:
                    values[target.id] = eval(  # noqa: S307 - literals and arithmetic only
                        compile(ast.Expression(value), str(SETTINGS), "eval"),
                        {"__builtins__": {}},
                        dict(values),
                    )
                except (NameError, TypeError):
                    continue
    return values


def _literal(node: ast.expr, module: dict[str, object]) -> str:
    if isinstance(node, ast.Constant):
        return f"`{node.value}`"
    if isinstance(node, ast.Name) and node.id in module:
        return f"`{module[node.id]}`"
    return f"`{ast.unparse(node)}`"


def _reader(call: ast.Call) -> bool:
    return isinstance(call.func, ast.Name) and call.func.id in READERS and bool(call.args)


def variables(path: Path = SETTINGS) -> list[Variable]:
    """Every variable `load_settings` reads, in the order the code reads them."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    module = constants(tree)
    load = next(
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef) and node.name == "load_settings"
    )
    # (position, names, call): a reader called with a literal name, or inside a comprehension
    # with the comprehension's variable over a tuple of names (`text(name) for name in (...)`)
    reads: list[tuple[tuple[int, int], list[str], ast.Call]] = []
    for node in ast.walk(load):
        if isinstance(node, ast.Call) and _reader(node):
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                reads.append(((node.lineno, node.col_offset), [first.value], node))
        if isinstance(node, ast.DictComp | ast.ListComp | ast.SetComp | ast.GeneratorExp):
            for gen in node.generators:
                if not (isinstance(gen.target, ast.Name) and isinstance(gen.iter, ast.Tuple)):
                    continue
                names = [
                    elt.value
                    for elt in gen.iter.elts
                    if isinstance(elt, ast.Constant) and isinstance(elt.value, str)
                ]
                for inner in ast.walk(node):
                    if (
                        isinstance(inner, ast.Call)
                        and _reader(inner)
                        and isinstance(inner.args[0], ast.Name)
                        and inner.args[0].id == gen.target.id
                    ):
                        reads.append(((inner.lineno, inner.col_offset), names, inner))
    found: dict[str, Variable] = {}
    for _, names, call in sorted(reads, key=lambda read: read[0]):
        reader = call.func.id  # type: ignore[attr-defined]
        default = _literal(call.args[1], module) if len(call.args) > 1 else None
        if reader == "flag":
            default = "`false`"
        keywords = {kw.arg: kw.value for kw in call.keywords}
        bounds = None
        if reader == "integer":
            low = _literal(keywords["minimum"], module) if "minimum" in keywords else "`1`"
            high = _literal(keywords["maximum"], module) if "maximum" in keywords else None
            bounds = f">= {low}" + (f", <= {high}" if high else "")
        for name in names:
            if name not in found or (found[name].default is None and default):
                found[name] = Variable(name, reader, default, bounds)
    return list(found.values())


def undocumented(path: Path = SETTINGS) -> list[str]:
    return [v.name for v in variables(path) if v.name not in MEANINGS]


def render(path: Path = SETTINGS) -> str:
    missing = undocumented(path)
    if missing:
        raise ValueError(
            f"read by {path.name} but not documented in docs/gen/config_reference.py: "
            + ", ".join(missing)
        )
    names = {
        name: ",".join(map(str, value)) if isinstance(value, tuple) else value
        for name, value in constants(ast.parse(path.read_text(encoding="utf-8"))).items()
    }
    out = ["| Variable | Default | Meaning |", "| --- | --- | --- |"]
    for variable in variables(path):
        entry = MEANINGS[variable.name]
        default = entry.get("default", "").format(**names) or variable.default or "unset"
        meaning = entry["meaning"]
        if variable.bounds:
            meaning += f" (an integer {variable.bounds})"
        out.append(f"| `{variable.name}` | {default} | {meaning} |")
    out += ["", "Read by the local stack only:", ""]
    out += ["| Variable | Default | Meaning |", "| --- | --- | --- |"]
    for name, (default, meaning) in LOCAL_STACK.items():
        out.append(f"| `{name}` | {default} | {meaning} |")
    return "\n".join(out)
