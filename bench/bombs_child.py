"""One decode of one hostile file, in a fresh process, as a function would run it.

Run by bench/bombs.py: `python bench/bombs_child.py <spec json>`. The spec names the function
folder to import first (its handler: the process's own baseline), the file, its type and
the path (`check`: the upload's decode check; `render`: the renditions' render). Prints one
line `BENCH_BOMB {...}`: seconds, the resident set before, the peak (VmHWM, reset just before
the decode) and the outcome (`accepted`, or the refusal's message).
"""

from __future__ import annotations

import gc
import importlib
import json
import sys
import time


def status(key: str) -> int:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return 0


def main() -> None:
    spec = json.loads(sys.argv[1])
    sys.path[:0] = spec["paths"]  # function path: the function's folder and its layer, as Lambda
    importlib.import_module(spec["handler"])
    from profile_photos.errors import UnsupportedMediaType
    from profile_photos.images import footprint, render
    from profile_photos.settings import get_settings

    limit = footprint.budget(get_settings().memory_size_mb)
    with open(spec["warmup"], "rb") as handle:  # Pillow loaded, as in a warm container
        render.check(handle.read(), "image/jpeg", memory_limit=limit)
    with open(spec["file"], "rb") as handle:
        data = handle.read()
    gc.collect()
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")  # resets VmHWM to the current resident set
    before = status("VmRSS")
    outcome = "accepted"
    started = time.perf_counter()
    try:
        if spec["path"] == "check":
            render.check(data, spec["content_type"], memory_limit=limit)
        else:
            render.render(data, spec["content_type"], memory_limit=limit)
    except UnsupportedMediaType as exc:
        outcome = exc.message
    seconds = time.perf_counter() - started
    figures = {
        "seconds": seconds,
        "before": before,
        "peak": status("VmHWM"),
        "file": len(data),
        "outcome": outcome,
        "limit": limit,
    }
    print("BENCH_BOMB " + json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()
