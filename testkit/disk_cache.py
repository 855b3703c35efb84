"""Generated test files kept on disk, so each pytest worker does not build them again.

A 100 MP bomb or a 12 MP camera photo takes seconds of Pillow, libwebp or x265 to build, and
every worker that needs one would build it: `kept_on_disk(*sources)` keeps the bytes in this
process and under `.cache/testkit` (`make clean` removes it) for the next ones. The key is the
builder's name and arguments, the text of the `sources` that build it and the encoders'
versions, so an edit to a builder or an upgrade of Pillow or pillow-heif builds afresh. Writes
are atomic: a worker never reads another's half-written file.
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Callable
from pathlib import Path

FOLDER = Path(__file__).resolve().parents[1] / ".cache" / "testkit"


def kept_on_disk(*sources: Path) -> Callable[[Callable[..., bytes]], Callable[..., bytes]]:
    def decorate(make: Callable[..., bytes]) -> Callable[..., bytes]:
        @functools.cache
        def cached(*args: object, **kwargs: object) -> bytes:
            named = sorted(kwargs.items())
            key = hashlib.sha256(repr((make.__name__, args, named, _stamp(sources))).encode())
            path = FOLDER / f"{make.__name__}-{key.hexdigest()[:24]}.bin"
            if path.exists():
                return path.read_bytes()
            data = make(*args, **kwargs)
            FOLDER.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(f".{os.getpid()}.tmp")
            partial.write_bytes(data)
            partial.replace(path)
            return data

        return functools.wraps(make)(cached)

    return decorate


@functools.cache
def _stamp(sources: tuple[Path, ...]) -> str:
    import PIL

    text = b"".join(path.read_bytes() for path in sources)
    versions = f"{PIL.__version__} {_heif_version()}".encode()
    return hashlib.sha256(text + versions).hexdigest()[:16]


def _heif_version() -> str:
    try:
        from importlib.metadata import version

        return version("pillow-heif")
    except Exception:  # pillow-heif not installed: no HEIC to write, nothing to key on
        return "-"
