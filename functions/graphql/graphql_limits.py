"""Guards that run before execution: request size and query depth (cost is ariadne's)."""

from __future__ import annotations

from typing import Any

from graphql import (
    ASTValidationRule,
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)

MAX_QUERY_BYTES = 16 * 1024


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
