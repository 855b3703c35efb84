"""The layout page's size table: lines of Python per folder, counted at build time."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVICE = {
    "shared/profile_photos": "the layer package: domain, adapters, HTTP glue",
    "functions": "the five handlers and their edge modules",
}
SUPPORT = {
    "devkit": "the support base: template reader, API Gateway events, tokens, stream records",
    "devstack": "the local stack: API Gateway, Lambda workers, streams, moto, Swagger UI",
    "ops": "operator tools: redrive, R2 lifecycle and CORS",
    "bench": "make bench: cold starts, requests, warm time, memory, renditions, hostile files",
    "testkit": "test images, sample events, the parser corpus, the invoker, the AWS-call recorder",
    "tools": "the build and its import check, the load runner, the event generator, SAM local",
}


def lines(folder: str) -> int:
    return sum(
        len(path.read_text(encoding="utf-8").splitlines()) for path in (ROOT / folder).rglob("*.py")
    )


def render() -> str:
    out = ["| Folder | Lines | What |", "| --- | ---: | --- |"]
    totals = {}
    for kind, folders in (("service", SERVICE), ("support", SUPPORT)):
        counted = {folder: lines(folder) for folder in folders}
        totals[kind] = sum(counted.values())
        out += [f"| `{f}/` | {n:,} | {folders[f]} |" for f, n in counted.items()]
        out.append(f"| **{kind}** | **{totals[kind]:,}** | |")
    ratio = totals["support"] / totals["service"]
    out += ["", f"Support code is {ratio:.1f}x the service code."]
    return "\n".join(out)
