"""One `render_photo` of one large file, in a fresh process, as the renditions function runs it.

Run by bench/avatars.py: `python -P bench/avatars_child.py <spec json>`. The renditions
function's folder and layer go first on the path and its handler is imported (the process's
own baseline); a small photo with a face is rendered first, so Pillow, numpy and dlib are
loaded as in a warm container. Prints one line `BENCH_AVATAR_MEMORY {...}`: the resident set
before, the peak (VmHWM, reset just before the render), the seconds, the crop and the squares.
"""

from __future__ import annotations

import gc
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
    sys.path[:0] = spec["paths"]  # function path: the renditions function's folder and layer
    preloaded = []
    try:
        import renditions_handler  # noqa: F401 - the function's own baseline

        preloaded.append("renditions_handler")
    except ImportError:
        pass
    from profile_photos.images import avatar

    with open(spec["warmup"], "rb") as handle:
        avatar.render_photo(handle.read(), "image/jpeg", (128, 512, 1024))
    with open(spec["file"], "rb") as handle:
        data = handle.read()
    gc.collect()
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")  # resets VmHWM to the current resident set
    before = status("VmRSS")
    started = time.perf_counter()
    made = avatar.render_photo(data, spec["content_type"], (128, 512, 1024))
    seconds = time.perf_counter() - started
    figures = {
        "before": before,
        "peak": status("VmHWM"),
        "seconds": seconds,
        "file": len(data),
        "preloaded": preloaded,
        "crop": [made.crop.left, made.crop.top, made.crop.side, made.crop.source],
        "squares": {side: [s.width, s.height] for side, s in made.squares.items()},
    }
    print("BENCH_AVATAR_MEMORY " + json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()
