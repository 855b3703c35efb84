"""`make licenses`: every package each Lambda layer ships, with its licence; no GPL among them.

The layers are the template's `AWS::Serverless::LayerVersion` resources whose `ContentUri`
holds a `requirements.txt` (SharedLayer is our own code: it has none). Each layer's
requirements are installed as `sam build` installs them, dependencies included: binary wheels
for the layer's `BuildArchitecture` and runtime, on the Lambda runtime's glibc (Amazon Linux
2023: manylinux_2_34 and older), by `pip install --target` into `.venv/licenses/`, one
folder per layer and requirements hash (a changed pin installs anew). The metadata is then
read from that folder with `importlib.metadata.distributions(path=[folder])`: nothing in it
is imported or put on a path, and wheels for another CPU are read as well as native ones.
(pip-licenses would need an interpreter with the packages on its path, and reads neither the
bundled-library lists nor the SBOMs below.)

What is judged, per package:
- its own licence: `License-Expression` (SPDX) when present; otherwise the `License` field
  (a whole licence text there is judged by its title line) and every `License ::` classifier;
- the libraries its wheel bundles, where the dist-info lists them: the `License:` lines of its
  licence files (the `Name:/Files:/License:` blocks numpy, scipy and pillow-heif append,
  and pillow-heif's "License for ... binary wheels: <licence>" line), and the components of
  its CycloneDX SBOMs (`.dist-info/sboms/`, PEP 770) whose scope is not `optional` or
  `excluded` (those are, by CycloneDX's definition, not installed).

The rule: GPL and AGPL, of any version, are refused; LGPL is allowed (weak copyleft: libraries
linked into our code, such as pi-heif's libheif and libde265). A GPL with a linking exception
(`WITH Classpath-exception-2.0`, the GCC runtime library exception, a "linking exception")
is allowed too: the exception is what keeps the code that links to it out of the GPL, as the
LGPL does. In an expression, `OR` is a choice (allowed when any side is), `AND` and a comma
are both (refused when any side is). A package that states no licence anywhere is listed as
unknown and refused: the check cannot vouch for it.

Exit status: 0 when every shipped package is allowed, 1 when one is refused, 2 when a layer
could not be installed.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib.metadata import Distribution, distributions
from pathlib import Path, PurePosixPath
from typing import Any

from devkit.template import load_template, resources_of_type

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".venv" / "licenses"  # third-party code: beside the installed packages
GLIBC_MINOR = 34  # glibc 2.34: Amazon Linux 2023, the OS of the python3.13 runtime

_AGPL = re.compile(r"\bAGPL|\bAffero", re.IGNORECASE)
_LGPL = re.compile(r"\bLGPL|\bLesser General Public|\bLibrary General Public", re.IGNORECASE)
_GPL = re.compile(r"\bGPL|\bGeneral Public Licen[cs]e", re.IGNORECASE)
_LINKING_EXCEPTION = re.compile(r"classpath|\bGCC|linking|universal-foss", re.IGNORECASE)
_OR = re.compile(r"\s+or\s+", re.IGNORECASE)
_AND = re.compile(r"\s+and\s+|\s*[,;]\s*", re.IGNORECASE)
_BUNDLED = re.compile(
    r"^\s*License:\s*(?P<a>.+?)\s*$"
    r"|^License for .+? binary wheels?:\s*(?P<b>.+?)(?:,\s*due to.*)?\.?\s*$",
    re.IGNORECASE | re.MULTILINE,
)
_TEXT_TITLE = 200  # a `License` field longer than this (or of several lines) is a whole text


@dataclass(frozen=True)
class Licence:
    """One licence statement about a package, where it was read, and the rule's verdict."""

    source: str  # "License-Expression", "License", "classifier", "bundled: <file>", "sbom: ..."
    text: str
    refused: bool


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    licences: tuple[Licence, ...]

    @property
    def own(self) -> str:
        """The package's own licence, as the table shows it."""
        own = [lic.text for lic in self.licences if not lic.source.startswith(("bundled", "sbom"))]
        return "; ".join(dict.fromkeys(own)) or "unknown"

    @property
    def bundled(self) -> tuple[Licence, ...]:
        return tuple(lic for lic in self.licences if lic.source.startswith(("bundled", "sbom")))

    @property
    def refusals(self) -> tuple[Licence, ...]:
        if not self.licences:
            return (Licence("metadata", "no licence stated", refused=True),)
        return tuple(lic for lic in self.licences if lic.refused)


# --------------------------------------------------------------------------------- the rule


def refused(expression: str) -> bool:
    """Whether a licence expression (SPDX or the free text packages write) falls under the
    rule: GPL/AGPL refused, LGPL and GPL with a linking exception allowed; `OR` is a choice,
    `AND` and commas are conjunctions."""
    alternatives = _split(expression, _OR)
    if len(alternatives) > 1:
        return all(refused(alternative) for alternative in alternatives)
    parts = _split(expression, _AND)
    if len(parts) > 1:
        return any(refused(part) for part in parts)
    term = expression.strip()
    if term.startswith("(") and term.endswith(")") and _balanced(term[1:-1]):
        return refused(term[1:-1])
    return term_refused(term)


def term_refused(term: str) -> bool:
    """Whether one licence (no operator splits it) is GPL or AGPL without a linking exception."""
    if _AGPL.search(term):
        return True
    if _LGPL.search(term):
        return False
    if _GPL.search(term):
        return not ("exception" in term.lower() and _LINKING_EXCEPTION.search(term))
    return False


def _split(text: str, operator: re.Pattern[str]) -> list[str]:
    """`text` split on `operator` outside parentheses."""
    parts, depth, start, at = [], 0, 0, 0
    while at < len(text):
        char = text[at]
        if char in "([":
            depth += 1
        elif char in ")]":
            depth = max(0, depth - 1)
        elif depth == 0 and (match := operator.match(text, at)):
            parts.append(text[start:at])
            start = at = match.end()
            continue
        at += 1
    parts.append(text[start:])
    return [part for part in (p.strip() for p in parts) if part]


def _balanced(text: str) -> bool:
    depth = 0
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            return False
    return depth == 0


# ----------------------------------------------------------------------------- the metadata


def package(dist: Distribution) -> Package:
    """Every licence statement of an installed distribution, judged."""
    meta = dist.metadata
    found: list[Licence] = []
    expression = meta.get("License-Expression")
    if expression:
        found.append(Licence("License-Expression", expression, refused(expression)))
    else:
        text = (meta.get("License") or "").strip()
        if text and text.upper() not in ("UNKNOWN", "NONE"):
            if "\n" in text or len(text) > _TEXT_TITLE:
                title = next(line.strip() for line in text.splitlines() if line.strip())
                found.append(Licence("License", f"text: {title[:80]}", term_refused(title)))
            else:
                found.append(Licence("License", text, refused(text)))
        for classifier in meta.get_all("Classifier") or []:
            if classifier.startswith("License ::") and classifier != "License :: OSI Approved":
                name = classifier.rsplit("::", 1)[1].strip()
                found.append(Licence("classifier", name, term_refused(name)))
    found.extend(_bundled(dist))
    found.extend(_sbom_components(dist))
    return Package(meta["Name"], meta["Version"], tuple(found))


def _bundled(dist: Distribution) -> Iterator[Licence]:
    """The `License:` lines of the dist-info's licence files (the bundled-library lists)."""
    for name in dist.metadata.get_all("License-File") or []:
        text = dist.read_text(f"licenses/{name}") or dist.read_text(name)
        for match in _BUNDLED.finditer(text or ""):
            licence = (match["a"] or match["b"]).strip()
            yield Licence(f"bundled: {PurePosixPath(name).name}", licence, refused(licence))


def _sbom_components(dist: Distribution) -> Iterator[Licence]:
    """The licences of the components a CycloneDX SBOM in `.dist-info/sboms/` says are in."""
    for file in dist.files or []:
        parts = PurePosixPath(file).parts
        if len(parts) != 3 or not parts[0].endswith(".dist-info") or parts[1] != "sboms":
            continue
        try:
            bom = json.loads(dist.read_text(f"sboms/{parts[2]}") or "{}")
        except ValueError:
            continue
        for component in bom.get("components") or []:
            if component.get("scope") in ("optional", "excluded"):
                continue
            for licence in _sbom_licences(component.get("licenses") or []):
                where = f"sbom: {component.get('name', '?')} {component.get('version', '')}"
                yield Licence(where.strip(), licence, refused(licence))


def _sbom_licences(entries: Iterable[dict[str, Any]]) -> Iterator[str]:
    for entry in entries:
        if entry.get("expression"):
            yield str(entry["expression"])
        elif isinstance(entry.get("license"), dict):
            licence = entry["license"]
            if licence.get("id") or licence.get("name"):
                yield str(licence.get("id") or licence.get("name"))


# ---------------------------------------------------------------------------- the layers


@dataclass(frozen=True)
class Layer:
    name: str
    requirements: Path
    architecture: str  # x86_64 | arm64
    python: str  # "3.13"


def layers(template_path: Path = ROOT / "template.yaml") -> list[Layer]:
    """The template's layers that install third-party requirements, in template order."""
    template = load_template(template_path)
    found = []
    for name, resource in resources_of_type(template, "AWS::Serverless::LayerVersion").items():
        properties, metadata = resource["Properties"], resource.get("Metadata") or {}
        requirements = template_path.parent / str(properties["ContentUri"]) / "requirements.txt"
        if not requirements.is_file():
            continue
        architecture = (
            metadata.get("BuildArchitecture")
            or properties.get("CompatibleArchitectures", ["x86_64"])[0]
        )
        runtime = str(metadata.get("BuildMethod") or properties["CompatibleRuntimes"][0])
        found.append(Layer(name, requirements, architecture, runtime.removeprefix("python")))
    return found


def install(layer: Layer, cache: Path = CACHE) -> Path:
    """The layer's requirements installed (with their dependencies) into a cached folder."""
    machine = {"arm64": "aarch64"}.get(layer.architecture, layer.architecture)
    # pip takes each --platform literally: every manylinux tag the runtime's glibc runs
    platforms = [f"manylinux_2_{minor}_{machine}" for minor in range(GLIBC_MINOR, 4, -1)]
    platforms += [f"manylinux{legacy}_{machine}" for legacy in ("2014", "2010", "1")]
    options = [
        "--only-binary=:all:",
        *(f"--platform={platform}" for platform in platforms),
        "--implementation=cp",
        f"--python-version={layer.python}",
    ]
    key = hashlib.sha256("\n".join([layer.requirements.read_text(), *options]).encode())
    target = cache / f"{layer.name}-{key.hexdigest()[:12]}"
    if (target / ".complete").exists():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{layer.name}-", dir=cache))
    try:
        subprocess.run(
            [
                *(sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"),
                *("--no-compile", "--target", str(scratch), *options),
                *("-r", str(layer.requirements)),
            ],
            check=True,
        )
        (scratch / ".complete").touch()
        for stale in cache.glob(f"{layer.name}-*"):  # this one's earlier requirements
            shutil.rmtree(stale, ignore_errors=True)
        scratch.rename(target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def installed(target: Path) -> list[Package]:
    """Every distribution in `target`, by name."""
    found = {
        dist.metadata["Name"].lower(): package(dist) for dist in distributions(path=[str(target)])
    }
    return [found[name] for name in sorted(found)]


# ---------------------------------------------------------------------------------- report


def table(layer: Layer, packages: list[Package]) -> str:
    rows = [("package", "version", "licence", "bundled", "verdict")]
    for pkg in packages:
        bundled = ", ".join(dict.fromkeys(lic.text for lic in pkg.bundled))
        refusals = pkg.refusals
        verdict = (
            "ok"
            if not refusals
            else "REFUSED: " + "; ".join(f"{lic.text} ({lic.source})" for lic in refusals)
        )
        rows.append((pkg.name, pkg.version, _clip(pkg.own), _clip(bundled), verdict))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [f"== {layer.name} ({layer.requirements.relative_to(ROOT)}, {layer.architecture})"]
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(line.rstrip() for line in lines)


def _clip(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 1] + "\u2026"


def main() -> int:
    status = 0
    for layer in layers():
        try:
            target = install(layer)
        except subprocess.CalledProcessError as exc:
            print(f"== {layer.name}: pip could not install {layer.requirements} ({exc})")
            return 2
        packages = installed(target)
        print(table(layer, packages), end="\n\n")
        if any(pkg.refusals for pkg in packages):
            status = 1
    print(
        "licences: "
        + (
            "every shipped package is allowed (no GPL/AGPL)"
            if status == 0
            else "GPL/AGPL shipped: see REFUSED"
        )
    )
    return status


if __name__ == "__main__":
    sys.exit(main())
