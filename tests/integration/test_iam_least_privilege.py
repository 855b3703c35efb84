"""Least privilege, proven: each function's AWS calls in this suite against its own policy.

Runs after every other integration test (see the recorder section of conftest.py). Every AWS
API call a handler made was recorded under the function's logical id (`aws_calls`) as the
(IAM action, resource ARN) pairs IAM evaluates for it: a TransactWriteItems needs PutItem,
UpdateItem, DeleteItem or ConditionCheckItem per item on that item's table, a Query of an
index needs Query on `table/<name>/index/<index>`. Each pair must be allowed by the function's
statements in the *transformed* template (the SAM transform, offline, as `make
check-template` runs it: `tests/template/iam_check.py`), and each granted (action, resource) must be
used by some call, or be listed in UNUSED_GRANTS_ALLOWED with the reason.

Not checked, and why: calls to Cloudflare R2 (the S3 API, but not AWS: IAM never sees them;
they are counted and must all be S3 calls); AWS managed policies (logs, X-Ray), which serve
the Lambda service, not our code: a call only they would allow fails the check. Wildcard
resources are checked by `tests/template/iam_check.py` itself
(tests/template/test_iam_wildcards.py).
Tables are named by their logical ids in the tests (the `stack` fixture), which is how a
table name maps to `!GetAtt <Table>.Arn` here.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

import pytest

from testkit.tools_venv import tools_python_json
from tests.integration.aws_calls import SUITE, Call
from tests.template.iam_check import (
    DEFAULT_ACCOUNT,
    Statement,
    allows,
    is_aws,
    required_permissions,
)

pytestmark = pytest.mark.tools

ROOT = Path(__file__).resolve().parents[2]
REGION = os.environ["AWS_DEFAULT_REGION"]  # tests/conftest.py; every moto client uses it
ACCOUNT = os.environ.get("MOTO_ACCOUNT_ID", DEFAULT_ACCOUNT)  # moto's account

Permission = tuple[str, str, str]  # (function, action, resource ARN)
Grant = tuple[str, str, str]  # (function, action pattern, resource pattern) as granted

# Grants no handler call uses, each with why it must stay.
UNUSED_GRANTS_ALLOWED: dict[Grant, str] = {
    (
        "RetentionFunction",
        "sqs:SendMessage",
        f"arn:aws:sqs:{REGION}:{ACCOUNT}:RetentionFailureQueue",
    ): (
        "added by SAM for the stream's OnFailure destination: Lambda's event source mapping "
        "sends a failed batch's coordinates with the function's role; the code never calls SQS"
    ),
    (
        "RenditionsFunction",
        "sqs:SendMessage",
        f"arn:aws:sqs:{REGION}:{ACCOUNT}:RenditionsFailureQueue",
    ): "the same, for the renditions consumer's OnFailure destination",
    # The stream consumers' reads of the photos stream (their roles' ReadPhotoStream and
    # ListPhotoStreams): the event source mapping polls the stream with the function's role;
    # the code never calls DynamoDB Streams. `!GetAtt PhotosTable.StreamArn` resolves to
    # `stream/*` here (the stream's label is known only once the table exists).
    **{
        (function, action, f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/PhotosTable/stream/*"): (
            "Lambda's event source mapping reads the photos stream with the function's role"
        )
        for function in ("RetentionFunction", "RenditionsFunction")
        for action in (
            "dynamodb:DescribeStream",
            "dynamodb:GetRecords",
            "dynamodb:GetShardIterator",
            "dynamodb:ListStreams",
        )
    },
}


@pytest.fixture(scope="module")
def policies() -> dict[str, list[Statement]]:
    """Function logical id -> its inline statements in the transformed template."""
    script = str(ROOT / "tests" / "template" / "iam_check.py")
    output = tools_python_json(script, "template.yaml", "--region", REGION, "--account", ACCOUNT)
    functions = output["functions"]
    return {
        name: [Statement.from_json(s) for s in spec["statements"]]
        for name, spec in functions.items()
    }


def aws_calls() -> list[Call]:
    return [
        call for call in SUITE.calls if is_aws(call.host) and not is_r2(call) and not nowhere(call)
    ]


def nowhere(call: Call) -> bool:
    """The timeout tests' calls: to a loopback endpoint that never answers, under made-up
    table names, made only to time out (nothing a deployed function sends)."""
    return call.test.startswith("tests/integration/test_timeouts.py::")


def is_r2(call: Call) -> bool:
    """R2 signs for region `auto` (no AWS region has that name), whatever its endpoint: also
    a test's loopback endpoint that never answers."""
    return call.service == "s3" and call.region == "auto"


GLOBAL_SERVICES = {"cloudfront"}


def needed() -> dict[Permission, str]:
    """Every (function, action, resource) a recorded AWS call needs -> the first test making it."""
    permissions: dict[Permission, str] = {}
    for call in aws_calls():
        # CloudFront is global: its calls are signed for us-east-1 and its ARNs name no region
        assert call.region == REGION or call.service in GLOBAL_SERVICES, (
            f"{call} is not in {REGION}: policies are resolved there"
        )
        for action, resource in required_permissions(
            call.service, call.operation, call.params, call.region, ACCOUNT
        ):
            permissions.setdefault((call.function, action, resource), call.test)
    return permissions


def denied(policies: dict[str, list[Statement]]) -> list[str]:
    return [
        f"{function}: {action} on {resource} (first in {test})"
        for (function, action, resource), test in sorted(needed().items())
        if not allows(policies.get(function, []), action, resource)
    ]


def granted(policies: dict[str, list[Statement]]) -> set[Grant]:
    return {
        (function, action, resource)
        for function, statements in policies.items()
        for statement in statements
        if statement.effect == "Allow"
        for action in statement.actions
        for resource in statement.resources
    }


def used(grant: Grant, permissions: set[Permission]) -> bool:
    function, action, resource = grant
    statement = Statement("", "Allow", (action,), (resource,))
    return any(f == function and statement.matches(a, r) for f, a, r in permissions)


def require_the_whole_suite() -> None:
    reasons = SUITE.incomplete()
    if reasons:
        pytest.skip("needs the whole integration suite's calls: " + "; ".join(reasons))


def recorded_table() -> str:
    """`RetentionFunction: dynamodb:GetItem table/PhotosTable, ...`: for failure messages."""
    by_function: dict[str, set[str]] = defaultdict(set)
    for function, action, resource in needed():
        by_function[function].add(f"{action} {resource.split(':', 5)[-1]}")
    return "\n".join(f"{f}: {', '.join(sorted(p))}" for f, p in sorted(by_function.items()))


def test_every_aws_call_is_allowed_by_its_functions_policy(
    policies: dict[str, list[Statement]],
) -> None:
    if not SUITE.calls:
        pytest.skip("no handler made an AWS call in this run (run the integration suite)")

    # Every caller is a function of the template, and only S3 calls go outside AWS (R2)
    assert {call.function for call in SUITE.calls} <= set(policies)
    outside = {(c.service, c.host) for c in SUITE.calls if not is_aws(c.host) or is_r2(c)}
    assert {service for service, _ in outside} <= {"s3"}, outside

    assert denied(policies) == [], "calls the function's policy refuses:\n" + recorded_table()


def test_every_granted_permission_is_used_by_some_call(
    policies: dict[str, list[Statement]],
) -> None:
    require_the_whole_suite()
    permissions = set(needed())
    grants = granted(policies)

    unused = sorted(
        g for g in grants if not used(g, permissions) and g not in UNUSED_GRANTS_ALLOWED
    )
    stale = sorted(g for g in UNUSED_GRANTS_ALLOWED if g not in grants or used(g, permissions))

    assert unused == [], "granted but never used:\n" + recorded_table()
    assert stale == [], "UNUSED_GRANTS_ALLOWED lists grants that are gone or used"


def test_every_function_of_the_template_was_invoked(policies: dict[str, list[Statement]]) -> None:
    require_the_whole_suite()

    assert set(policies) - set(SUITE.invocations) == set()


def test_the_check_refuses_a_retention_policy_without_get_item(
    policies: dict[str, list[Statement]],
) -> None:
    """Issue 9, defect 8: when the index lags, retention reads the photo (GetItem); a policy
    granting only Query and UpdateItem made that AccessDenied, and the batch failed."""
    require_the_whole_suite()
    # Given the retention policy without dynamodb:GetItem
    without = dict(policies)
    without["RetentionFunction"] = [
        Statement(
            s.sid, s.effect, tuple(a for a in s.actions if a != "dynamodb:GetItem"), s.resources
        )
        for s in policies["RetentionFunction"]
    ]

    # Then the suite's calls are refused exactly there
    refused = [line.split(" (first in ")[0] for line in denied(without)]
    photos = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/PhotosTable"
    assert refused == [f"RetentionFunction: dynamodb:GetItem on {photos}"]
