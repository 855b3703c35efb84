"""The functions of `template.yaml` as the local stack runs them: code, handler, env, triggers.

Environment values are resolved like CloudFormation would with the template's parameter
defaults (`Ref`, `Fn::Sub`, `Fn::If` and its conditions, `Fn::Join`, `Fn::Select`,
`Fn::GetAtt`); a resource's `Ref` is its logical id, as under `sam local`. Secrets the
template takes by dynamic reference (`{{resolve:...}}`) cannot be resolved offline: those
variables come from the process environment or the labelled development defaults.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devkit.template import ROOT, load_template, resources_of_type

PSEUDO = {
    "AWS::Region": "eu-west-1",
    "AWS::AccountId": "123456789012",
    "AWS::StackName": "profile-photos-local",
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::NoValue": None,
}


@dataclass(frozen=True)
class ApiRoute:
    method: str  # upper case, or ANY
    path: str  # template path, e.g. /api/storage/signed/{bucket}/{filePath+}
    pattern: re.Pattern[str]

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if self.method not in ("ANY", method):
            return None
        found = self.pattern.fullmatch(path)
        return found.groupdict() if found else None


@dataclass(frozen=True)
class StreamTrigger:
    table: str  # logical id of the table whose stream drives the function
    batch_size: int
    starting_position: str
    filters: list[dict[str, Any]]
    maximum_retry_attempts: int
    bisect_on_error: bool
    report_item_failures: bool
    on_failure: str | None


@dataclass
class LocalFunction:
    name: str
    code_dir: Path
    module: str
    handler: str
    environment: dict[str, str]
    timeout: int
    memory_size: int  # MB, as Lambda sets AWS_LAMBDA_FUNCTION_MEMORY_SIZE
    routes: list[ApiRoute] = field(default_factory=list)
    streams: list[StreamTrigger] = field(default_factory=list)


def route_pattern(path: str) -> re.Pattern[str]:
    """`/a/{x}/{rest+}` -> a regex with named groups; `{rest+}` spans slashes."""
    parts = []
    for token in re.split(r"(\{[^}]+\})", path):
        if token.startswith("{") and token.endswith("}"):
            name = token[1:-1]
            greedy = name.endswith("+")
            parts.append(f"(?P<{name.rstrip('+')}>{'.+' if greedy else '[^/]+'})")
        else:
            parts.append(re.escape(token))
    return re.compile("".join(parts))


class Resolver:
    """Evaluates the intrinsic functions the template uses, with parameter defaults."""

    def __init__(self, template: dict[str, Any], overrides: dict[str, str] | None = None):
        self.template = template
        self.parameters = {
            name: str(spec.get("Default", ""))
            for name, spec in template.get("Parameters", {}).items()
        } | (overrides or {})

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) != 1:
            return {key: self.resolve(item) for key, item in value.items()}
        ((key, arg),) = value.items()
        if key == "Ref":
            return self.ref(arg)
        if key == "Fn::Sub":
            text, variables = (arg, {}) if isinstance(arg, str) else arg
            variables = {name: self.resolve(item) for name, item in variables.items()}
            return re.sub(
                r"\$\{([^}!]+)\}", lambda found: str(self.sub_variable(found[1], variables)), text
            )
        if key == "Fn::If":
            condition, when_true, when_false = arg
            return self.resolve(when_true if self.condition(condition) else when_false)
        if key == "Fn::Join":
            separator, items = arg
            return separator.join(str(item) for item in self.resolve(items))
        if key == "Fn::Select":
            index, items = arg
            return self.resolve(items)[int(self.resolve(index))]
        if key == "Fn::GetAtt":
            logical, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
            return f"arn:aws:local:{PSEUDO['AWS::Region']}:{logical}/{attribute}"
        return {key: self.resolve(arg)}

    def sub_variable(self, name: str, variables: dict[str, Any]) -> Any:
        if name in variables:
            return variables[name]
        if "." in name and name not in PSEUDO:
            return self.resolve({"Fn::GetAtt": name.split(".", 1)})
        return self.ref(name)

    def ref(self, name: str) -> Any:
        if name in PSEUDO:
            return PSEUDO[name]
        if name in self.parameters:
            return self.parameters[name]
        # a resource: its logical id, as `sam local` does (a function's `.Alias` too: the
        # local function has no versions)
        return name.removesuffix(".Alias")

    def condition(self, name_or_expr: Any) -> bool:
        expr = (
            self.template.get("Conditions", {})[name_or_expr]
            if isinstance(name_or_expr, str)
            else name_or_expr
        )
        ((key, arg),) = expr.items()
        if key == "Fn::Equals":
            left, right = (self.resolve(item) for item in arg)
            return str(left) == str(right)
        if key == "Fn::Not":
            return not self.condition(arg[0])
        if key == "Fn::And":
            return all(self.condition(item) for item in arg)
        if key == "Fn::Or":
            return any(self.condition(item) for item in arg)
        if key == "Condition":
            return self.condition(arg)
        raise ValueError(f"unsupported condition {key}")


def load_functions(
    template: dict[str, Any] | None = None, parameters: dict[str, str] | None = None
) -> list[LocalFunction]:
    template = template or load_template()
    resolver = Resolver(template, parameters)
    globals_ = template.get("Globals", {}).get("Function", {})
    functions = []
    for name, resource in resources_of_type(template, "AWS::Serverless::Function").items():
        props = resource["Properties"]
        module, _, handler = props["Handler"].rpartition(".")
        env: dict[str, str] = {}
        for source in (globals_, props):
            variables = source.get("Environment", {}).get("Variables", {})
            for key, raw in variables.items():
                value = resolver.resolve(raw)
                if value is None or "{{resolve:" in str(value):
                    continue  # absent, or a dynamic reference: supplied by the local env
                env[key] = str(value)
        function = LocalFunction(
            name=name,
            code_dir=(ROOT / props["CodeUri"]).resolve(),
            module=module,
            handler=handler,
            environment=env,
            timeout=int(props.get("Timeout", globals_.get("Timeout", 3))),
            memory_size=int(props.get("MemorySize", globals_.get("MemorySize", 128))),
        )
        for event in props.get("Events", {}).values():
            spec = event.get("Properties", {})
            if event["Type"] == "Api":
                function.routes.append(
                    ApiRoute(spec["Method"].upper(), spec["Path"], route_pattern(spec["Path"]))
                )
            elif event["Type"] == "DynamoDB":
                stream = spec["Stream"]
                table = stream["Fn::GetAtt"][0] if "Fn::GetAtt" in stream else str(stream)
                destination = spec.get("DestinationConfig", {}).get("OnFailure", {})
                function.streams.append(
                    StreamTrigger(
                        table=table,
                        batch_size=int(spec.get("BatchSize", 100)),
                        starting_position=spec.get("StartingPosition", "LATEST"),
                        filters=[
                            json.loads(item["Pattern"])
                            if isinstance(item["Pattern"], str)
                            else item["Pattern"]
                            for item in spec.get("FilterCriteria", {}).get("Filters", [])
                        ],
                        maximum_retry_attempts=int(spec.get("MaximumRetryAttempts", -1)),
                        bisect_on_error=bool(spec.get("BisectBatchOnFunctionError", False)),
                        report_item_failures="ReportBatchItemFailures"
                        in spec.get("FunctionResponseTypes", []),
                        on_failure=str(resolver.resolve(destination.get("Destination")))
                        if destination
                        else None,
                    )
                )
        functions.append(function)
    return functions
