"""Crafted image files (the parser corpus) through the real upload handler, LOCAL and R2.

Each file passes the magic-number and extension checks of its type and has an invalid
container structure (testkit/parser_corpus.py says how): 415 VALIDATION_FAILED `Invalid image
file: ...`, nothing stored, nothing registered.
"""

from __future__ import annotations

import pytest
import upload_handler

from testkit import parser_corpus
from testkit.events import file_upload
from testkit.invoke import invoke
from tests.integration.conftest import Stack

HOSTILE = {sample.name: sample for sample in parser_corpus.hostile()}


@pytest.mark.parametrize("name", HOSTILE)
def test_a_crafted_file_is_415_invalid_and_changes_nothing(stack: Stack, name: str) -> None:
    # Given a multipart upload of a crafted file, named and typed as what it claims to be
    sample = HOSTILE[name]
    event = file_upload(f"hostile-{name}", sample.data, sample.file_name, sample.content_type)

    # When the upload function handles it
    result = invoke(upload_handler.lambda_handler, event)

    # Then it is refused as an invalid image, and nothing is stored or written
    assert result.status == 415, result.body
    error = result.json()["error"]
    assert error["code"] == "VALIDATION_FAILED"
    assert error["message"].startswith("Invalid image file:")
    assert result.json()["success"] is False
    stack.assert_unchanged()
