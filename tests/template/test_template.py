"""check_template.py (beside this test) catches what cfn-lint and `sam validate --lint` miss.

cfn-lint 1.58 no longer expands SAM resources, so a bad value inside a SAM function passes
both; the check runs the SAM transform offline and lints its output. Each test feeds the check
a copy of the real template with one mistake and asserts the finding names it.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from devkit.template import load_template, resources_of_type
from devstack.functions import load_functions
from testkit.tools_venv import require_tools_python, run_tools_python, transformed_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
CHECK = ROOT / "tests" / "template" / "check_template.py"

pytestmark = pytest.mark.tools

STREAM_EVENT = """\
        SecondStream:
          Type: DynamoDB
          Properties:
            Stream: !GetAtt PhotosTable.StreamArn
            StartingPosition: TRIM_HORIZON
            BatchSize: {batch_size}
            {response_types_key}:
              - {response_type}
"""


@pytest.fixture(scope="module", autouse=True)
def _tool_venv() -> None:
    require_tools_python()


def run_check(template: Path) -> subprocess.CompletedProcess[str]:
    """The check on an edited copy: its own steps, without `sam validate --lint` (the SAM
    CLI's run of the real template is `make check-template`'s)."""
    return run_tools_python(str(CHECK), str(template), "--no-sam-validate")


def replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"template changed: expected {old!r} exactly once"
    return text.replace(old, new)


def template_copy(tmp_path: Path, edit: Callable[[str], str]) -> Path:
    """The real template with one edit, written to tmp_path with local paths made absolute."""
    text = re.sub(
        r"^(\s*(?:CodeUri|ContentUri):\s*)([^\s#]+)",
        lambda m: m.group(1) + str(ROOT / m.group(2)),
        TEMPLATE.read_text(),
        flags=re.MULTILINE,
    )
    path = tmp_path / "template.yaml"
    path.write_text(edit(text))
    return path


def with_stream_event(
    batch_size: int = 10,
    response_types_key: str = "FunctionResponseTypes",
    response_type: str = "ReportBatchItemFailures",
) -> Callable[[str], str]:
    """Give RetentionFunction a second DynamoDB stream event on the photos table (its own
    role already reads that stream, so only the event's own fields are on trial: a stream
    event on a function with SAM's generated role would add SAM's account-wide managed policy,
    which the IAM step refuses)."""
    event = STREAM_EVENT.format(
        batch_size=batch_size,
        response_types_key=response_types_key,
        response_type=response_type,
    )
    events, first = "      Events:\n", "        PhotoStream:\n"  # RetentionFunction's, the first

    def edit(text: str) -> str:
        assert events + first in text, "template changed: no PhotoStream event"
        return text.replace(events + first, events + event + first, 1)

    return edit


# The real template itself goes through every step, `sam validate --lint` included, in
# `make check-template` (a step of `make test` before pytest): not again here.


def test_valid_stream_event_passes(tmp_path: Path) -> None:
    # Given a well-formed stream event (the shape the retention function will use)
    template = template_copy(tmp_path, with_stream_event())

    # When
    result = run_check(template)

    # Then the mutations below fail only because of their one mistake
    assert result.returncode == 0, result.stdout + result.stderr


def test_unknown_runtime_fails(tmp_path: Path) -> None:
    # Given
    template = template_copy(
        tmp_path, lambda t: replace_once(t, "Runtime: python3.13", "Runtime: python3.99")
    )

    # When
    result = run_check(template)

    # Then
    assert result.returncode == 1
    assert "[E3030] ERROR at Resources/UploadFunction/Properties/Runtime" in result.stdout
    assert "'python3.99' is not one of" in result.stdout
    assert "FAILED: cfn-lint" in result.stdout


def test_stream_batch_size_over_the_limit_fails(tmp_path: Path) -> None:
    # Given
    template = template_copy(tmp_path, with_stream_event(batch_size=100000))

    # When
    result = run_check(template)

    # Then
    assert result.returncode == 1
    assert "[E3034] ERROR at Resources/RetentionFunctionSecondStream/Properties/BatchSize" in (
        result.stdout
    )
    assert "100000 is greater than the maximum of 10000" in result.stdout


def test_misspelt_function_response_types_property_fails(tmp_path: Path) -> None:
    # Given
    template = template_copy(tmp_path, with_stream_event(response_types_key="FunctionResponseType"))

    # When
    result = run_check(template)

    # Then the SAM transform itself refuses the unknown event property
    assert result.returncode == 1
    assert "ERROR [transform]" in result.stdout
    assert "[RetentionFunctionSecondStream] is invalid" in result.stdout
    assert "property FunctionResponseType not defined" in result.stdout
    assert "FAILED: SAM transform" in result.stdout


def test_misspelt_function_response_types_value_fails(tmp_path: Path) -> None:
    # Given
    template = template_copy(tmp_path, with_stream_event(response_type="ReportBatchItemFailure"))

    # When
    result = run_check(template)

    # Then
    assert result.returncode == 1
    assert "RetentionFunctionSecondStream/Properties/FunctionResponseTypes/0" in result.stdout
    assert "'ReportBatchItemFailure' is not one of ['ReportBatchItemFailures']" in result.stdout


def test_handler_module_missing_from_code_uri_fails(tmp_path: Path) -> None:
    # Given
    template = template_copy(
        tmp_path,
        lambda t: replace_once(
            t, "Handler: upload_handler.lambda_handler", "Handler: upload_handlr.lambda_handler"
        ),
    )

    # When
    result = run_check(template)

    # Then
    assert result.returncode == 1
    assert "UploadFunction: Handler 'upload_handlr.lambda_handler' names module" in result.stdout
    assert "FAILED: local paths" in result.stdout


# ------------------------------------------------------------ Tracer: nothing personal in X-Ray
TRACER_CAPTURE = ("POWERTOOLS_TRACER_CAPTURE_RESPONSE", "POWERTOOLS_TRACER_CAPTURE_ERROR")


def tracer_capture(template: Path) -> dict[str, dict[str, object]]:
    """Each deployed function's Tracer capture settings, as the transformed template sets
    them (Globals merged into each function's own Environment)."""
    translated = transformed_template(template, {})
    return {
        name: {
            setting: resource["Properties"].get("Environment", {}).get("Variables", {}).get(setting)
            for setting in TRACER_CAPTURE
        }
        for name, resource in translated["Resources"].items()
        if resource["Type"] == "AWS::Lambda::Function"
    }


def test_no_function_traces_its_responses_or_errors() -> None:
    """Responses carry signed URLs (bearer access), usernames, exports and small images;
    exception messages can carry ids and file names. X-Ray keeps traces 30 days."""
    # When
    settings = tracer_capture(TEMPLATE)

    # Then every function of the template resolves both to the string "false"
    assert set(settings) == set(resources_of_type(load_template(), "AWS::Serverless::Function"))
    assert settings == {name: dict.fromkeys(TRACER_CAPTURE, "false") for name in settings}


def test_a_function_turning_response_capture_back_on_is_caught(tmp_path: Path) -> None:
    # Given one function's own environment overrides the Globals
    template = template_copy(
        tmp_path,
        lambda t: replace_once(
            t,
            '          GRAPHQL_INTROSPECTION: "false"\n',
            '          GRAPHQL_INTROSPECTION: "false"\n'
            '          POWERTOOLS_TRACER_CAPTURE_RESPONSE: "true"\n',
        ),
    )

    # When
    settings = tracer_capture(template)

    # Then
    assert settings["GraphQLFunction"]["POWERTOOLS_TRACER_CAPTURE_RESPONSE"] == "true"
    assert settings["UploadFunction"]["POWERTOOLS_TRACER_CAPTURE_RESPONSE"] == "false"


def test_the_local_stack_runs_every_function_with_capture_off() -> None:
    # When the local stack (and the e2e tests) read the functions' environment
    functions = load_functions()

    # Then
    assert functions
    for function in functions:
        assert {s: function.environment.get(s) for s in TRACER_CAPTURE} == dict.fromkeys(
            TRACER_CAPTURE, "false"
        ), function.name


def test_no_decorator_turns_capture_back_on() -> None:
    """The environment is only Tracer's default: an explicit `capture_response=True` on
    `capture_method` / `capture_lambda_handler` would win over it."""
    sources = [*(ROOT / "functions").rglob("*.py"), *(ROOT / "shared").rglob("*.py")]
    explicit = [
        f"{path.relative_to(ROOT)}: {found.group(0)}"
        for path in sources
        for found in re.finditer(
            r"capture_(?:response|error)\s*=\s*(?!False\b)\w+", path.read_text()
        )
    ]

    assert explicit == []
