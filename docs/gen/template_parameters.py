"""The deploy parameters table, rendered from `template.yaml`'s Parameters at build time.

Each parameter's default, allowed values and description come from the template itself, so
the table lists exactly what `sam deploy` accepts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"


class _TemplateLoader(yaml.SafeLoader):
    """Reads CloudFormation's short-form tags (`!Ref`, `!If`, ...) as plain values."""


def _any_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_mapping(node)  # type: ignore[arg-type]


_TemplateLoader.add_multi_constructor("!", _any_tag)


def parameters(path: Path = TEMPLATE) -> dict[str, dict[str, Any]]:
    template = yaml.load(path.read_text(encoding="utf-8"), Loader=_TemplateLoader)  # noqa: S506
    found: dict[str, dict[str, Any]] = template.get("Parameters", {})
    return found


def cell(text: object) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def render() -> str:
    out = ["| Parameter | Default | Allowed | Meaning |", "| --- | --- | --- | --- |"]
    for name, spec in parameters().items():
        default = spec.get("Default")
        shown = "required" if default is None else (f"`{default}`" if default != "" else "empty")
        allowed = []
        if "AllowedValues" in spec:
            allowed.append(", ".join(f"`{value}`" for value in spec["AllowedValues"]))
        if "MinValue" in spec or "MaxValue" in spec:
            allowed.append(f"{spec.get('MinValue', '')}..{spec.get('MaxValue', '')}")
        if "AllowedPattern" in spec:
            allowed.append(f"`{cell(spec['AllowedPattern'])}`")
        note = cell(spec.get("Description", ""))
        out.append(f"| `{name}` | {shown} | {'; '.join(allowed) or '-'} | {note} |")
    return "\n".join(out)
