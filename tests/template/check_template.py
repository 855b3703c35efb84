"""Check a SAM template the way CloudFormation will see it, offline.

Usage: .venv-tools/bin/python tests/template/check_template.py [template.yaml] [--region REGION]

cfn-lint 1.58 validates SAM resources against the SAM schema only: it no longer runs the SAM
transform, so it passes a `Runtime: python3.99` or a `BatchSize: 100000` hidden inside a SAM
function. This check closes that gap in four steps:

1. local paths: every CodeUri / ContentUri folder exists and holds the Handler's module;
2. the SAM transform (samtranslator) run offline, then cfn-lint on the CloudFormation it
   produces (every error and warning fails the check; informational findings are shown);
3. IAM wildcards: every IAM grant of the transformed template whose resource is a wildcard
   must be justified in tests/template/iam_check.py (an X-Ray write has no resource-level scope; a
   prefix-matched function name or every stream of the account has no excuse);
4. `sam validate --lint` on the template itself (SAM-level schema and cfn-lint).

No AWS call is made: the AWS managed policy names come from samtranslator's bundled map, and
the region, account and parameters are placeholders. Exit status 0 means clean, 1 means at
least one finding, 2 means the template could not be read.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import yaml
from cfnlint.api import ManualArgs, lint_file
from iam_check import unjustified_wildcards  # the sibling script (both run in the tool venv)
from samtranslator.parser.parser import Parser
from samtranslator.public.exceptions import InvalidDocumentException
from samtranslator.translator.translator import Translator
from samtranslator.yaml_helper import yaml_parse

DEFAULT_REGION = "eu-west-1"  # samconfig.toml deploys there
PLACEHOLDER_ACCOUNT = "123456789012"
PLACEHOLDER_BUCKET = "placeholder-artifacts-bucket"
FAILING_SEVERITIES = ("error", "warning")


class OfflineManagedPolicyLoader:
    """Stands in for samtranslator's ManagedPolicyLoader, which lists policies through IAM.

    samtranslator resolves AWS managed policy names (AWSXrayWriteOnlyAccess, ...) from the map
    it bundles and asks the loader only for a name it does not know. Offline there is nothing
    more to learn: the unknown name stays as written and cfn-lint reports it as a bad ARN.
    """

    def __init__(self) -> None:
        self.asked = False

    def load(self) -> dict[str, str]:
        self.asked = True
        return {}


class Report:
    def __init__(self) -> None:
        self.failures: list[str] = []

    def step(self, title: str) -> float:
        print(f"\n== {title}", flush=True)
        return time.monotonic()

    def done(self, started: float, failed: int, what: str) -> None:
        took = time.monotonic() - started
        if failed:
            self.failures.append(what)
            print(f"-- FAIL: {what} ({took:.1f}s)", flush=True)
        else:
            print(f"-- ok ({took:.1f}s)", flush=True)


# ------------------------------------------------------------------------------- helpers


def _resources(template: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    resources = template.get("Resources")
    if not isinstance(resources, dict):
        return
    for logical_id, resource in resources.items():
        if isinstance(resource, dict):
            properties = resource.get("Properties")
            yield (
                logical_id,
                resource.get("Type", ""),
                properties if isinstance(properties, dict) else {},
            )


def _function_globals(template: dict[str, Any]) -> dict[str, Any]:
    globals_ = template.get("Globals")
    function = globals_.get("Function") if isinstance(globals_, dict) else None
    return function if isinstance(function, dict) else {}


def _is_local(uri: Any) -> bool:
    return isinstance(uri, str) and not uri.startswith("s3://")


# ------------------------------------------------------------------------------- step 1


def check_local_paths(template: dict[str, Any], base: Path) -> list[str]:
    """Each local CodeUri/ContentUri exists; each zip function's Handler module is in it."""
    problems: list[str] = []
    function_globals = _function_globals(template)
    for logical_id, type_, props in _resources(template):
        if type_ == "AWS::Serverless::LayerVersion":
            uri = props.get("ContentUri")
            if _is_local(uri) and not (base / uri).is_dir():
                problems.append(f"{logical_id}: ContentUri {uri!r} is not a folder")
        if type_ != "AWS::Serverless::Function" or props.get("PackageType") == "Image":
            continue
        if "InlineCode" in props:
            continue
        uri = props.get("CodeUri", function_globals.get("CodeUri"))
        if not _is_local(uri):
            continue
        code = base / uri
        if not code.is_dir():
            problems.append(f"{logical_id}: CodeUri {uri!r} is not a folder")
            continue
        handler = props.get("Handler", function_globals.get("Handler"))
        if not isinstance(handler, str) or "." not in handler:
            problems.append(f"{logical_id}: Handler {handler!r} is not 'module.function'")
            continue
        module = handler.rsplit(".", 1)[0].replace(".", "/")
        if not ((code / f"{module}.py").is_file() or (code / module / "__init__.py").is_file()):
            problems.append(
                f"{logical_id}: Handler {handler!r} names module {module}.py, "
                f"which is not in {uri!r}"
            )
    return problems


# ------------------------------------------------------------------------------- step 2


def _placeholder_uris(template: dict[str, Any]) -> None:
    """samtranslator accepts only S3 locations; `sam build` rewrites local paths the same way."""
    function_globals = _function_globals(template)
    if _is_local(function_globals.get("CodeUri")):
        function_globals["CodeUri"] = {"Bucket": PLACEHOLDER_BUCKET, "Key": "code.zip"}
    for logical_id, type_, props in _resources(template):
        key = {
            "AWS::Serverless::Function": "CodeUri",
            "AWS::Serverless::LayerVersion": "ContentUri",
            "AWS::Serverless::Api": "DefinitionUri",
            "AWS::Serverless::HttpApi": "DefinitionUri",
            "AWS::Serverless::StateMachine": "DefinitionUri",
        }.get(type_)
        if key and _is_local(props.get(key)):
            props[key] = {"Bucket": PLACEHOLDER_BUCKET, "Key": f"{logical_id}.zip"}


def _placeholder_parameters(template: dict[str, Any], region: str) -> dict[str, Any]:
    """Values for parameters without a Default (the transform resolves a few Refs)."""
    values: dict[str, Any] = {
        "AWS::Region": region,
        "AWS::AccountId": PLACEHOLDER_ACCOUNT,
        "AWS::Partition": "aws",
        "AWS::StackName": "profile-photos-check",
        "AWS::StackId": (
            f"arn:aws:cloudformation:{region}:{PLACEHOLDER_ACCOUNT}:stack/profile-photos-check/"
            "00000000-0000-0000-0000-000000000000"
        ),
        "AWS::URLSuffix": "amazonaws.com",
    }
    parameters = template.get("Parameters")
    for name, spec in (parameters if isinstance(parameters, dict) else {}).items():
        if not isinstance(spec, dict) or "Default" in spec:
            continue
        allowed = spec.get("AllowedValues")
        if isinstance(allowed, list) and allowed:
            values[name] = allowed[0]
        elif str(spec.get("Type", "String")) == "Number":
            values[name] = str(spec.get("MinValue", 1))
        else:
            values[name] = f"placeholder-{name.lower()}"
    return values


def transform(
    template: dict[str, Any], region: str
) -> tuple[dict[str, Any], OfflineManagedPolicyLoader]:
    """The SAM transform, offline. Raises InvalidDocumentException on SAM-level errors."""
    _placeholder_uris(template)
    loader = OfflineManagedPolicyLoader()
    translator = Translator(
        managed_policy_map=None,
        sam_parser=Parser(),
        # Only its region_name is read (pseudo parameters, ARN partition); nothing is called.
        boto_session=boto3.session.Session(region_name=region),
    )
    translated = translator.translate(
        sam_template=template,
        parameter_values=_placeholder_parameters(template, region),
        get_managed_policy_map=loader.load,
    )
    return translated, loader


def lint_translated(translated: dict[str, Any], region: str) -> int:
    """cfn-lint on the transform's output; returns the number of errors and warnings."""
    with tempfile.TemporaryDirectory(prefix="check-template-") as tmp:
        path = Path(tmp) / "translated.json"
        path.write_text(json.dumps(translated, indent=2, sort_keys=False) + "\n")
        matches = lint_file(path, config=ManualArgs(regions=[region]))
        failing = 0
        for match in sorted(matches, key=lambda m: (m.rule.id, m.linenumber)):
            severity = match.rule.severity
            if severity in FAILING_SEVERITIES:
                failing += 1
            where = "/".join(str(p) for p in getattr(match, "path", []) or []) or (
                f"line {match.linenumber}"
            )
            label = severity.upper() if severity in FAILING_SEVERITIES else "info (ignored)"
            print(f"  [{match.rule.id}] {label} at {where}: {match.message}")
        if failing:
            fd, kept = tempfile.mkstemp(prefix="check-template-translated-", suffix=".json")
            with os.fdopen(fd, "w") as copy:
                copy.write(path.read_text())
            print(f"  translated template kept at {kept}")
    return failing


# ------------------------------------------------------------------------------- step 3


def sam_validate(template_path: Path) -> tuple[int, str]:
    sam = Path(sys.executable).parent / "sam"
    env = dict(os.environ, SAM_CLI_TELEMETRY="0")
    result = subprocess.run(
        [str(sam), "validate", "--lint", "--template", str(template_path)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=300,
    )
    return result.returncode, (result.stdout + result.stderr).strip()


# ------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("template", nargs="?", default="template.yaml", type=Path)
    parser.add_argument("--region", default=DEFAULT_REGION, help="placeholder region to lint for")
    parser.add_argument(
        "--no-sam-validate",
        action="store_true",
        help="leave out step 4 (the SAM CLI, ~5 s): the tests of steps 1-3 on edited copies",
    )
    args = parser.parse_args(argv)
    template_path: Path = args.template.resolve()

    try:
        template = yaml_parse(template_path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        print(f"cannot read {template_path}: {exc}", file=sys.stderr)
        return 2
    if not isinstance(template, dict):
        print(f"{template_path} is not a template (top level is not a mapping)", file=sys.stderr)
        return 2

    # samtranslator warns that its (unfetched) feature toggle config lacks a feature: noise.
    logging.getLogger("samtranslator").setLevel(logging.ERROR)
    print(f"checking {template_path} (offline, region {args.region})")
    report = Report()

    started = report.step("1/4 local paths (CodeUri, ContentUri, Handler modules)")
    problems = check_local_paths(template, template_path.parent)
    for problem in problems:
        print(f"  ERROR {problem}")
    report.done(started, len(problems), "local paths")

    started = report.step("2/4 SAM transform (samtranslator, offline) + cfn-lint on its output")
    try:
        translated, loader = transform(template, args.region)
    except InvalidDocumentException as exc:
        for cause in exc.causes:
            print(f"  ERROR [transform] {cause.message}")
        report.done(started, max(1, len(exc.causes)), "SAM transform")
    else:
        resources = translated.get("Resources", {})
        print(f"  transformed: {len(resources)} CloudFormation resources")
        if loader.asked:
            print("  note: a managed policy name was not in samtranslator's bundled map")
        report.done(started, lint_translated(translated, args.region), "cfn-lint")
        started = report.step("3/4 IAM wildcards (iam_check.py) in the transformed template")
        wildcards = unjustified_wildcards(translated, args.region, PLACEHOLDER_ACCOUNT)
        for line in wildcards:
            print(f"  ERROR unjustified wildcard: {line}")
        report.done(started, len(wildcards), "IAM wildcards")

    if not args.no_sam_validate:
        started = report.step("4/4 sam validate --lint")
        code, output = sam_validate(template_path)
        for line in output.splitlines():
            print(f"  {line}")
        report.done(started, code, "sam validate --lint")

    if report.failures:
        print(f"\nFAILED: {', '.join(report.failures)}")
        return 1
    print("\ntemplate check passed: no errors, no warnings")
    return 0


if __name__ == "__main__":
    sys.exit(main())
