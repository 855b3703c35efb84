"""One render of one large file, in a fresh process, as the renditions function runs it.

Run by bench/renditions.py: `python -P bench/renditions_memory_child.py <spec json>`. The spec
names the renditions function's folder and layer to put first (its handler is imported when
present: the process's own baseline), the file and its type; `bench.memory` comes from the
dev venv this runs on, where the repository is installed. Prints one line
`BENCH_RENDER_MEMORY {...}`: the resident set before, the peak (VmHWM, reset just before the
render; the whole run's maximum where it cannot be reset), what tracemalloc sees of a second
render (it misses Pillow's C buffers), the seconds, the file's size, what was preloaded and
the sizes made.
"""

from __future__ import annotations

import gc
import json
import resource
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
    sys.path[:0] = spec["paths"]  # function path: the renditions function's folder and layer
    preloaded = []
    try:
        import renditions_handler  # noqa: F401 - the function's own baseline: Powertools, boto3, ...

        preloaded.append("renditions_handler")
    except ImportError:
        pass
    from profile_photos.images import pixels
    from profile_photos.images import render as r

    pixels.register_heif()
    with open(spec["file"], "rb") as handle:
        data = handle.read()
    gc.collect()
    reset = True
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")  # resets VmHWM to the current resident set
    except OSError:
        reset = False
    before = status("VmRSS")
    started = time.perf_counter()
    out = r.render(data, spec["content_type"])
    seconds = time.perf_counter() - started
    peak = status("VmHWM") if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    sizes = {side: [rendition.width, rendition.height] for side, rendition in out.items()}
    del out
    gc.collect()
    from bench.memory import peak as traced_peak

    traced = traced_peak(lambda: r.render(data, spec["content_type"]))
    figures = {
        "before": before,
        "peak": peak,
        "traced": traced,
        "seconds": seconds,
        "file": len(data),
        "preloaded": preloaded,
        "sizes": sizes,
        "reset": reset,
    }
    print("BENCH_RENDER_MEMORY " + json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()
