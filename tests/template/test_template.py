"""tools/check_template.py catches what plain cfn-lint and `sam validate --lint` let through.

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

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
TOOLS_PYTHON = ROOT / ".venv-tools" / "bin" / "python"
CHECK = ROOT / "tools" / "check_template.py"

pytestmark = pytest.mark.tools

STREAM_EVENT = """\
      Events:
        PhotoStream:
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
    if TOOLS_PYTHON.exists():
        return
    pytest.fail(f"{TOOLS_PYTHON} missing: run `make tools` (make test does)")


def run_check(template: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(TOOLS_PYTHON), str(CHECK), str(template)],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        cwd=ROOT,
    )


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
    """Give UploadFunction a DynamoDB stream event on the photos table."""
    event = STREAM_EVENT.format(
        batch_size=batch_size,
        response_types_key=response_types_key,
        response_type=response_type,
    )
    return lambda text: replace_once(
        text, "      Events:\n        Upload:\n", event + "        Upload:\n"
    )


def test_real_template_passes() -> None:
    # When
    result = run_check(TEMPLATE)

    # Then
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout
    assert "template check passed" in result.stdout


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
    assert "[E3034] ERROR at Resources/UploadFunctionPhotoStream/Properties/BatchSize" in (
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
    assert "[UploadFunctionPhotoStream] is invalid" in result.stdout
    assert "property FunctionResponseType not defined" in result.stdout
    assert "FAILED: SAM transform" in result.stdout


def test_misspelt_function_response_types_value_fails(tmp_path: Path) -> None:
    # Given
    template = template_copy(tmp_path, with_stream_event(response_type="ReportBatchItemFailure"))

    # When
    result = run_check(template)

    # Then
    assert result.returncode == 1
    assert "UploadFunctionPhotoStream/Properties/FunctionResponseTypes/0" in result.stdout
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
