"""Read `template.yaml` the way CloudFormation does, for the local stack and the tests.

Short-form intrinsics (`!Ref`, `!Sub`, `!GetAtt` ...) become their long form, so callers see
plain data. Tables are created from the template's own definitions: the local stack and the
tests cannot drift from what deploys.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"


class _CfnLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """SafeLoader with CloudFormation's tags; libyaml's parser where PyYAML has it (11x)."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {"Ref": value} if suffix == "Ref" else {f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _intrinsic)


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    """The template as plain data: a fresh copy each call (callers may change it), parsed
    once per version of the file (the tests read it for every local stack they make)."""
    stat = path.stat()
    return copy.deepcopy(_parsed(path.resolve(), stat.st_mtime_ns, stat.st_size))


@functools.cache
def _parsed(path: Path, mtime_ns: int, size: int) -> dict[str, Any]:
    with path.open() as handle:
        return yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass


def resources_of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {
        name: resource
        for name, resource in template.get("Resources", {}).items()
        if resource.get("Type") == kind
    }


def references(value: Any) -> set[str]:
    """Every logical id `value` (a template fragment) names with Ref, GetAtt or `${...}` in
    a Sub, nested or not."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, arg in value.items():
            if key == "Ref" and isinstance(arg, str):
                found.add(arg)
            elif key == "Fn::GetAtt":
                found.add((arg if isinstance(arg, str) else arg[0]).split(".")[0])
            elif key == "Fn::Sub":
                text = arg if isinstance(arg, str) else arg[0]
                found |= {part.split("}")[0].split(".")[0] for part in text.split("${")[1:]}
            found |= references(arg)
    elif isinstance(value, list):
        for item in value:
            found |= references(item)
    return found


def table_definitions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each AWS::DynamoDB::Table's properties, as CreateTable arguments (name left out)."""
    tables = {}
    for name, resource in resources_of_type(template, "AWS::DynamoDB::Table").items():
        props = resource["Properties"]
        definition: dict[str, Any] = {
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
        }
        if "GlobalSecondaryIndexes" in props:
            definition["GlobalSecondaryIndexes"] = [
                {k: v for k, v in index.items() if k != "ContributorInsightsSpecification"}
                for index in props["GlobalSecondaryIndexes"]
            ]
        if "StreamSpecification" in props:
            definition["StreamSpecification"] = {
                "StreamEnabled": True,
                "StreamViewType": props["StreamSpecification"]["StreamViewType"],
            }
        tables[name] = definition
    return tables


def create_tables(
    client: Any, names: dict[str, str], template: dict[str, Any] | None = None
) -> None:
    """Create every table of the template that `names` maps (logical id -> table name)
    and does not exist yet, then turn on TTL where the template does."""
    template = template or load_template()
    existing = set(client.list_tables()["TableNames"])
    resources = template["Resources"]
    for logical_id, definition in table_definitions(template).items():
        table_name = names.get(logical_id)
        if table_name is None or table_name in existing:
            continue
        client.create_table(TableName=table_name, **definition)
        ttl = resources[logical_id]["Properties"].get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            client.update_time_to_live(
                TableName=table_name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
            )
