"""Warm worker processes per function, scaled out like Lambda: one event per worker at a time.

A worker that times out or dies is discarded (its process killed), the next request starts a
fresh one (a cold start), exactly as a failed Lambda execution environment is replaced.

A worker's stdout and stderr (the function's logs, as Lambda sends them to CloudWatch) go to
the pool's `output`, line by line, when it has one (the stack's log: devstack.console);
without one they are the caller's own (`make redrive` prints them).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from devkit.template import ROOT
from devstack.functions import LocalFunction
from devstack.worker import read_message, write_message

WORKER_SCRIPT = Path(__file__).with_name("worker.py")
SHARED_LAYER = ROOT / "shared"
MAX_WORKERS_PER_FUNCTION = 8
Output = Callable[[str, str], None]  # (function name, one line of its output)


class FunctionError(Exception):
    """The function raised, timed out or crashed: what Lambda reports as a function error."""

    def __init__(self, function: str, payload: dict[str, Any]) -> None:
        super().__init__(f"{function}: {payload.get('errorType')}: {payload.get('errorMessage')}")
        self.payload = payload


@dataclass(eq=False)  # identity semantics: workers live in sets
class Worker:
    process: subprocess.Popen[bytes]
    requests: Any
    results: Any

    def stop(self) -> None:
        for stream in (self.requests, self.results):
            with contextlib.suppress(OSError):
                stream.close()
        try:
            self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class FunctionPool:
    def __init__(
        self,
        function: LocalFunction,
        environment: dict[str, str],
        output: Output | None = None,
    ) -> None:
        self.function = function
        self.environment = environment
        self.output = output
        self._idle: list[Worker] = []
        self._all: set[Worker] = set()
        self._lock = threading.Lock()
        self._slots = threading.Semaphore(MAX_WORKERS_PER_FUNCTION)
        self._closed = False

    def _spawn(self) -> Worker:
        request_read, request_write = os.pipe()
        result_read, result_write = os.pipe()
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and worker script
            [
                sys.executable,
                str(WORKER_SCRIPT),
                str(self.function.code_dir),
                str(SHARED_LAYER),
                self.function.module,
                self.function.handler,
                str(request_read),
                str(result_write),
            ],
            env=self.environment,
            pass_fds=(request_read, result_write),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if self.output else None,
            stderr=subprocess.STDOUT if self.output else None,
            start_new_session=True,  # Ctrl-C goes to the stack, which stops workers itself
        )
        os.close(request_read)
        os.close(result_write)
        if self.output and process.stdout is not None:
            threading.Thread(
                target=self._forward,
                args=(process.stdout, self.output),
                name=f"output-{self.function.name}",
                daemon=True,
            ).start()
        worker = Worker(process, os.fdopen(request_write, "wb"), os.fdopen(result_read, "rb"))
        with self._lock:
            self._all.add(worker)
        return worker

    def invoke(self, event: dict[str, Any], request_id: str | None = None) -> Any:
        """Run one event through a warm (or new) worker; raise `FunctionError` on failure."""
        with self._slots:
            with self._lock:
                if self._closed:
                    raise FunctionError(self.function.name, {"errorType": "StackStopping"})
                worker = self._idle.pop() if self._idle else None
            worker = worker or self._spawn()
            deadline = time.time() + self.function.timeout
            outcome: dict[str, Any] = {}
            reader = threading.Thread(
                target=self._exchange,
                args=(worker, event, request_id or str(uuid.uuid4()), deadline, outcome),
                daemon=True,
            )
            reader.start()
            reader.join(self.function.timeout)
            if reader.is_alive() or "message" not in outcome:
                self._discard(worker)
                reason = (
                    {"errorType": "TimeoutError", "errorMessage": "Task timed out"}
                    if reader.is_alive()
                    else {"errorType": "Runtime.ExitError", "errorMessage": "worker exited"}
                )
                raise FunctionError(self.function.name, reason)
            with self._lock:
                self._idle.append(worker)
            message = outcome["message"]
            if "error" in message:
                raise FunctionError(self.function.name, message["error"])
            return message["result"]

    def _forward(self, stream: IO[bytes], output: Output) -> None:
        """Every line the worker writes, until it exits (its end of the pipe closes)."""
        with stream:
            for raw in stream:
                output(self.function.name, raw.decode("utf-8", "replace").rstrip("\r\n"))

    @staticmethod
    def _exchange(
        worker: Worker, event: Any, request_id: str, deadline: float, outcome: dict[str, Any]
    ) -> None:
        try:
            write_message(
                worker.requests, {"event": event, "requestId": request_id, "deadline": deadline}
            )
            message = read_message(worker.results)
        except (OSError, ValueError):
            return
        if message is not None:
            outcome["message"] = message

    def _discard(self, worker: Worker) -> None:
        worker.process.kill()
        worker.stop()
        with self._lock:
            self._all.discard(worker)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            workers = list(self._all)
            self._all.clear()
            self._idle.clear()
        stoppers = [threading.Thread(target=worker.stop) for worker in workers]
        for stopper in stoppers:  # each worker may take its 2 s grace: all at once
            stopper.start()
        for stopper in stoppers:
            stopper.join()
