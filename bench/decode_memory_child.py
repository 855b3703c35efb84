"""The upload's decode check of one large file, in a fresh process, as the function runs it.

Run by bench/decode.py: `python -P bench/decode_memory_child.py <spec json>`. The spec names
the upload function's folder and layer to put first (its handler is imported: the process's
own baseline), a small JPEG checked first (Pillow loaded, as in a warm container), the file
and its type. Prints one line `BENCH_DECODE_MEMORY {...}`: the resident set before, the peak
(VmHWM, reset just before the check; the whole run's maximum where it cannot be reset), the
check's seconds and the file's size.
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
    sys.path[:0] = spec["paths"]  # function path: the upload function's folder and layer
    import upload_handler  # noqa: F401 - the function's own baseline: Powertools, boto3

    from profile_photos.images.decoding import check_decodes
    from profile_photos.images.footprint import budget
    from profile_photos.settings import get_settings

    limit = budget(get_settings().memory_size_mb)
    with open(spec["warmup"], "rb") as handle:
        check_decodes(handle.read(), "image/jpeg", limit)  # Pillow loaded, as in a warm container
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
    check_decodes(data, spec["content_type"], limit)
    seconds = time.perf_counter() - started
    peak = status("VmHWM") if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    figures = {
        "before": before,
        "peak": peak,
        "seconds": seconds,
        "file": len(data),
        "reset": reset,
    }
    print("BENCH_DECODE_MEMORY " + json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()
