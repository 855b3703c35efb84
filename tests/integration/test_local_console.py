"""The local stack's quiet console never hides a failure: a function that logs an ERROR or
prints a traceback puts one line on the console naming the function and the log file, which
holds the whole of it. Run through the stack's own worker pool, with a stand-in function
that logs as ours do (Powertools' Logger) and one that raises."""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.console import LOG_FILE, StackLogging, function_output, request_failed
from devstack.datalock import shown
from devstack.functions import LocalFunction
from devstack.pool import FunctionError, FunctionPool

STAND_IN = """
from aws_lambda_powertools import Logger, Metrics

logger = Logger(service="stand-in")
metrics = Metrics(namespace="StandIn", service="stand-in")


def lambda_handler(event, context):
    logger.info("all is well", extra={"step": 1})
    metrics.add_metric(name="Served", unit="Count", value=1)
    metrics.flush_metrics()
    if event.get("fail") == "log":
        try:
            raise ValueError("the disk is full")
        except ValueError:
            logger.exception("could not save")
    if event.get("fail") == "raise":
        raise RuntimeError("the handler gave up")
    return {"ok": True}
"""


@pytest.fixture
def pool(tmp_path: Path) -> Iterator[FunctionPool]:
    code = tmp_path / "code"
    code.mkdir()
    (code / "stand_in.py").write_text(STAND_IN)
    function = LocalFunction("StandInFunction", code, "stand_in", "lambda_handler", {}, 30, 256)
    env = {"PATH": "/usr/bin:/bin", "POWERTOOLS_TRACE_DISABLED": "true", "PYTHONUNBUFFERED": "1"}
    started = FunctionPool(function, env, function_output)
    yield started
    started.close()


def logged(level: int, tmp_path: Path) -> tuple[StackLogging, io.StringIO]:
    console = io.StringIO()
    logs = StackLogging(level, console)
    logs.attach_file(tmp_path / LOG_FILE)
    return logs, console


def settled(pool: FunctionPool, log_file: Path, *expected: str) -> str:
    """The log file once the pool's workers exited and their last lines arrived."""
    pool.close()
    deadline = time.time() + 30
    while not all(text in log_file.read_text() for text in expected):
        assert time.time() < deadline, log_file.read_text()
        time.sleep(0.1)
    return log_file.read_text()


@pytest.mark.error_log_expected
def test_a_functions_error_and_traceback_are_one_console_line_each(
    pool: FunctionPool, tmp_path: Path
) -> None:
    # Given the stack's console at its default level, and its log file
    logs, console = logged(logging.INFO, tmp_path)
    try:
        # When a function serves one event, then logs an ERROR, then raises
        pool.invoke({})
        pool.invoke({"fail": "log"})
        with pytest.raises(FunctionError):
            pool.invoke({"fail": "raise"})
        text = settled(pool, tmp_path / LOG_FILE, "could not save", "the handler gave up")
    finally:
        logs.close()

    # Then the console has exactly one line for each failure, naming the log file
    where = f"(details in {shown(tmp_path / LOG_FILE)})"
    assert console.getvalue().splitlines() == [
        f"StandInFunction logged an ERROR: could not save {where}",
        f"StandInFunction printed a traceback {where}",
    ]
    # and the log file has every line: the INFO record, the metric, the ERROR record with
    # its traceback, and the traceback the worker printed, each marked with the function
    lines = text.splitlines()
    assert any('"message":"all is well"' in line for line in lines)
    assert any('"Served":[1.0]' in line for line in lines)
    assert any('"level":"ERROR"' in line and "the disk is full" in line for line in lines)
    assert any(line.endswith("RuntimeError: the handler gave up") for line in lines)
    assert all(" StandInFunction: " in line for line in lines if "{" in line)


def test_debug_puts_every_line_on_the_console(pool: FunctionPool, tmp_path: Path) -> None:
    # Given the console at DEBUG
    logs, console = logged(logging.DEBUG, tmp_path)
    try:
        # When the function serves an event
        pool.invoke({})
        text = settled(pool, tmp_path / LOG_FILE, "all is well", "Served")
    finally:
        logs.close()

    # Then the console has the lines of the log file, as the file has them
    assert console.getvalue() == text


@pytest.mark.error_log_expected
def test_a_quiet_console_shows_warnings_of_the_stack_itself(tmp_path: Path) -> None:
    logs, console = logged(logging.INFO, tmp_path)
    try:
        logging.getLogger("devstack.streams").info("polled 3 shards")
        logging.getLogger("devstack.streams").warning("stream batch of 2 failed: boom")
        try:
            raise OSError("no space left")
        except OSError:
            logging.getLogger("devstack.http").exception("request from 127.0.0.1 failed")
    finally:
        logs.close()

    assert console.getvalue().splitlines() == [
        "WARNING devstack.streams: stream batch of 2 failed: boom",
        "ERROR devstack.http: request from 127.0.0.1 failed"
        f" (details in {shown(tmp_path / LOG_FILE)})",
    ]
    text = (tmp_path / LOG_FILE).read_text()
    assert "polled 3 shards" in text
    assert "OSError: no space left" in text


@pytest.mark.error_log_expected
def test_a_client_gone_is_a_warning_and_a_failure_an_error_with_its_traceback(
    tmp_path: Path,
) -> None:
    # Given the servers' error hook (a request's exception, as socketserver hands it over)
    logs, console = logged(logging.INFO, tmp_path)
    http = logging.getLogger("devstack.lambda")
    try:
        # When a caller left before its answer was written, and then a request failed
        try:
            raise BrokenPipeError(32, "Broken pipe")
        except BrokenPipeError:
            request_failed(http, ("127.0.0.1", 50000))
        try:
            raise KeyError("missing")
        except KeyError:
            request_failed(http, ("127.0.0.1", 50001))
    finally:
        logs.close()

    # Then the first is one WARNING line and the second an ERROR whose traceback is in the file
    lines = console.getvalue().splitlines()
    assert lines[0].startswith("WARNING devstack.lambda: the client at 127.0.0.1 left before")
    assert lines[1].startswith("ERROR devstack.lambda: request from 127.0.0.1 failed (details")
    assert len(lines) == 2
    text = (tmp_path / LOG_FILE).read_text()
    assert text.count("Traceback (most recent call last)") == 1
    assert "KeyError: 'missing'" in text
