"""The renditions function's cold init (or the anchor's), in a fresh process.

Run by bench/renditions.py: `python -I -B -X pycache_prefix=<empty> bench/renditions_cold_child.py
<spec json>`. The spec names the paths to put first (the function's folder and layer, or the
bare handler's folder), the modules to import and whether to load the imaging stack the first
render loads (`images.render` with pillow-heif registered). Prints one line
`BENCH_COLD_RENDER {...}`: milliseconds to import, to load the imaging and both, the number of
modules loaded and whether Pillow is among them. The module imports only what the timing
needs, so that module count is the interpreter's plus the measured imports'.
"""

import json
import sys
import time


def main() -> None:
    spec = json.loads(sys.argv[1])
    started = time.perf_counter()
    sys.path[:0] = spec["paths"]  # function path: the renditions function's folder and layer
    import importlib

    for name in spec["modules"]:
        importlib.import_module(name)
    imported = time.perf_counter()
    if spec["imaging"]:
        from profile_photos.images import render

        render._register_heif()
    done = time.perf_counter()
    figures = {
        "import_ms": (imported - started) * 1000,
        "imaging_ms": (done - imported) * 1000,
        "init_ms": (done - started) * 1000,
        "modules": len(sys.modules),
        "pil": "PIL" in sys.modules,
    }
    print("BENCH_COLD_RENDER " + json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()
