"""Every AWS API call a function makes during the integration suite, with the function's name.

Two pieces, both installed by `tests/integration/conftest.py` before any test module loads:

- botocore hooks (`testkit.aws_calls`, which the bench's recorder `bench/recorder.py` uses
  too): every botocore client created from then on (boto3's, Powertools idempotency's, and
  pynamodb's, which builds its own sessions) gets a `before-parameter-build` handler, which
  keeps what IAM looks at in the request (table, index, bucket and key names; a
  transaction's per-item tables, no item data), and a `before-call` handler, which records
  the call: one per API call, retries included once, and only calls that pass parameter
  validation (an invalid request never leaves the client, so IAM never sees it).
- the attribution: each template function's handler (`Handler: module.function`) is replaced
  on its module by a wrapper that sets a context variable for the duration of the call. A
  call is recorded only while it is set, under that function's logical id, so the tests' own
  calls (table creation, scans, stream reads, moto setup) belong to no function. A context
  variable is per thread, so handlers run on a test's worker threads are attributed too.
"""

from __future__ import annotations

import contextvars
import functools
import importlib
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from testkit import aws_calls as hooks
from tests.template.iam_check import reduce_params

INTEGRATION = Path(__file__).resolve().parent

_function: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "aws_calls_function", default=None
)


@dataclass(frozen=True)
class Call:
    function: str  # the template's logical id, e.g. "RetentionFunction"
    service: str  # botocore service name: "dynamodb", "s3"
    operation: str
    region: str
    host: str
    params: dict[str, Any]  # tests.template.iam_check.reduce_params
    test: str  # node id of the test during which it was made


@dataclass
class Suite:
    """What the session ran: the calls, the invocations, and whether it was the whole suite."""

    calls: list[Call] = field(default_factory=list)
    invocations: Counter[str] = field(default_factory=Counter)
    current_test: str = ""
    deselected: bool = False
    partial_reasons: list[str] = field(default_factory=list)
    failed_tests: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def incomplete(self) -> list[str]:
        """Why the recorded calls may not be the whole suite's (empty: they are)."""
        reasons = list(self.partial_reasons)
        if self.deselected:
            reasons.append("integration tests were deselected (-k, -m, --lf, --deselect)")
        if self.failed_tests:
            reasons.append(f"tests failed: {', '.join(self.failed_tests[:5])}")
        return reasons


SUITE = Suite()


def install() -> None:
    """Hook every botocore client created from now on (idempotent)."""
    hooks.hook("before-parameter-build", _before_parameter_build)
    hooks.hook("before-call", _before_call)


def _before_parameter_build(
    params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any
) -> None:
    if _function.get() is not None:
        service = model.service_model.service_name
        context["iam_params"] = reduce_params(service, model.name, params)


def _before_call(
    model: Any, params: dict[str, Any], context: dict[str, Any], request_signer: Any, **_: Any
) -> None:
    function = _function.get()
    if function is None:
        return
    call = Call(
        function=function,
        service=model.service_model.service_name,
        operation=model.name,
        region=request_signer.region_name,
        host=urlsplit(params.get("url", "")).hostname or "",
        params=context.get("iam_params", {}),
        test=SUITE.current_test,
    )
    with SUITE.lock:
        SUITE.calls.append(call)


def attributed(function: str, handler: Callable[..., Any]) -> Callable[..., Any]:
    """`handler`, with every AWS call it makes recorded under `function`."""

    @functools.wraps(handler)
    def run(*args: Any, **kwargs: Any) -> Any:
        with SUITE.lock:
            SUITE.invocations[function] += 1
        token = _function.set(function)
        try:
            return handler(*args, **kwargs)
        finally:
            _function.reset(token)

    run.__aws_calls_function__ = function  # type: ignore[attr-defined]
    return run


def attribute_handlers() -> dict[str, str]:
    """Wrap each template function's handler on its module; returns module -> function."""
    from devstack.functions import load_functions

    modules = {}
    for function in load_functions():
        module = importlib.import_module(function.module)
        handler = getattr(module, function.handler)
        if getattr(handler, "__aws_calls_function__", None) != function.name:
            setattr(module, function.handler, attributed(function.name, handler))
        modules[function.module] = function.name
    return modules


def note_collection(items: list[Any], args: list[str]) -> None:
    """After collection: is every integration test module on disk part of this run?"""
    on_disk = {path.name for path in INTEGRATION.glob("test_*.py")}
    collected = {Path(str(item.path)).name for item in items if is_integration(item)}
    missing = sorted(on_disk - collected)
    if missing:
        SUITE.partial_reasons.append(f"not collected: {', '.join(missing)}")
    if any("::" in arg for arg in args):
        SUITE.partial_reasons.append("single tests were selected by node id")


def is_integration(item: Any) -> bool:
    return Path(str(item.path)).resolve().parent == INTEGRATION


def is_integration_id(nodeid: str, *, excluding: str) -> bool:
    """A test of the integration suite other than the module `excluding` (a file name)."""
    path = nodeid.split("::", 1)[0]
    return path.startswith("tests/integration/") and Path(path).name != excluding
