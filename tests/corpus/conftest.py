"""The integration suite's stack (handlers under moto) and its no-ERROR-log rule, for the
corpus tests: a `slow` tier (every file of two real-world corpora, minutes each)."""

from pathlib import Path

import pytest

from tests.integration.conftest import (  # noqa: F401 - fixtures, found by name
    no_error_logs,
    provider,
    renditions_function,
    stack,
)

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """`-m 'not slow'` leaves the corpora out."""
    for item in items:
        if Path(str(item.path)).resolve().is_relative_to(HERE):
            item.add_marker(pytest.mark.slow)
