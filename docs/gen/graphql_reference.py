"""The GraphQL reference page, generated from `functions/graphql/schema.graphql`.

graphql-core builds the schema exactly as the function loads it, and the page lists every
type with its fields, arguments (defaults printed as GraphQL literals) and descriptions, so
the reference is the schema and nothing typed by hand.
"""

from __future__ import annotations

from pathlib import Path

from graphql import (
    GraphQLArgument,
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLUnionType,
    Undefined,
    ast_from_value,
    build_schema,
    get_named_type,
    print_ast,
)

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "functions" / "graphql" / "schema.graphql"
BUILT_IN_SCALARS = {"String", "Int", "Float", "Boolean", "ID"}


def load(path: Path = SCHEMA) -> GraphQLSchema:
    return build_schema(path.read_text(encoding="utf-8"))


def anchor(name: str) -> str:
    return f"type-{name.lower()}"


def cell(text: str | None) -> str:
    return " ".join((text or "").split()).replace("|", "\\|")


def type_ref(kind: object) -> str:
    """`[ProfilePhoto!]!` with the named type linked to its section (built-in scalars plain)."""
    named = get_named_type(kind)  # type: ignore[arg-type]
    printed = str(kind)
    if named.name in BUILT_IN_SCALARS:
        return f"`{printed}`"
    start = printed.index(named.name)
    before, after = printed[:start], printed[start + len(named.name) :]
    link = f"[{named.name}](#{anchor(named.name)})"
    return (f"`{before}`" if before else "") + link + (f"`{after}`" if after else "")


def default_literal(value: GraphQLArgument | GraphQLInputField) -> str | None:
    """The default as the schema file writes it (a GraphQL literal), or None without one."""
    node = value.ast_node
    if node is not None and node.default_value is not None:
        return print_ast(node.default_value)
    if value.default_value is not Undefined:
        literal = ast_from_value(value.default_value, value.type)
        return print_ast(literal) if literal is not None else None
    return None


def argument(name: str, arg: GraphQLArgument) -> str:
    text = f"`{name}`: {type_ref(arg.type)}"
    default = default_literal(arg)
    if default is not None:
        text += f" = `{default}`"
    if arg.description:
        text += f" ({cell(arg.description)})"
    return text


def field_rows(fields: dict[str, GraphQLField]) -> list[str]:
    out = ["| Field | Type | Arguments | Description |", "| --- | --- | --- | --- |"]
    for name, field in fields.items():
        args = "<br>".join(argument(arg_name, arg) for arg_name, arg in field.args.items())
        note = cell(field.description)
        if field.deprecation_reason:
            note += f" Deprecated: {cell(field.deprecation_reason)}"
        out.append(f"| `{name}` | {type_ref(field.type)} | {args or '-'} | {note} |")
    return out


def section(kind: GraphQLNamedType) -> list[str]:
    out = [f"### {kind.name} {{#{anchor(kind.name)}}}", ""]
    if kind.description:
        out += [" ".join(kind.description.split()), ""]
    if isinstance(kind, GraphQLObjectType | GraphQLInterfaceType):
        out += field_rows(kind.fields)
    elif isinstance(kind, GraphQLInputObjectType):
        out += ["| Field | Type | Default | Description |", "| --- | --- | --- | --- |"]
        for name, field in kind.fields.items():
            literal = default_literal(field)
            default = f"`{literal}`" if literal is not None else "-"
            note = cell(field.description)
            out.append(f"| `{name}` | {type_ref(field.type)} | {default} | {note} |")
    elif isinstance(kind, GraphQLEnumType):
        out += ["| Value | Description |", "| --- | --- |"]
        for name, value in kind.values.items():
            out.append(f"| `{name}` | {cell(value.description)} |")
    elif isinstance(kind, GraphQLUnionType):
        out.append("One of: " + ", ".join(type_ref(member) for member in kind.types) + ".")
    elif isinstance(kind, GraphQLScalarType):
        out.append("A custom scalar.")
    out.append("")
    return out


def named_types(schema: GraphQLSchema) -> list[GraphQLNamedType]:
    """The schema's own types: roots first, then the others in the schema file's order."""
    roots = [t for t in (schema.query_type, schema.mutation_type, schema.subscription_type) if t]
    others = [
        kind
        for name, kind in schema.type_map.items()
        if not name.startswith("__") and name not in BUILT_IN_SCALARS and kind not in roots
    ]
    return [*roots, *others]


def render(schema: GraphQLSchema | None = None) -> str:
    schema = schema or load()
    out: list[str] = []
    groups = (
        ("Operations", lambda t: t in (schema.query_type, schema.mutation_type)),
        ("Object types", lambda t: isinstance(t, GraphQLObjectType)),
        ("Input types", lambda t: isinstance(t, GraphQLInputObjectType)),
        ("Enums", lambda t: isinstance(t, GraphQLEnumType)),
        ("Other types", lambda t: True),
    )
    remaining = named_types(schema)
    for title, wanted in groups:
        chosen = [kind for kind in remaining if wanted(kind)]
        remaining = [kind for kind in remaining if kind not in chosen]
        if chosen:
            out += [f"## {title}", ""]
            for kind in chosen:
                out += section(kind)
    return "\n".join(out)
