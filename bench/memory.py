"""Peak memory of a 5 MiB upload through the handler, as a multiple of the file size.

tracemalloc counts what Python allocates from a baseline taken before the event exists: the
traced action parses the invocation's JSON payload into the event (as the runtime does
before it calls the handler, so API Gateway's ~7 MB base64 copy of the file is counted) and
then runs the handler, with tracing on as deployed. The payload's raw bytes, which the
runtime has read before, are the baseline's. A first upload runs untraced, so imports and
clients created on first use are not counted. moto runs in another process: its copy of the
file is not ours.

Where the budget is missed, one more traced upload runs under a profile hook that follows our
functions (bench/memory.py `peak_sites`): the notes then name the innermost functions of ours
during which the peak was reached.
"""

from __future__ import annotations

import binascii
import gc
import hashlib
import json
import tracemalloc
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from bench import images, stack
from bench.budgets import Row, at_most, failed

ROOT = str(Path(__file__).resolve().parent.parent)

SECTION = "peak memory (tracemalloc)"
SIZE = 5 * images.MIB
BUDGET = 3.0


def peak(action: Callable[[], Any]) -> int:
    """Bytes allocated at the peak of `action`, above what was allocated before it."""
    gc.collect()
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        action()
        _, top = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return top - before


def peak_sites(action: Callable[[], Any], share: float = 0.99) -> list[str]:
    """The innermost functions of ours (shared/, functions/) during which `action` reached
    (`share` of) its allocation peak.

    A profile hook follows our functions' calls: at each call it notes the peak so far and
    resets tracemalloc's peak, so every function's own high-water mark is known on return and
    folded into its caller's. Library frames are not followed: a peak inside
    python-multipart is reported at our function that called it.
    """
    import sys

    ours = (f"{ROOT}/shared/", f"{ROOT}/functions/")
    stack: list[list[Any]] = []  # [frame, path of names, peak so far]
    reached: list[tuple[tuple[str, ...], int]] = []

    def hook(frame: Any, event: str, _: Any) -> None:
        if event == "call" and frame.f_code.co_filename.startswith(ours):
            _, top = tracemalloc.get_traced_memory()
            if stack:
                stack[-1][2] = max(stack[-1][2], top)
            name = f"{frame.f_globals.get('__name__', '?')}.{frame.f_code.co_qualname}"
            path = (*stack[-1][1], name) if stack else (name,)
            stack.append([frame, path, 0])
            tracemalloc.reset_peak()
        elif event == "return" and stack and stack[-1][0] is frame:
            _, top = tracemalloc.get_traced_memory()
            _, path, before = stack.pop()
            total = max(before, top)
            reached.append((path, total))
            if stack:
                stack[-1][2] = max(stack[-1][2], total)

    gc.collect()
    tracemalloc.start()
    sys.setprofile(hook)
    try:
        action()
    finally:
        sys.setprofile(None)
        tracemalloc.stop()
    if not reached:
        return []
    threshold = share * max(total for _, total in reached)
    paths = {path for path, total in reached if total >= threshold}
    innermost = [p for p in paths if not any(q != p and q[: len(p)] == p for q in paths)]
    return sorted({path[-1] for path in innermost})


def _invoked(service: stack.Service, payload: str) -> None:
    """The runtime's part and the handler's: the payload parsed into the event, then the
    call (the event is alive until the handler returns, as in Lambda)."""
    service.call("UploadFunction", json.loads(payload))


def run(service: stack.Service, workdir: Path) -> list[Row]:
    rows = []
    data = images.photo(SIZE)
    for provider in ("R2", "LOCAL"):
        metric = f"5 MiB upload ({provider}): peak / file size"
        try:
            service.use(provider)
            user = f"memory-{provider.lower()}"
            service.call("UploadFunction", stack.upload_event(user, data))  # untraced first
            event = stack.upload_event(user, data)
            used = peak(partial(_invoked, service, json.dumps(event)))
            sites: list[str] = []
            if used / SIZE > BUDGET:
                again = json.dumps(stack.upload_event(user, data))
                sites = peak_sites(partial(_invoked, service, again))
        except Exception as exc:
            rows.append(failed(SECTION, metric, f"{type(exc).__name__}: {exc}", at_most(BUDGET)))
            continue
        rows.append(
            Row(
                SECTION,
                metric,
                used / SIZE,
                "x",
                at_most(BUDGET),
                f"{used / images.MIB:.1f} MiB allocated at the peak for a "
                f"{SIZE / images.MIB:.0f} MiB file, the event's "
                f"{len(event['body']) / 1e6:.2f} MB base64 body counted; tracing on"
                + (f"; peak reached inside {' and inside '.join(sites)}" if sites else ""),
                {"peak_bytes": used, "peak_sites": sites},
            )
        )
    payload = json.dumps(stack.upload_event("memory-floor", data))
    target = workdir / "floor-memory.jpg"

    def floor() -> None:
        event = json.loads(payload)
        raw = binascii.a2b_base64(event["body"])
        hashlib.sha256(data).hexdigest()
        target.write_bytes(data)
        del raw

    used = peak(floor)
    target.unlink(missing_ok=True)
    rows.append(
        Row(
            SECTION,
            "floor (the event + base64-decode + sha256 + write): peak / file size",
            used / SIZE,
            "x",
            None,
            f"{used / images.MIB:.1f} MiB: the event's base64 body and the decoded multipart body",
            {"peak_bytes": used},
        )
    )
    return rows
