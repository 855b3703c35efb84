"""One warm "container" of a function: a child process that imports the handler once and
serves invocations until it is told to stop.

Run as a script by `devstack.pool` with the function's environment. Its `sys.path` is what
Lambda gives a function: the function's own code, then the layers (the SharedLayer is the
repo's `shared/`; the DependenciesLayer is this venv's site-packages). Requests arrive as
length-prefixed JSON on one pipe and results leave on another, so stdout and stderr stay
free for the function's logs, as on Lambda. Only the standard library (and `devkit.context`,
itself standard library: the context object Lambda hands a handler) is imported here.
"""

from __future__ import annotations

import importlib
import json
import os
import struct
import sys
import traceback
from typing import Any, BinaryIO

from devkit.context import LambdaContext

HEADER = struct.Struct("!Q")


def read_message(stream: BinaryIO) -> Any:
    header = stream.read(HEADER.size)
    if len(header) < HEADER.size:
        return None
    (length,) = HEADER.unpack(header)
    return json.loads(stream.read(length))


def write_message(stream: BinaryIO, message: Any) -> None:
    data = json.dumps(message, separators=(",", ":")).encode()
    stream.write(HEADER.pack(len(data)) + data)
    stream.flush()


def main() -> None:
    code_dir, layer_dir, module_name, handler_name, fd_in, fd_out = sys.argv[1:7]
    sys.path[0:1] = [code_dir, layer_dir]  # function path: its code, then the layer, as Lambda
    os.chdir(code_dir)
    requests = os.fdopen(int(fd_in), "rb")
    results = os.fdopen(int(fd_out), "wb")
    try:
        handler = getattr(importlib.import_module(module_name), handler_name)
    except Exception as exc:  # an init error, reported on every invocation like Lambda does
        init_error = {
            "errorType": type(exc).__name__,
            "errorMessage": str(exc),
            "stackTrace": traceback.format_exc().splitlines(),
        }
        handler = None
    while (request := read_message(requests)) is not None:
        if handler is None:
            write_message(results, {"error": init_error})
            continue
        context = LambdaContext(request["requestId"], request["deadline"])
        try:
            write_message(results, {"result": handler(request["event"], context)})
        except Exception as exc:
            traceback.print_exc()
            write_message(
                results,
                {
                    "error": {
                        "errorType": type(exc).__name__,
                        "errorMessage": str(exc),
                        "stackTrace": traceback.format_exc().splitlines(),
                    }
                },
            )


if __name__ == "__main__":
    main()
