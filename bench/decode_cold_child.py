"""The first decode check of a fresh process: bench/decode.py's cold figure.

Run by bench/decode.py: `python -I bench/decode_cold_child.py <spec json>`. The spec names the
paths to put first (the upload function's layer package), a small JPEG and whether to check it.
Prints one line `BENCH_COLD_DECODE {...}`: milliseconds to import
`profile_photos.images.decoding`, to check the file (the first check loads Pillow) and both,
and whether Pillow ended up loaded. The module imports only what the timing needs, so the
process is the bare interpreter plus what the measured import brings.
"""

import json
import sys
import time


def main() -> None:
    spec = json.loads(sys.argv[1])
    with open(spec["file"], "rb") as handle:
        data = handle.read()
    started = time.perf_counter()
    sys.path[:0] = spec["paths"]  # function path: the upload function's folder and layer
    from profile_photos.images import decoding

    imported = time.perf_counter()
    if spec["check"]:
        decoding.check_decodes(data, "image/jpeg", 2**30)  # any limit: a small JPEG
    done = time.perf_counter()
    figures = {
        "import_ms": (imported - started) * 1000,
        "check_ms": (done - imported) * 1000,
        "total_ms": (done - started) * 1000,
        "pil": "PIL" in sys.modules,
    }
    print("BENCH_COLD_DECODE " + json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()
