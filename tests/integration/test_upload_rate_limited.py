"""An upload over the caller's budget, through the upload handler: 429, nothing stored.

The refusal reads the counters once (GetItem on the rate limits table) to name the window
that refused; this is the test in which the upload function makes that call (see
test_iam_least_privilege.py: every grant must be used by some test).
"""

from __future__ import annotations

import pytest
import upload_handler

from profile_photos.services import reset
from testkit.invoke import invoke
from tests.integration.conftest import Stack, load_event


def test_an_upload_over_the_hourly_budget_is_refused_naming_the_hour(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given one unit an hour, spent by a first (1-unit) upload
    monkeypatch.setenv("RATE_LIMIT_PER_HOUR", "1")
    reset()
    assert invoke(upload_handler.lambda_handler, load_event("upload-valid-jpg")).status == 201
    photos, objects = stack.items("PHOTOS_TABLE"), stack.objects()

    # When a second upload arrives within the hour
    result = invoke(upload_handler.lambda_handler, load_event("upload-valid-jpg"))

    # Then it is refused, naming the window that refused and when to retry
    assert result.status == 429, result.body
    error = result.json()["error"]
    assert error["code"] == "RATE_LIMITED"
    assert error["message"].startswith("Rate limit exceeded: 1 units per hour"), error
    assert 1 <= int(result.headers["retry-after"]) <= 3600

    # and nothing more was stored or registered
    assert stack.items("PHOTOS_TABLE") == photos
    assert stack.objects() == objects
