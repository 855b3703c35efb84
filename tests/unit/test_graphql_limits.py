"""The depth-limit validation rule, on a schema that can nest without end."""

from __future__ import annotations

import pytest
from graphql import build_schema, parse, validate
from graphql_limits import depth_limit

SCHEMA = build_schema("type Query { node: Node } type Node { id: ID, child: Node }")


def nested(depth: int) -> str:
    return "{ " + "node { " + "child { " * (depth - 2) + "id" + " }" * (depth - 1) + " }"


@pytest.mark.parametrize(("depth", "allowed"), [(3, True), (4, True), (5, False), (9, False)])
def test_queries_deeper_than_the_limit_are_refused(depth: int, allowed: bool) -> None:
    errors = validate(SCHEMA, parse(nested(depth)), [depth_limit(4)])

    assert (errors == []) is allowed
    if not allowed:
        assert errors[0].message == f"Query depth {depth} exceeds the maximum of 4"


def test_fragments_count_towards_depth() -> None:
    query = """
      query { node { ...Deep } }
      fragment Deep on Node { child { child { child { id } } } }
    """

    errors = validate(SCHEMA, parse(query), [depth_limit(4)])

    assert [e.message for e in errors] == ["Query depth 5 exceeds the maximum of 4"]
