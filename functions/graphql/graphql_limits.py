"""Guards that run before execution: request size, query depth, query cost, and fields an
operation may select only once.

Cost (`query_cost`): every field costs 1 plus its *price*, and a list field adds its
selection's cost times the most items it can return (its *bound*):

    cost(selection) = sum over fields f of  1 + price(f) + bound(f) * cost(selection of f)

`price(f)` is what the field's resolver costs beyond a call in memory: the DynamoDB requests
it makes, declared in the `prices` map keyed by `(parent type, field)` (0 for a field not
listed). A priced field is paid for every time it can execute: each alias, each spread of a
fragment holding it, and `bound` times under a list, so aliases multiply the cost exactly as
they would multiply the reads, and the limit caps the reads of one operation at
`maximum / (1 + the smallest price)`. (The resolvers may read less: they resolve repeated
identical fields once per request; the cost is counted as if they did not, since a rule
that runs before execution cannot know which arguments name the same item.)

`bound(f)` is 1 for a field that is not a list. A list field's bound is declared in the
`bounds` map, keyed by `(parent type, field)`, as either
- an int: a fixed maximum (`User.profilePhotos`: RETENTION_ACTIVE_LIMIT), or
- a `PageSize`: the page size argument of the field that returned the parent object
  (`PhotoExport.items` holds at most `exportProfilePhotos(first:)` items). The argument is
  read from the literal, from the request's variables (a variable left out counts as the
  maximum: its operation default is not read), else from the schema default; it is
  clamped to `PageSize.maximum` (a larger value is refused by the resolver before any work,
  so the clamped cost is the most that can run), and a value that is not an int (a bad
  variable, refused at variable coercion) counts as the maximum. Nothing here raises:
  malformed input is reported by graphql-core's own rules and coercion, as a client error.
A list field missing from `bounds` counts `DEFAULT_LIST_BOUND` items, so a new list field is
never free. A list of scalars has no selection, so it costs 1 whatever its length: each element
is a value already in memory, not a resolver call.

Fragments are costed where they are spread (memoised per fragment and page size, so a
fragment spread many times is walked once); fragment cycles, reported by graphql-core's
NoFragmentCycles rule, cost nothing here. Each operation of the document is costed on its own,
and only one operation executes per request.

`once_per_operation`: fields of the root types that an operation may execute at most once
(`Mutation.exportProfilePhotos`), counted by response key across the root selection, inline
fragments and fragment spreads included. Selections with the same response key are merged by
GraphQL and executed once, so only distinct aliases count.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    ASTValidationRule,
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLNamedType,
    GraphQLObjectType,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationRule,
    VariableNode,
    get_named_type,
    get_nullable_type,
    is_list_type,
)
from graphql.language import OperationType

MAX_QUERY_BYTES = 16 * 1024
DEFAULT_LIST_BOUND = 100


@dataclass(frozen=True, slots=True)
class PageSize:
    """A list bounded by the page size argument of the field that returned its parent."""

    argument: str
    maximum: int


Bound = int | PageSize


def depth_limit(max_depth: int) -> type[ASTValidationRule]:
    """A validation rule refusing operations nested deeper than `max_depth` fields."""

    class DepthLimit(ASTValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            depth = self._depth(node.selection_set, 0, frozenset())
            if depth > max_depth:
                self.report_error(
                    GraphQLError(f"Query depth {depth} exceeds the maximum of {max_depth}", node)
                )

        def _depth(
            self, selections: SelectionSetNode | None, depth: int, seen: frozenset[str]
        ) -> int:
            deepest = depth
            for selection in selections.selections if selections else ():
                if isinstance(selection, FieldNode):
                    inner = self._depth(selection.selection_set, depth + 1, seen)
                elif isinstance(selection, InlineFragmentNode):
                    inner = self._depth(selection.selection_set, depth, seen)
                elif isinstance(selection, FragmentSpreadNode):
                    name = selection.name.value
                    fragment = self.context.get_fragment(name)
                    if name in seen or fragment is None:
                        continue  # cycles are reported by graphql-core's own rules
                    inner = self._depth(fragment.selection_set, depth, seen | {name})
                else:
                    continue
                deepest = max(deepest, inner)
            return deepest

    return DepthLimit


def query_cost(
    maximum: int,
    bounds: Mapping[tuple[str, str], Bound],
    variables: Mapping[str, Any] | None = None,
    prices: Mapping[tuple[str, str], int] | None = None,
) -> type[ASTValidationRule]:
    """A validation rule refusing operations that cost more than `maximum` (module docstring).

    `variables` are the request's raw variables (only page sizes are read from them);
    `prices` the fields whose resolvers read, with what each execution costs on top of 1.
    """
    priced: Mapping[tuple[str, str], int] = prices or {}
    values: Mapping[str, Any] = variables if isinstance(variables, Mapping) else {}
    page_arguments: dict[str, int] = {}  # argument name -> the largest page it may ask for
    for bound in bounds.values():
        if isinstance(bound, PageSize):
            page_arguments[bound.argument] = max(
                bound.maximum, page_arguments.get(bound.argument, 0)
            )

    class QueryCost(ValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            self._fragments: dict[tuple[str, int | None], int] = {}
            root = root_type(self.context.schema, node.operation)
            if root is None:
                return
            cost = self._cost(node.selection_set, root, None, frozenset())
            if cost > maximum:
                self.report_error(
                    GraphQLError(
                        f"The query exceeds the maximum cost of {maximum}. Actual cost is {cost}",
                        node,
                    )
                )

        def _cost(
            self,
            selections: SelectionSetNode | None,
            parent: GraphQLNamedType | None,
            page: int | None,  # the page size of the field that returned `parent`
            seen: frozenset[str],
        ) -> int:
            total = 0
            for selection in selections.selections if selections else ():
                if isinstance(selection, FieldNode):
                    total += self._field_cost(selection, parent, page, seen)
                elif isinstance(selection, InlineFragmentNode):
                    condition = selection.type_condition
                    inner = (
                        self.context.schema.get_type(condition.name.value) if condition else parent
                    )
                    total += self._cost(selection.selection_set, inner, page, seen)
                elif isinstance(selection, FragmentSpreadNode):
                    total += self._spread_cost(selection.name.value, page, seen)
            return total

        def _spread_cost(self, name: str, page: int | None, seen: frozenset[str]) -> int:
            fragment = self.context.get_fragment(name)
            if fragment is None or name in seen:
                return 0  # unknown fragments and cycles are graphql-core's to report
            key = (name, page)
            if key not in self._fragments:
                inner = self.context.schema.get_type(fragment.type_condition.name.value)
                self._fragments[key] = self._cost(
                    fragment.selection_set, inner, page, seen | {name}
                )
            return self._fragments[key]

        def _field_cost(
            self,
            node: FieldNode,
            parent: GraphQLNamedType | None,
            page: int | None,
            seen: frozenset[str],
        ) -> int:
            if not isinstance(parent, GraphQLObjectType) or node.name.value not in parent.fields:
                return 1  # unknown fields are reported by graphql-core's rules
            field = parent.fields[node.name.value]
            own = 1 + priced.get((parent.name, node.name.value), 0)
            if node.selection_set is None:
                return own
            bound = 1
            if is_list_type(get_nullable_type(field.type)):
                declared = bounds.get((parent.name, node.name.value), DEFAULT_LIST_BOUND)
                if isinstance(declared, PageSize):
                    bound = declared.maximum if page is None else min(page, declared.maximum)
                else:
                    bound = declared
            own_page = self._page_size(node, field)
            inner = self._cost(node.selection_set, get_named_type(field.type), own_page, seen)
            return own + bound * inner

        def _page_size(self, node: FieldNode, field: GraphQLField) -> int | None:
            """This field's page size argument, if it has one that `bounds` reads (else None)."""
            for name in page_arguments.keys() & field.args.keys():
                maximum = page_arguments[name]
                value = field.args[name].default_value
                given = next((a.value for a in node.arguments or () if a.name.value == name), None)
                if isinstance(given, IntValueNode):
                    value = int(given.value)
                elif isinstance(given, VariableNode):
                    value = values.get(given.name.value)  # absent: its default, unknown here
                elif given is not None:
                    value = None  # a literal of the wrong type: refused by graphql-core
                if not isinstance(value, int) or isinstance(value, bool):
                    return maximum
                return max(0, min(value, maximum))
            return None

    return QueryCost


def once_per_operation(fields: frozenset[tuple[str, str]]) -> type[ASTValidationRule]:
    """A validation rule refusing an operation that selects a root field of `fields`
    (`(root type, field)`) under more than one response key (module docstring)."""

    class OncePerOperation(ValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            root = root_type(self.context.schema, node.operation)
            if root is None:
                return
            keys: dict[str, set[str]] = {}
            self._collect(node.selection_set, root.name, keys, frozenset())
            for name, found in sorted(keys.items()):
                if len(found) > 1:
                    shown = sorted(found)[:5] + (["..."] if len(found) > 5 else [])
                    self.report_error(
                        GraphQLError(
                            f"{name} may be selected at most once per operation; "
                            f"found {len(found)} ({', '.join(shown)})",
                            node,
                        )
                    )

        def _collect(
            self,
            selections: SelectionSetNode | None,
            root: str,
            keys: dict[str, set[str]],
            seen: frozenset[str],
        ) -> None:
            for selection in selections.selections if selections else ():
                if isinstance(selection, FieldNode):
                    if (root, selection.name.value) in fields:
                        key = selection.alias.value if selection.alias else selection.name.value
                        keys.setdefault(selection.name.value, set()).add(key)
                elif isinstance(selection, InlineFragmentNode):
                    self._collect(selection.selection_set, root, keys, seen)
                elif isinstance(selection, FragmentSpreadNode):
                    name = selection.name.value
                    fragment = self.context.get_fragment(name)
                    if fragment is not None and name not in seen:
                        self._collect(fragment.selection_set, root, keys, seen | {name})

    return OncePerOperation


def root_type(schema: Any, operation: OperationType) -> GraphQLObjectType | None:
    return {
        OperationType.QUERY: schema.query_type,
        OperationType.MUTATION: schema.mutation_type,
        OperationType.SUBSCRIPTION: schema.subscription_type,
    }.get(operation)
