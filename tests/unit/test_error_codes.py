"""Every error code a response can carry is a member of its side's enum: `ErrorCode` for the
REST envelope (functions, API Gateway, the local stack), `GraphQLCode` for GraphQL's
`extensions.code`. The code is spelled only in the enum: a string literal where a code is set
is found by reading the source, so a new code cannot bypass the enum (and the generated docs
table, tests/unit/test_docs.py)."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from graphql_protocol import GRAPHQL_CODE, INTERNAL, GraphQLCode

from docs.gen import error_codes
from profile_photos.api.web import HTTP_STATUS, INTERNAL_ERROR, NO_ROUTE, ErrorCode

ROOT = Path(__file__).resolve().parents[2]
# Everything that answers HTTP: the layer package, the functions, the local stack's server.
SOURCES = sorted(
    [
        *(ROOT / "shared" / "profile_photos").rglob("*.py"),
        *(ROOT / "functions").rglob("*.py"),
        ROOT / "devstack" / "server.py",
    ]
)
ENUMS = {"ErrorCode", "GraphQLCode"}
CODE_LIKE = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*$")
CODE_CALLS = {"error_envelope", "envelope", "refusal"}  # their code argument


def code_positions(tree: ast.AST) -> Iterator[ast.AST]:
    """The expressions that set an error code: a `"code"` entry of a dict literal, a `code=`
    keyword, an assignment to `code` or to a name ending in CODE, the (status, code) pairs
    of a status table, the arguments of the envelope builders."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name in ENUMS:
            continue
        if isinstance(node, ast.Dict):
            yield from (
                value
                for key, value in zip(node.keys, node.values, strict=True)
                if isinstance(key, ast.Constant) and key.value == "code"
            )
        elif isinstance(node, ast.keyword) and node.arg == "code":
            yield node.value
        elif isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = [t.id for t in targets if isinstance(t, ast.Name)]
            if any(name == "code" or name.upper().endswith("CODE") for name in names):
                yield node.value
        elif isinstance(node, ast.Tuple) and len(node.elts) == 2:
            status = node.elts[0]
            if isinstance(status, ast.Constant) and isinstance(status.value, int):
                yield node.elts[1]
        elif isinstance(node, ast.Call):
            name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
            if name in CODE_CALLS:
                yield from node.args


def literal_codes(source: str) -> list[str]:
    """String literals that look like codes in the places a code is set, outside the enums."""
    tree = ast.parse(source)
    enum_nodes = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef) and node.name in ENUMS
        for inner in ast.walk(node)
    }
    found = []
    for position in code_positions(tree):
        if id(position) in enum_nodes:
            continue
        for node in ast.walk(position):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and CODE_LIKE.match(node.value)
            ):
                found.append(node.value)
    return found


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_code_is_set_through_its_enum(path: Path) -> None:
    found = literal_codes(path.read_text(encoding="utf-8"))
    assert not found, f"{path.relative_to(ROOT)} spells codes outside the enums: {found}"


@pytest.mark.parametrize(
    "planted",
    [
        'def f():\n    return error_envelope("GONE", "message")\n',
        'BODY = {"errors": [{"message": "m", "extensions": {"code": "GONE"}}]}\n',
        'TABLE = {KeyError: (410, "GONE")}\n',
        'GRAPHQL_CODE = {KeyError: "GONE"}\n',
        'def f(error):\n    code = "GONE"\n    return code\n',
        'def f(self):\n    self.envelope(410, "GONE", "message")\n',
        'def f():\n    return refusal(410, "GONE", "message", JSON)\n',
    ],
)
def test_the_source_check_finds_a_code_spelled_outside_the_enum(planted: str) -> None:
    assert literal_codes(planted) == ["GONE"]


def test_the_source_check_leaves_the_enums_and_other_literals_alone() -> None:
    source = (
        "class ErrorCode(StrEnum):\n    GONE = 'GONE'\n"
        "ENV = {'code': ErrorCode.GONE}\n"
        "def f(e):\n    return e.get('LOCAL_EMULATE_LAMBDA_LIMITS'), platform_error('THROTTLED')\n"
    )
    assert literal_codes(source) == []


def test_the_rest_status_table_uses_only_enum_members() -> None:
    for status, code in [*HTTP_STATUS.values(), INTERNAL_ERROR, NO_ROUTE]:
        assert isinstance(code, ErrorCode), (status, code)
        assert 400 <= status < 600


def test_api_gateway_answers_only_enum_codes() -> None:
    # the template's GatewayResponses: the platform's own answers in the envelope
    answered = error_codes.gateway_responses()
    assert {"PAYLOAD_TOO_LARGE", "RATE_LIMITED", "NOT_FOUND", "SERVICE_UNAVAILABLE"} <= set(
        answered
    )
    assert set(answered) <= set(ErrorCode)


def test_the_graphql_table_uses_only_enum_members() -> None:
    assert all(isinstance(code, GraphQLCode) for code in GRAPHQL_CODE.values())
    assert INTERNAL is GraphQLCode.INTERNAL_SERVER_ERROR


def test_every_enum_member_is_answered_somewhere() -> None:
    # REST: a member no table, gateway response or local-stack envelope uses is dead weight
    used = {code.value for _, code in [*HTTP_STATUS.values(), INTERNAL_ERROR, NO_ROUTE]}
    used |= set(error_codes.gateway_responses())
    assert used == {member.value for member in ErrorCode}
    # GraphQL: each member is named where a code is set (the table or the protocol module)
    protocol = (ROOT / "functions" / "graphql" / "graphql_protocol.py").read_text()
    body = protocol.split("# error class -> `extensions.code`", 1)[1]
    for member in GraphQLCode:
        assert f"GraphQLCode.{member.name}" in body, member
