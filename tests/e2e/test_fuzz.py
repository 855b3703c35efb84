"""Generated bad input against the real local stack (tests/e2e/fuzz_runner.py holds the
generators and the checks; `make fuzz` runs the same with more examples and a random seed).

Bounded and deterministic here: Hypothesis derandomized, a fixed number of examples per
generator. Each generator's run must find no broken expectation: no 5xx, no traceback, every
error in the contract's envelope (GraphQL in its own shape), nothing changed by a rejected
request, and no ERROR line or traceback in the stack's output meanwhile."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from testkit.stack_state import StackProcess, error_lines
from tests.e2e import fuzz_runner as fuzz

# examples per generator: ~100 requests in all (`make fuzz`: 400 per generator, seeded)
EXAMPLES = {"rest": 30, "uploads": 20, "paths": 20, "graphql": 30}


@pytest.fixture(scope="module")
def fuzz_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackProcess]:
    running = StackProcess(tmp_path_factory.mktemp("fuzz-stack"), fuzz.STACK_ENV)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def fuzzer(fuzz_stack: StackProcess) -> fuzz.Fuzzer:
    given = fuzz.Fuzzer(fuzz_stack.url, Path(fuzz_stack.data_dir))
    given.seed_photos()
    return given


@pytest.mark.parametrize("part", fuzz.PARTS)
def test_generated_requests_break_nothing(
    part: str, fuzzer: fuzz.Fuzzer, fuzz_stack: StackProcess
) -> None:
    # Given a stack whose two users hold photos, and the stack's output so far
    logged_before = len(fuzz_stack.output)
    requests_before = fuzzer.report.requests
    problems_before = len(fuzzer.report.problems)

    # When one generator sends its requests
    getattr(fuzzer, part)(EXAMPLES[part], True, None)

    # Then every answer kept the contract and the stack logged no failure
    problems = fuzzer.report.problems[problems_before:]
    logged = error_lines(fuzz_stack.output[logged_before:])
    assert fuzzer.report.requests - requests_before >= EXAMPLES[part] // 2
    assert not problems, f"{len(problems)} problem(s):\n" + "\n".join(problems[:15])
    assert not logged, "the stack logged:\n" + "\n".join(line[:400] for line in logged[:5])


def test_the_fuzzer_reached_both_accepted_and_refused_requests(fuzzer: fuzz.Fuzzer) -> None:
    """The run above is only worth something if its requests got past the edge: some were
    accepted (so the snapshots compared real state) and many refused for many reasons."""
    statuses = fuzzer.report.statuses
    assert fuzzer.report.accepted > 0, fuzzer.report.summary()
    assert {"400", "401", "403", "404", "415"} <= set(statuses), fuzzer.report.summary()
