"""The validation rules of graphql_limits: depth, query cost (list sizes, priced reads),
export once."""

from __future__ import annotations

import pytest
from graphql import build_schema, parse, validate
from graphql_limits import (
    DEFAULT_LIST_BOUND,
    PageSize,
    depth_limit,
    once_per_operation,
    query_cost,
)

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


# --- query cost: list fields count their bound ------------------------------------------------

COST_SCHEMA = build_schema(
    """
    type Query { me: User, tags: [String!]!, things: [Thing!]! }
    type Mutation { export(first: Int = 100, after: String): Page!, other: Int }
    type User { id: ID, photos: [Photo!]! }
    type Photo { id: ID, url: String }
    type Thing { id: ID }
    type Page { count: Int, items: [Photo!]!, info: Info }
    type Info { next: Boolean }
    """
)
BOUNDS = {("User", "photos"): 5, ("Page", "items"): PageSize("first", 100)}


def cost_errors(query: str, maximum: int, variables: dict | None = None) -> list[str]:
    rule = query_cost(maximum, BOUNDS, variables)
    return [e.message for e in validate(COST_SCHEMA, parse(query), [rule])]


def cost_of(query: str, variables: dict | None = None) -> int:
    """The rule's cost of `query`: read back from its refusal at maximum 0."""
    (message,) = cost_errors(query, 0, variables)
    return int(message.rsplit(" ", 1)[1])


@pytest.mark.parametrize(
    ("query", "cost"),
    [
        ("{ me { id } }", 2),  # every field costs 1
        ("{ me { photos { id url } } }", 1 + 1 + 5 * 2),  # a fixed bound of 5
        ("{ a: me { photos { id } } b: me { photos { id } } }", 2 * (1 + 1 + 5)),  # aliases add
        ("{ tags }", 1),  # a list of scalars: values, no resolvers
        ("{ things { id } }", 1 + DEFAULT_LIST_BOUND),  # an undeclared list is never free
        ("mutation { export { count } }", 2),  # only the page's list is multiplied
        ("mutation { export { items { id url } } }", 1 + 1 + 100 * 2),  # default first
        ("mutation { export(first: 10) { items { id url } info { next } } }", 1 + 21 + 2),
        ("mutation { export(first: 1000) { items { id } } }", 1 + 1 + 100),  # clamped
        ("mutation { export(first: 0) { items { id } } }", 1 + 1),
        ('mutation { export(first: "x") { items { id } } }', 1 + 1 + 100),  # wrong type: max
    ],
)
def test_cost_multiplies_a_list_fields_selection_by_its_bound(query: str, cost: int) -> None:
    assert cost_of(query) == cost


@pytest.mark.parametrize(
    ("variables", "cost"),
    [
        ({"n": 3}, 1 + 1 + 3),
        ({"n": 500}, 1 + 1 + 100),
        ({}, 1 + 1 + 100),  # left out: counted as the maximum
        ({"n": [[[1]]]}, 1 + 1 + 100),  # wrong shape: the maximum, and no exception
        ({"n": True}, 1 + 1 + 100),
    ],
)
def test_page_sizes_are_read_from_variables(variables: dict, cost: int) -> None:
    query = "mutation ($n: Int) { export(first: $n) { items { id } } }"

    assert cost_of(query, variables) == cost


def test_fragments_are_costed_where_they_are_spread() -> None:
    query = """
      mutation { export(first: 7) { ...P } }
      fragment P on Page { items { ...F } }
      fragment F on Photo { id url }
    """

    assert cost_of(query) == 1 + 1 + 7 * 2


def test_a_fragment_dag_is_costed_without_walking_every_path() -> None:
    # 2^30 paths if walked naively; memoised, it is costed in a moment (and refused)
    levels = 30
    fragments = "\n".join(
        f"fragment F{n} on User {{ ...F{n + 1} ...F{n + 1} }}" for n in range(levels)
    )
    query = f"{{ me {{ ...F0 }} }}\n{fragments}\nfragment F{levels} on User {{ id }}"

    assert cost_of(query) == 1 + 2**levels


def test_an_operation_within_the_limit_passes() -> None:
    assert cost_errors("mutation { export { items { id url } } }", 202) == []
    assert cost_errors("mutation { export { items { id url } } }", 201) == [
        "The query exceeds the maximum cost of 201. Actual cost is 202"
    ]


# --- query cost: fields that read are priced ----------------------------------------------------

PRICES = {("Query", "me"): 10, ("Page", "count"): 30, ("User", "photos"): 10, ("Photo", "url"): 2}


def priced_cost(query: str) -> int:
    (error,) = validate(COST_SCHEMA, parse(query), [query_cost(0, BOUNDS, None, PRICES)])
    return int(error.message.rsplit(" ", 1)[1])


@pytest.mark.parametrize(
    ("query", "cost"),
    [
        ("{ me { id } }", 1 + 10 + 1),  # a priced field costs 1 + its price
        ("{ a: me { id } b: me { id } c: me { id } }", 3 * (1 + 10 + 1)),  # each alias pays
        ("mutation { export { count } }", 1 + (1 + 30)),  # a priced leaf
        ("mutation { export { a: count b: count } }", 1 + 2 * (1 + 30)),
        ("{ me { photos { id } } }", (1 + 10) + (1 + 10 + 5 * 1)),  # the list's own price once
        ("mutation { export(first: 10) { items { url } } }", 1 + 1 + 10 * (1 + 2)),  # x bound
        ("{ me { ...U ...U } } fragment U on User { photos { id } }", 11 + 2 * 16),  # per spread
        ("{ things { id } tags }", 1 + DEFAULT_LIST_BOUND + 1),  # unpriced fields cost 1
    ],
)
def test_fields_that_read_cost_their_price_each_time_they_can_execute(
    query: str, cost: int
) -> None:
    assert priced_cost(query) == cost


def test_the_limit_caps_the_reads_of_an_operation() -> None:
    """At 1 + 10 + 1 an alias, 166 aliases of a priced field fit 2000; the 167th is refused."""
    fits = "{ " + " ".join(f"m{n}: me {{ __typename }}" for n in range(166)) + " }"
    over = "{ " + " ".join(f"m{n}: me {{ __typename }}" for n in range(167)) + " }"
    rule = query_cost(2000, BOUNDS, None, PRICES)

    assert validate(COST_SCHEMA, parse(fits), [rule]) == []
    assert [e.message for e in validate(COST_SCHEMA, parse(over), [rule])] == [
        "The query exceeds the maximum cost of 2000. Actual cost is 2004"
    ]


# --- fields an operation may select once -------------------------------------------------------

ONCE = once_per_operation(frozenset({("Mutation", "export")}))


def once_errors(query: str) -> list[str]:
    return [e.message for e in validate(COST_SCHEMA, parse(query), [ONCE])]


@pytest.mark.parametrize(
    "query",
    [
        "mutation { export { count } }",
        "mutation { export { count } export { items { id } } }",  # merged: one execution
        "mutation { a: export { count } other }",
        "mutation { a: export { count } } mutation B { b: export { count } }",  # one runs
    ],
)
def test_one_export_per_operation_is_allowed(query: str) -> None:
    assert once_errors(query) == []


@pytest.mark.parametrize(
    "query",
    [
        "mutation { a: export { count } b: export { count } }",
        "mutation { a: export { count } ... on Mutation { b: export { count } } }",
        "mutation { ...A b: export { count } } fragment A on Mutation { a: export { count } }",
    ],
)
def test_a_second_export_in_an_operation_is_refused(query: str) -> None:
    assert once_errors(query) == [
        "export may be selected at most once per operation; found 2 (a, b)"
    ]
