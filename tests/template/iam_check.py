"""Each function's IAM policy as the transformed template grants it, and what an AWS call needs.

One file: it runs as a script in the tool venv, importing only check_template.py beside it,
so the action mapping, the policy evaluator and the justified wildcards travel together.

Usage: .venv-tools/bin/python tests/template/iam_check.py [template.yaml] [--region R] [--account A]

prints, as JSON, every Lambda function of the template after the SAM transform (run offline,
exactly as check_template.py runs it): its handler, the statements of its role's inline
policies with every resource resolved to an ARN, and the managed policy ARNs attached. A
table's ARN uses its logical id as the table name (what `sam local` and the tests name them).

The rest of the module is plain Python (no samtranslator), imported by the tests:
`required_permissions` turns one recorded API call into the (IAM action, resource ARN) pairs
IAM evaluates for it (a TransactWriteItems needs PutItem / UpdateItem / DeleteItem /
ConditionCheckItem on each item's table), and `allows` evaluates them against statements.
Anything this module does not know (an operation, an intrinsic, a `Condition`) raises instead
of guessing, so the check fails closed.

Wildcards: `unjustified_wildcards` lists every grant of every IAM role or policy in the
transformed template whose resource (or action) is a wildcard, unless JUSTIFIED_WILDCARDS or
JUSTIFIED_MANAGED_POLICIES names it with the reason it cannot be narrower. An AWS managed
policy counts as a wildcard grant (their resources are `*`). `main` exits 1 when any is left,
so `make check-template` and the IAM tests fail on a new one.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_REGION = "eu-west-1"
DEFAULT_ACCOUNT = "123456789012"
STACK_NAME = "profile-photos-local"  # as the local stack and the tests name theirs
# Cloudflare R2 speaks the S3 API but is not AWS: IAM never sees these calls.
NOT_AWS_HOST_SUFFIXES = (".r2.cloudflarestorage.com",)


class Unsupported(ValueError):
    """Something the check cannot evaluate faithfully: it refuses rather than guesses."""


# ------------------------------------------------------------------ policy evaluation


@dataclass(frozen=True)
class Statement:
    sid: str
    effect: str  # Allow | Deny
    actions: tuple[str, ...]
    resources: tuple[str, ...]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Statement:
        return cls(data["sid"], data["effect"], tuple(data["actions"]), tuple(data["resources"]))

    def matches(self, action: str, resource: str) -> bool:
        return any(action_matches(p, action) for p in self.actions) and any(
            resource_matches(p, resource) for p in self.resources
        )


def _glob(pattern: str, value: str, *, ignore_case: bool) -> bool:
    regex = "".join(
        ".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern
    )  # IAM wildcards only: no [...] classes as fnmatch would have
    flags = re.IGNORECASE if ignore_case else 0
    return re.fullmatch(regex, value, flags | re.DOTALL) is not None


def action_matches(pattern: str, action: str) -> bool:
    """IAM action names are case-insensitive; `*` and `?` are wildcards."""
    return _glob(pattern, action, ignore_case=True)


def resource_matches(pattern: str, resource: str) -> bool:
    """Resource ARNs are case-sensitive; `*` and `?` are wildcards (also across `/` and `:`)."""
    return _glob(pattern, resource, ignore_case=False)


def allows(statements: Iterable[Statement], action: str, resource: str) -> bool:
    """IAM's rule within one identity policy set: an explicit Deny wins, else any Allow."""
    matching = [s for s in statements if s.matches(action, resource)]
    return any(s.effect == "Allow" for s in matching) and not any(
        s.effect == "Deny" for s in matching
    )


# ------------------------------------------------------------------ API call -> IAM


def is_aws(host: str) -> bool:
    return not host.endswith(NOT_AWS_HOST_SUFFIXES)


def _table_arn(region: str, account: str, table: str, index: str | None = None) -> str:
    arn = f"arn:aws:dynamodb:{region}:{account}:table/{table}"
    return f"{arn}/index/{index}" if index else arn


# DynamoDB operations on one table (or one of its indexes, for Query and Scan) whose IAM
# action has the operation's name.
DYNAMODB_TABLE_OPERATIONS = {
    "GetItem",
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "Query",
    "Scan",
    "DescribeTable",
    "DescribeTimeToLive",
}
TRANSACT_WRITE_ACTIONS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
}


def reduce_params(service: str, operation: str, params: dict[str, Any]) -> dict[str, Any]:
    """What IAM looks at in a request (tables, indexes, buckets, keys), nothing of the items."""
    if service == "dynamodb":
        reduced: dict[str, Any] = {
            key: params[key] for key in ("TableName", "IndexName") if key in params
        }
        if "TransactItems" in params:
            reduced["TransactItems"] = [
                {kind: {"TableName": spec.get("TableName")} for kind, spec in item.items()}
                for item in params["TransactItems"]
            ]
        if "RequestItems" in params:
            reduced["RequestItems"] = sorted(params["RequestItems"])
        return reduced
    if service == "s3":
        return {key: params[key] for key in ("Bucket", "Key", "CopySource") if key in params}
    if service == "lambda":
        return {key: params[key] for key in ("FunctionName", "Qualifier") if key in params}
    if service == "ssm":
        return {key: params[key] for key in ("Name",) if key in params}
    if service == "cloudfront":
        return {key: params[key] for key in ("DistributionId",) if key in params}
    return {}


def required_permissions(
    service: str, operation: str, params: dict[str, Any], region: str, account: str
) -> list[tuple[str, str]]:
    """The (action, resource ARN) pairs IAM checks for one call (params as `reduce_params`)."""
    if service == "dynamodb":
        if operation in DYNAMODB_TABLE_OPERATIONS:
            index = params.get("IndexName") if operation in ("Query", "Scan") else None
            return [
                (f"dynamodb:{operation}", _table_arn(region, account, params["TableName"], index))
            ]
        if operation == "TransactWriteItems":
            pairs = []
            for item in params["TransactItems"]:
                ((kind, spec),) = item.items()
                arn = _table_arn(region, account, spec["TableName"])
                pairs.append((TRANSACT_WRITE_ACTIONS[kind], arn))
            return sorted(set(pairs))
        if operation == "TransactGetItems":
            return sorted(
                {
                    ("dynamodb:GetItem", _table_arn(region, account, item["Get"]["TableName"]))
                    for item in params["TransactItems"]
                }
            )
        if operation in ("BatchGetItem", "BatchWriteItem"):
            return [
                (f"dynamodb:{operation}", _table_arn(region, account, table))
                for table in params["RequestItems"]
            ]
    if service == "s3":
        bucket = f"arn:aws:s3:::{params['Bucket']}"
        objects = {
            "GetObject": "s3:GetObject",
            "HeadObject": "s3:GetObject",
            "PutObject": "s3:PutObject",
            "DeleteObject": "s3:DeleteObject",
        }
        if operation in objects:
            return [(objects[operation], f"{bucket}/{params['Key']}")]
        if operation in ("ListObjectsV2", "ListObjects", "HeadBucket"):
            return [("s3:ListBucket", bucket)]
    if service == "lambda" and operation == "Invoke":
        # a name, `name:qualifier` or an ARN; IAM checks the (qualified) function ARN
        name = params["FunctionName"].split(":function:", 1)[-1]
        if params.get("Qualifier"):
            name = f"{name.split(':', 1)[0]}:{params['Qualifier']}"
        return [("lambda:InvokeFunction", f"arn:aws:lambda:{region}:{account}:function:{name}")]
    if service == "ssm" and operation == "GetParameter":
        name = params["Name"]  # a path name starts with "/"; the ARN then has "parameter/..."
        path = name if name.startswith("/") else f"/{name}"
        return [("ssm:GetParameter", f"arn:aws:ssm:{region}:{account}:parameter{path}")]
    if service == "cloudfront" and operation == "CreateInvalidation":
        distribution = params["DistributionId"]
        return [
            (
                "cloudfront:CreateInvalidation",
                f"arn:aws:cloudfront::{account}:distribution/{distribution}",
            )
        ]
    raise Unsupported(
        f"no IAM mapping for {service}:{operation}; add one to tests/template/iam_check.py"
    )


# ------------------------------------------------------------------ the transformed template


# ------------------------------------------------------------------ wildcards

# AWS managed policies a role may carry: each grants on Resource "*", so each needs a reason.
JUSTIFIED_MANAGED_POLICIES: dict[str, str] = {
    "AWSLambdaBasicExecutionRole": (
        "logs:CreateLogGroup/CreateLogStream/PutLogEvents for the Lambda runtime's own log "
        "writes; the log group's name holds the generated function name, and naming it in "
        "the function's own role is a circular dependency"
    ),
    "AWSXrayWriteOnlyAccess": (
        "xray:PutTraceSegments, PutTelemetryRecords and the sampling reads (Tracing: Active); "
        "X-Ray has no resource-level permissions for them"
    ),
    "AWSCodeDeployRoleForLambda": (
        "CodeDeploy's service role for DeploymentPreference (SAM's CodeDeployServiceRole): it "
        "shifts the aliases and reads the alarms of the deployment it runs, named per deploy"
    ),
}
# Inline grants with a wildcard, by (action, resource as written: intrinsics as ${...}).
JUSTIFIED_WILDCARDS: dict[tuple[str, str], str] = {
    ("dynamodb:ListStreams", "${PhotosTable.Arn}/stream/*"): (
        "the stream consumers' event source mappings list the photos table's streams; "
        "ListStreams is granted on the table's `stream/*` (AWS's example policy and SAM's "
        "DynamoDBStreamReadPolicy), under this one table"
    ),
}
IAM_POLICY_TYPES = ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::RolePolicy")
EVALUATED_KEYS = {"Sid", "Effect", "Action", "Resource", "Condition"}


def written(value: Any) -> str:
    """A policy value as the template writes it: strings as they are, intrinsics as `${...}`
    (a `!GetAtt`'s ARN is exact; only a `*` the template or SAM wrote is a wildcard)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((key, arg),) = value.items()
        if key == "Ref":
            return f"${{{arg}}}"
        if key == "Fn::GetAtt":
            return "${" + (".".join(arg) if isinstance(arg, list) else str(arg)) + "}"
        if key == "Fn::Sub":
            text, variables = (arg, {}) if isinstance(arg, str) else arg
            return re.sub(
                r"\$\{([^}!]+)\}",
                lambda found: written(variables[found[1]]) if found[1] in variables else found[0],
                text,
            )
        if key == "Fn::Join":
            separator, items = arg
            return separator.join(written(item) for item in items)
    return json.dumps(value, sort_keys=True)


def _documents(resource: dict[str, Any]) -> Iterable[dict[str, Any]]:
    props = resource.get("Properties", {})
    if resource.get("Type") == "AWS::IAM::Role":
        for policy in props.get("Policies", []):
            yield policy["PolicyDocument"]
    elif resource.get("Type") in IAM_POLICY_TYPES:
        yield props["PolicyDocument"]


def wildcard_grants(translated: dict[str, Any], region: str, account: str) -> list[str]:
    """Every wildcard grant of the template's roles and policies, one line each:
    `Role: action on resource` or `Role: managed policy Name`."""
    resolver = ArnResolver(translated, region, account)
    found = []
    for logical_id, resource in translated.get("Resources", {}).items():
        if resource.get("Type") == "AWS::IAM::Role":
            for arn in resource.get("Properties", {}).get("ManagedPolicyArns", []):
                found.append(f"{logical_id}: managed policy {resolver.resolve(arn).split('/')[-1]}")
        for document in _documents(resource):
            for statement in _as_list(document["Statement"]):
                unknown = set(statement) - EVALUATED_KEYS
                if unknown:  # NotAction, NotResource: a wildcard by another name
                    found.append(f"{logical_id}: statement with {sorted(unknown)}")
                    continue
                if statement["Effect"] != "Allow":
                    continue
                for action in _as_list(statement["Action"]):
                    for target in _as_list(statement["Resource"]):
                        text = written(target)
                        if "*" in str(action) or "*" in text:
                            found.append(f"{logical_id}: {action} on {text}")
    return found


def unjustified_wildcards(translated: dict[str, Any], region: str, account: str) -> list[str]:
    """`wildcard_grants` less the justified ones: what the check fails on."""
    return [line for line in wildcard_grants(translated, region, account) if not _justified(line)]


def _justified(line: str) -> bool:
    grant = line.split(": ", 1)[1]
    if grant.startswith("managed policy "):
        return grant.removeprefix("managed policy ") in JUSTIFIED_MANAGED_POLICIES
    action, _, resource = grant.partition(" on ")
    return (action, resource) in JUSTIFIED_WILDCARDS


class ArnResolver:
    """Resolves the intrinsics of a transformed template's policy resources to ARNs."""

    def __init__(self, template: dict[str, Any], region: str, account: str) -> None:
        self.resources = template.get("Resources", {})
        self.pseudo = {
            "AWS::Region": region,
            "AWS::AccountId": account,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": STACK_NAME,
        }
        self.region, self.account = region, account

    def resolve(self, value: Any) -> str:
        if isinstance(value, str):
            return value
        if isinstance(value, dict) and len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::GetAtt":
                logical, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
                return self.get_att(logical, attribute)
            if key == "Fn::Sub":
                text, variables = (arg, {}) if isinstance(arg, str) else arg
                values = {name: self.resolve(item) for name, item in variables.items()}
                return re.sub(r"\$\{([^}!]+)\}", lambda found: self._sub(found[1], values), text)
            if key == "Fn::Join":
                separator, items = arg
                return separator.join(self.resolve(item) for item in items)
        raise Unsupported(f"cannot resolve policy resource {value!r}")

    def _sub(self, name: str, values: dict[str, str]) -> str:
        if name in values:
            return values[name]
        if "." in name:
            return self.get_att(*name.split(".", 1))
        return self.ref(name)

    def ref(self, name: str) -> str:
        if name in self.pseudo:
            return self.pseudo[name]
        kind = self.resources.get(name, {}).get("Type")
        if kind == "AWS::Lambda::Alias":  # its Ref is the alias's (qualified) ARN
            props = self.resources[name]["Properties"]
            function = self.resolve(props["FunctionName"])
            base = f"{self.region}:{self.account}"
            return f"arn:aws:lambda:{base}:function:{function}:{self.resolve(props['Name'])}"
        if kind == "AWS::SSM::Parameter":  # its Ref is its name
            return self.resolve(self.resources[name]["Properties"]["Name"])
        if kind == "AWS::CloudFront::Distribution":
            # its id exists once deployed (the tests' moto distribution has a random one):
            # any id here, where the template names exactly this distribution
            return "*"
        if kind in ("AWS::DynamoDB::Table", "AWS::SQS::Queue", "AWS::Lambda::Function"):
            return name  # table, queue or function name: the logical id (a queue's Ref is
            # its URL, but no policy names a queue by URL)
        raise Unsupported(f"cannot resolve Ref {name!r} ({kind})")

    def get_att(self, logical: str, attribute: str) -> str:
        kind = self.resources.get(logical, {}).get("Type")
        base = f"{self.region}:{self.account}"
        if kind == "AWS::DynamoDB::Table" and attribute == "Arn":
            return f"arn:aws:dynamodb:{base}:table/{logical}"
        if kind == "AWS::DynamoDB::Table" and attribute == "StreamArn":
            return f"arn:aws:dynamodb:{base}:table/{logical}/stream/*"
        if kind == "AWS::SQS::Queue" and attribute == "Arn":
            return f"arn:aws:sqs:{base}:{logical}"
        if kind == "AWS::SQS::Queue" and attribute == "QueueName":
            return logical
        raise Unsupported(f"cannot resolve GetAtt {logical}.{attribute} ({kind})")


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def policies_of(translated: dict[str, Any], region: str, account: str) -> dict[str, Any]:
    """Function logical id -> handler, inline statements (resolved), managed policy ARNs."""
    resolver = ArnResolver(translated, region, account)
    resources = translated.get("Resources", {})
    functions: dict[str, Any] = {}
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::Lambda::Function":
            continue
        props = resource.get("Properties", {})
        role = props.get("Role")
        if not (isinstance(role, dict) and "Fn::GetAtt" in role):
            raise Unsupported(f"{logical_id}: role {role!r} is not a role of this template")
        role_id = _as_list(role["Fn::GetAtt"])[0].split(".")[0]
        role_props = resources[role_id]["Properties"]
        statements = []
        # the role's own policies, and any AWS::IAM::Policy attached to it (CdnPurgePolicy:
        # its resource names the distribution, which the role's cannot without a cycle)
        attached = [
            other["Properties"]
            for other in resources.values()
            if other.get("Type") == "AWS::IAM::Policy"
            and {"Ref": role_id} in _as_list(other["Properties"].get("Roles", []))
        ]
        for policy in [*role_props.get("Policies", []), *attached]:
            for index, statement in enumerate(_as_list(policy["PolicyDocument"]["Statement"])):
                unknown = set(statement) - {"Sid", "Effect", "Action", "Resource"}
                if unknown:
                    raise Unsupported(f"{logical_id}: statement keys {sorted(unknown)}")
                statements.append(
                    {
                        "sid": statement.get("Sid") or f"{policy['PolicyName']}[{index}]",
                        "policy": policy["PolicyName"],
                        "effect": statement["Effect"],
                        "actions": [str(a) for a in _as_list(statement["Action"])],
                        "resources": [resolver.resolve(r) for r in _as_list(statement["Resource"])],
                    }
                )
        managed = [resolver.resolve(m) for m in role_props.get("ManagedPolicyArns", [])]
        functions[logical_id] = {
            "handler": props.get("Handler"),
            "statements": statements,
            "managed_policies": managed,
        }
    return functions


def translate(template_path: Path, region: str) -> dict[str, Any]:
    """The SAM transform offline (check_template.py's, beside this script)."""
    import logging

    from check_template import transform  # beside this script; needs the tool venv
    from samtranslator.yaml_helper import yaml_parse

    logging.getLogger("samtranslator").setLevel(logging.ERROR)
    translated, _ = transform(yaml_parse(template_path.read_text()), region)
    return translated


def function_policies(template_path: Path, region: str, account: str) -> dict[str, Any]:
    """The SAM transform offline, then `policies_of`."""
    return policies_of(translate(template_path, region), region, account)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("template", nargs="?", default="template.yaml", type=Path)
    parser.add_argument("--region", default=DEFAULT_REGION)
    parser.add_argument("--account", default=DEFAULT_ACCOUNT)
    args = parser.parse_args(argv)
    translated = translate(args.template.resolve(), args.region)
    policies = policies_of(translated, args.region, args.account)
    json.dump({"functions": policies}, sys.stdout, indent=2, sort_keys=True)
    print()
    unjustified = unjustified_wildcards(translated, args.region, args.account)
    for line in unjustified:
        print(f"unjustified wildcard: {line}", file=sys.stderr)
    if unjustified:
        print(
            "scope these to exact ARNs, or add the reason they cannot be narrower to "
            "JUSTIFIED_WILDCARDS / JUSTIFIED_MANAGED_POLICIES in tests/template/iam_check.py",
            file=sys.stderr,
        )
    return 1 if unjustified else 0


if __name__ == "__main__":
    sys.exit(main())
