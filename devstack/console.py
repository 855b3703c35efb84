"""What the local stack prints, and where the rest goes.

The console shows one line per HTTP request (method, path, status, milliseconds, and the
function that answered) and a line for each problem; everything else goes to the log file
`$DEV_DATA_DIR/logs/stack.log`, which the banner names: the functions' own output (their
Powertools JSON log records, metric EMF lines, anything they print or a traceback), and
the stack's detail (every record of its loggers, with tracebacks).

A problem is never only in the file: a function's ERROR (or CRITICAL) record, or the first
line of a traceback it prints, puts one line on the console naming the function and the
file, as does each WARNING or ERROR of the stack itself (its first line; a traceback stays
in the file). `LOG_LEVEL` is the console's level: `DEBUG` shows on the console every line
the file gets, as the file has it; `WARNING` or `ERROR` leave out the request lines.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from devstack.datalock import shown

LOG_FILE = Path("logs") / "stack.log"
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
LOG_FILE_BYTES = 10 * 1024 * 1024  # then stack.log.1 .. .3: bounded however long it runs
LOG_FILE_BACKUPS = 3
TRACEBACK = "Traceback (most recent call last)"
FUNCTION_LOGGER = "function"
REQUEST = "request"  # the attribute that marks the one line of a request

# A function's output line, as it arrives from its worker's stdout and stderr.
FunctionOutput = Callable[[str, str], None]


def console_level(environ: dict[str, str]) -> int | str:
    """`LOG_LEVEL` as a logging level, or the one-line refusal of a value it cannot be."""
    name = (environ.get("LOG_LEVEL") or "INFO").strip().upper()
    if name not in LEVELS:
        return f"LOG_LEVEL={environ['LOG_LEVEL']}: use one of {', '.join(LEVELS)}"
    return int(getattr(logging, name))


def function_level(line: str) -> int:
    """ERROR for a line that reports a failure (a Powertools record at ERROR or CRITICAL,
    or a traceback's first line), INFO for any other line of a function's output."""
    if TRACEBACK in line and not line.lstrip().startswith("{"):
        return logging.ERROR
    if '"level"' in line and ("ERROR" in line or "CRITICAL" in line):
        try:
            record = json.loads(line)
        except ValueError:
            return logging.INFO
        if isinstance(record, dict) and record.get("level") in ("ERROR", "CRITICAL"):
            return logging.ERROR
    return logging.INFO


class FileFormat(logging.Formatter):
    """The log file's line: time, then the stack's level and logger, or the function whose
    output it is (its line as it printed it)."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        function = getattr(record, "function", None)
        if function is None:
            return super().format(record)
        return f"{self.formatTime(record)} {function}: {record.getMessage()}"


class ConsoleFormat(logging.Formatter):
    """The quiet console's line for a record `QuietConsole` lets through."""

    def __init__(self, log_file: Path | None) -> None:
        super().__init__()
        self.log_file = log_file

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if getattr(record, REQUEST, False):
            return message
        where = f" (details in {shown(self.log_file)})" if self.log_file else ""
        function = getattr(record, "function", None)
        if function is not None:
            if TRACEBACK in message and not message.lstrip().startswith("{"):
                return f"{function} printed a traceback{where}"
            try:
                summary = str(json.loads(message).get("message", ""))
            except (ValueError, AttributeError):
                summary = message
            return f"{function} logged an {record.levelname}: {_first_line(summary)}{where}"
        first = _first_line(message)
        more = record.exc_info is not None or first != message
        return f"{record.levelname} {record.name}: {first}{where if more else ''}"


class QuietConsole(logging.Filter):
    """Request lines at INFO and problems at `level` or above; nothing else."""

    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, REQUEST, False):
            return record.levelno >= self.level
        return record.levelno >= max(self.level, logging.WARNING)


class StackLogging:
    """The stack's handlers on the root logger: the console at once, the file once the
    stack holds its data dir (a refused stack writes nothing there)."""

    def __init__(self, level: int, stream: IO[str] | None = None) -> None:
        self.level = level
        self.log_file: Path | None = None
        self.console = logging.StreamHandler(stream or sys.stderr)
        self.quiet = level > logging.DEBUG
        self.console_format = ConsoleFormat(None)
        if self.quiet:
            self.console.setFormatter(self.console_format)
            self.console.addFilter(QuietConsole(level))
        else:
            self.console.setFormatter(FileFormat())
        self.file: logging.Handler | None = None
        root = logging.getLogger()
        root.setLevel(logging.INFO)
        root.addHandler(self.console)
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's per-request lines
        logging.getLogger("devstack").setLevel(level if level == logging.DEBUG else logging.INFO)
        logging.captureWarnings(True)  # a library's warning: a line, not raw stderr

    def attach_file(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=LOG_FILE_BYTES, backupCount=LOG_FILE_BACKUPS, encoding="utf-8"
        )
        handler.setFormatter(FileFormat())
        logging.getLogger().addHandler(handler)
        self.file = handler
        self.log_file = path
        self.console_format.log_file = path

    def close(self) -> None:
        root = logging.getLogger()
        for handler in (self.console, self.file):
            if handler is not None:
                root.removeHandler(handler)
                handler.close()
        logging.captureWarnings(False)


def function_output(name: str, line: str) -> None:
    """Log one line of function `name`'s output (its worker's stdout and stderr)."""
    logging.getLogger(f"{FUNCTION_LOGGER}.{name}").log(
        function_level(line), "%s", line, extra={"function": name}
    )


def request_failed(log: logging.Logger, client_address: Any) -> None:
    """What a server's `handle_error` logs for the exception being handled, where
    socketserver would print it to stderr: a client that left before its answer was sent
    (the caller's timeout, a closed tab) is a WARNING line; anything else an ERROR with its
    traceback."""
    error = sys.exc_info()[1]
    client = client_address[0] if isinstance(client_address, tuple) else client_address
    if isinstance(error, BrokenPipeError | ConnectionResetError):
        log.warning("the client at %s left before its answer was sent (%r)", client, error)
    else:
        log.exception("request from %s failed", client)


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""
