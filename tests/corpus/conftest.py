"""The integration suite's stack (handlers under moto) and its no-ERROR-log rule, for the
corpus tests."""

from tests.integration.conftest import (  # noqa: F401 - fixtures, found by name
    no_error_logs,
    provider,
    renditions_function,
    stack,
)
