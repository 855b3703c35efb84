"""One cold start, run by bench/cold.py as `python3.13 -I -S -B bench/cold_child.py <spec.json>`.

Standard library only: nothing but the interpreter's stdlib is importable until the spec's
paths (the function's built folder and the two built layers, as on Lambda) go on sys.path.
`-B` writes no bytecode, so every process compiles what the build does not ship, as Lambda
does with its read-only /opt and /var/task.

Prints one line `BENCH_COLD {json}`: milliseconds to import the handler module and to serve
the first event, and the response's status.
"""

import importlib
import json
import sys
import time


class LambdaContext:
    function_name = "bench-cold"
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:bench-cold"
    aws_request_id = "bench-cold-request"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def main() -> None:
    with open(sys.argv[1]) as handle:
        spec = json.load(handle)
    with open(spec["event"]) as handle:
        event = json.load(handle)  # the runtime receives the event after init: not timed

    started = time.perf_counter()
    stdlib = [p for p in sys.path if p]
    sys.path[:] = spec["paths"] + stdlib
    module = importlib.import_module(spec["module"])
    imported = time.perf_counter()
    response = getattr(module, spec["handler"])(event, LambdaContext())
    status = response.get("statusCode", "batch" if "batchItemFailures" in response else None)
    if response.get("batchItemFailures"):
        status = "batch-failures"
    served = time.perf_counter()
    result = {
        "import_ms": (imported - started) * 1000,
        "first_event_ms": (served - imported) * 1000,
        "init_ms": (served - started) * 1000,
        "status": status,
        "modules": len(sys.modules),
    }
    print("BENCH_COLD " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
