"""The API page's tables of error codes, derived from the code's own enums at build time.

REST: every member of `profile_photos.api.web.ErrorCode`, with the HTTP statuses the code
gives it (the functions' `HTTP_STATUS` table, the internal error, an unknown route, and API
Gateway's answers in the template's `GatewayResponses`). GraphQL: every member of
`GraphQLCode` in `functions/graphql/graphql_protocol.py`, read from the source (the GraphQL
function's modules are not a package the docs can import). Only the meaning of each code is
written here; a code without a meaning, or a meaning without a code, fails the build (and
`tests/unit/test_docs.py`), so a new code cannot ship undocumented.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import yaml

from docs.gen import template_parameters  # installed with the project (make venv)

ROOT = Path(__file__).resolve().parents[2]
GRAPHQL_PROTOCOL = ROOT / "functions" / "graphql" / "graphql_protocol.py"

REST_MEANINGS: dict[str, str] = {
    "VALIDATION_FAILED": "400: the request breaks a documented rule (too large: `File size N "
    "exceeds maximum 5242880 bytes for profile photos`; empty file, missing `file`, broken "
    "multipart, wrong Content-Type, unknown `assetContext`, a crop box outside the image). "
    "415: the type is not allowed (`Content type image/bmp not allowed. Allowed types: ...`), "
    "the part's MIME type, the file name's extension and the magic number disagree (the "
    "message names the check), or the image is invalid (`Invalid image file: ...`). Other "
    "4xx: API Gateway refused the request (its message)",
    "UNAUTHORIZED": "missing, malformed, expired or wrongly signed JWT, `alg: none`, wrong "
    "issuer/audience, `sub` not `[A-Za-z0-9_-]{1,128}`; also `POST /graphql`'s answer to "
    "such a token, before anything runs",
    "FORBIDDEN": "a signed URL's token does not grant the request: `Token has expired`, "
    "`Token verification failed: <why>`",
    "NOT_FOUND": "`File not found`; `complete` of a key no `upload-url` of yours issued: "
    "`Upload not found`; an unknown route: `Route not found`",
    "CONFLICT": "a request with the same `Idempotency-Key` is still running; a second "
    "`complete` of one grant: `Upload already completed`; a second PUT onto a staged key "
    "(LOCAL): `Upload already received`",
    "PAYLOAD_TOO_LARGE": "API Gateway refused a body over its limit before the function ran "
    "(on AWS a multipart upload over about 4.4 MB of file): use the direct upload",
    "IDEMPOTENCY_KEY_REUSED": "the `Idempotency-Key` names an earlier, different request",
    "RATE_LIMITED": "over the per-user budget (`Retry-After` says when to retry), or the "
    "stage throttle (`Retry-After: 1`)",
    "INTERNAL_ERROR": "a bug: logged with its traceback, never detailed in the answer",
    "SERVICE_UNAVAILABLE": "DynamoDB, object storage, the JWKS endpoint or CloudFront failed, "
    "a size is being made (`Retry-After`), or the function failed or timed out at API "
    "Gateway; nothing is kept, retry",
}

GRAPHQL_MEANINGS: dict[str, str] = {
    "BAD_REQUEST": "HTTP 400: the body is not a GraphQL request (not JSON, no `query` "
    "string, `operationName` not a string, `variables` or `extensions` not an object, over "
    "16 KiB); nothing runs",
    "UNSUPPORTED_MEDIA_TYPE": "HTTP 415: the POST's `Content-Type` is missing or is not "
    "`application/json` (UTF-8)",
    "NOT_ACCEPTABLE": "HTTP 406: `Accept` allows neither `application/graphql-response+json` "
    "nor `application/json`",
    "GRAPHQL_PARSE_FAILED": "HTTP 400: the document does not parse",
    "GRAPHQL_VALIDATION_FAILED": "HTTP 400: the document fails validation (an unknown "
    "field, introspection while it is off, the depth or cost limit, two exports in one "
    "operation)",
    "BAD_USER_INPUT": "HTTP 400 when the variables do not fit their types; HTTP 200 when a "
    "resolver refuses an argument (a bad cursor, `first` out of range, `square: true` with "
    "`ORIGINAL`, a crop box outside the image)",
    "UNAUTHENTICATED": "HTTP 200: a field needs an identity the request does not carry",
    "FORBIDDEN": "HTTP 200: the field is not the caller's to read or change",
    "NOT_FOUND": "HTTP 200: no such photo of the caller's",
    "CONFLICT": "HTTP 200: the change conflicts with the photo's current state",
    "RATE_LIMITED": "HTTP 200: over the per-user budget; `extensions.retryAfter` gives the "
    "seconds to wait, nothing changed",
    "SERVICE_UNAVAILABLE": "HTTP 200: DynamoDB, object storage or CloudFront failed; retry",
    "INTERNAL_SERVER_ERROR": "HTTP 200: a bug in a resolver, logged, its details hidden",
}


def rest_codes() -> list[str]:
    from profile_photos.api.web import ErrorCode

    return [member.value for member in ErrorCode]


def graphql_codes(source: Path = GRAPHQL_PROTOCOL) -> list[str]:
    """The members of `class GraphQLCode(StrEnum)`, in order, from the module's source."""
    tree = ast.parse(source.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == "GraphQLCode":
            return [
                statement.value.value
                for statement in node.body
                if isinstance(statement, ast.Assign)
                and isinstance(statement.value, ast.Constant)
                and isinstance(statement.value.value, str)
            ]
    raise ValueError(f"{source.name}: no class GraphQLCode")


def gateway_responses() -> dict[str, set[str]]:
    """code -> the statuses API Gateway answers it with (the template's `GatewayResponses`:
    a response without `StatusCode` keeps its type's range, `4xx` or `5xx`)."""
    text = template_parameters.TEMPLATE.read_text(encoding="utf-8")
    loader = template_parameters._TemplateLoader  # a SafeLoader that reads CloudFormation's tags
    template = yaml.load(text, Loader=loader)  # noqa: S506
    found: dict[str, set[str]] = {}
    for resource in template["Resources"].values():
        responses = (resource.get("Properties") or {}).get("GatewayResponses") or {}
        for kind, response in responses.items():
            body = response["ResponseTemplates"]["application/json"]
            code = json.loads(re.sub(r"\$context\.[\w.]+", '""', body))["error"]["code"]
            default = "504" if kind == "INTEGRATION_TIMEOUT" else kind.rsplit("_", 1)[-1].lower()
            found.setdefault(code, set()).add(str(response.get("StatusCode") or default))
    return found


def rest_statuses() -> dict[str, list[str]]:
    from profile_photos.api.web import HTTP_STATUS, INTERNAL_ERROR, NO_ROUTE

    statuses: dict[str, set[str]] = {}
    for status, code in [*HTTP_STATUS.values(), INTERNAL_ERROR, NO_ROUTE]:
        statuses.setdefault(code.value, set()).add(str(status))
    for code, found in gateway_responses().items():
        statuses.setdefault(code, set()).update(found)
    return {code: sorted(found) for code, found in statuses.items()}


def undocumented(codes: list[str], meanings: dict[str, str]) -> list[str]:
    return [code for code in codes if code not in meanings]


def check(codes: list[str], meanings: dict[str, str], side: str) -> None:
    missing = undocumented(codes, meanings)
    if missing:
        raise ValueError(f"{side} codes without a meaning in docs/gen/error_codes.py: {missing}")
    stale = sorted(set(meanings) - set(codes))
    if stale:
        raise ValueError(f"docs/gen/error_codes.py describes {side} codes the code lacks: {stale}")


def render_rest() -> str:
    codes = rest_codes()
    check(codes, REST_MEANINGS, "REST")
    statuses = rest_statuses()
    unknown = sorted(set(statuses) - set(codes))
    if unknown:
        raise ValueError(f"codes answered but not in ErrorCode: {unknown}")
    rows = [
        f"| `{code}` | {', '.join(statuses.get(code, [])) or '-'} | {REST_MEANINGS[code]} |"
        for code in codes
    ]
    return "\n".join(["| Code | HTTP status | When |", "| --- | --- | --- |", *rows])


def render_graphql(source: Path = GRAPHQL_PROTOCOL) -> str:
    codes = graphql_codes(source)
    check(codes, GRAPHQL_MEANINGS, "GraphQL")
    rows = [f"| `{code}` | {GRAPHQL_MEANINGS[code]} |" for code in codes]
    return "\n".join(["| `extensions.code` | When |", "| --- | --- |", *rows])
