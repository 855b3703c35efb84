"""One cold start, run by bench/cold.py as `python3.13 -I -S -B bench/cold_child.py <spec.json>`.

Standard library only: nothing but the interpreter's stdlib is importable until the spec's
paths (the function's built folder and its built layers, as on Lambda) go on sys.path.
`-B` writes no bytecode, so every process compiles what the build does not ship, as Lambda
does with its read-only /opt and /var/task.

Two kinds of spec:

- a handler (`module`, `handler`, `event`): import the module, serve the event.
- a floor (`imports`, `clients`): import exactly those modules, create those botocore clients
  (on one session, with the function's session's data path), then do nothing: what the
  function's libraries cost at least.

Prints one line `BENCH_COLD {json}`: milliseconds to import and to serve the first event (or
to create the clients), the response's status, whether a GraphQL answer carried `errors`,
and how much of the first event was spent inside AWS calls (`aws_ms`). With `report` in
the spec it also lists, after the timing, every module loaded (name and file, in the order
they were loaded) and every botocore client alive, so the bench can build the function's
floor from what it really loaded.
"""

import gc
import importlib
import importlib.util
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


def serve(spec):
    with open(spec["event"]) as handle:
        event = json.load(handle)  # the runtime receives the event after init: not timed
    started = time.perf_counter()
    module = importlib.import_module(spec["module"])
    imported = time.perf_counter()
    aws_seconds = _time_aws_calls()  # set up between the two timed phases, not timed
    begun = time.perf_counter()
    response = getattr(module, spec["handler"])(event, LambdaContext())
    served = time.perf_counter()
    status = response.get("statusCode", "batch" if "batchItemFailures" in response else None)
    if response.get("batchItemFailures"):
        status = "batch-failures"
    errors = False
    body = response.get("body")
    if isinstance(body, str) and body.startswith("{") and not response.get("isBase64Encoded"):
        try:
            errors = bool(json.loads(body).get("errors"))
        except ValueError:
            errors = False
    outcome = {"status": status, "errors": errors, "aws_ms": sum(aws_seconds) * 1000}
    return imported - started, served - begun, outcome


def _time_aws_calls() -> list[float]:
    """Seconds inside each AWS call of the clients created from now on (botocore's
    `before-call` to `after-call`: signing, the round trip to moto, parsing), as
    bench/recorder.py times them in process (testkit.aws_calls; here inline, since this
    script imports nothing of the repo).

    Nothing is imported here: if the handler's import loaded `botocore.session` (the Tracer's
    patch does), it is patched now; if not, an import hook patches it the moment the first
    event imports it, so that import stays inside the timed first event, where the handler
    pays it."""
    seconds: list[float] = []
    begun: list[float] = []

    def before(**_: object) -> None:
        begun.append(time.perf_counter())

    def after(**_: object) -> None:
        if begun:
            seconds.append(time.perf_counter() - begun.pop())

    def patch(session_module) -> None:
        original = session_module.Session.create_client

        def create_client(self, *args, **kwargs):
            client = original(self, *args, **kwargs)
            client.meta.events.register("before-call", before)
            client.meta.events.register("after-call", after)
            client.meta.events.register("after-call-error", after)
            return client

        session_module.Session.create_client = create_client

    loaded = sys.modules.get("botocore.session")
    if loaded is not None:
        patch(loaded)
    else:
        sys.meta_path.insert(0, _AfterImport("botocore.session", patch))
    return seconds


class _AfterImport:
    """A meta-path finder that runs `then(module)` once `name` has been imported (the import
    itself is done by the finders after it, unchanged)."""

    def __init__(self, name, then) -> None:
        self.name = name
        self.then = then

    def find_spec(self, fullname, path=None, target=None):
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        loader, then = spec.loader, self.then

        class Loader:
            def create_module(self, spec):
                return loader.create_module(spec)

            def exec_module(self, module):
                loader.exec_module(module)
                then(module)

        spec.loader = Loader()
        return spec


def floor(spec):
    started = time.perf_counter()
    failed = []
    for name in spec["imports"]:
        try:
            importlib.import_module(name)
        except Exception as exc:  # an alias or a module that cannot load alone: noted
            failed.append(f"{name}: {type(exc).__name__}")
    imported = time.perf_counter()
    if spec["clients"]:
        import botocore.config
        import botocore.session

        session = botocore.session.Session()
        data_paths = [client["data_path"] for client in spec["clients"] if client.get("data_path")]
        if data_paths:  # the function's own data path (its cut-down endpoints.json): the same
            session.set_config_variable("data_path", data_paths[0])
        for client in spec["clients"]:
            config = botocore.config.Config(
                signature_version=client.get("signature_version"), s3=client.get("s3")
            )
            session.create_client(
                client["service"],
                region_name=client["region"],
                endpoint_url=client["endpoint_url"],
                config=config,
            )
    served = time.perf_counter()
    return (
        imported - started,
        served - imported,
        {"status": "floor", "errors": False, "failed": failed},
    )


def clients():
    """Every botocore client alive: (service, region, endpoint, signature, s3 config), and the
    data path of the session(s) alive (where its loader reads endpoints.json and models)."""
    client_module = sys.modules.get("botocore.client")
    if client_module is None:
        return []
    session_module = sys.modules.get("botocore.session")  # not loaded: no session either
    data_paths = [
        thing.get_config_variable("data_path")
        for thing in (gc.get_objects() if session_module else [])
        if isinstance(thing, session_module.Session)
    ]
    data_path = next((path for path in data_paths if path), None)
    found = []
    for thing in gc.get_objects():
        if isinstance(thing, client_module.BaseClient):
            meta = thing.meta
            found.append(
                {
                    "service": meta.service_model.service_name,
                    "region": meta.region_name,
                    "endpoint_url": meta.endpoint_url,
                    "signature_version": meta.config.signature_version,
                    "s3": meta.config.s3,
                    "data_path": data_path,
                }
            )
    return found


def main() -> None:
    with open(sys.argv[1]) as handle:
        spec = json.load(handle)
    stdlib = [p for p in sys.path if p]
    sys.path[:] = spec["paths"] + stdlib  # function path: its built code and layers only
    importing, serving, outcome = (floor if "imports" in spec else serve)(spec)
    result = {
        "import_ms": importing * 1000,
        "first_event_ms": serving * 1000,
        "init_ms": (importing + serving) * 1000,
        "modules": len(sys.modules),
        **outcome,
    }
    tracer = sys.modules.get("aws_lambda_powertools.tracing.tracer")
    result["tracing"] = None if tracer is None else not tracer.Tracer._config["disabled"]
    if spec.get("report"):
        result["loaded"] = [
            [name, getattr(module, "__file__", None)] for name, module in list(sys.modules.items())
        ]
        result["clients"] = clients()
    print("BENCH_COLD " + json.dumps(result, default=str), flush=True)


if __name__ == "__main__":
    main()
