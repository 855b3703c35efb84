"""The security page's decoding limits: the figures from the code, the margins from the bench.

`render` reads the limits where the service keeps them (`images`, `images.jpeg`,
`images.footprint`, the imaging functions' MemorySize and Timeout in `template.yaml`), so the
table cannot disagree with what runs; `margins` renders the committed run's "hostile files"
rows (`bench/results/latest.json`): each format's worst accepted file, its peak memory and
time against the function's.
"""

from __future__ import annotations

from typing import Any

import yaml

from docs.gen import bench_tables, template_parameters  # installed with the project (make venv)

HOSTILE = "hostile files"
MIB = 1024 * 1024


def _function(name: str) -> tuple[int, int]:
    """(MemorySize, Timeout) of a function in template.yaml, Globals as the default."""
    text = template_parameters.TEMPLATE.read_text(encoding="utf-8")
    loader = template_parameters._TemplateLoader  # a SafeLoader that reads CloudFormation's tags
    template = yaml.load(text, Loader=loader)  # noqa: S506
    props = template["Resources"][name]["Properties"]
    defaults = template["Globals"]["Function"]
    return int(props.get("MemorySize", defaults["MemorySize"])), int(
        props.get("Timeout", defaults["Timeout"])
    )


def render() -> str:
    from profile_photos.images import MAX_PIXELS, MAX_SIDE, footprint, jpeg

    upload, renditions = _function("UploadFunction"), _function("RenditionsFunction")
    budget = footprint.budget(upload[0]) // MIB
    rows = [
        ("Pixels", f"{MAX_PIXELS // 1_000_000} MP, {MAX_SIDE} px a side", "every format"),
        (
            "Decoder memory",
            f"{footprint.MEMORY_SHARE:.0%} of MemorySize less {footprint.RESERVED_MB} MB for the "
            f"process: {budget} MB at {upload[0]} MB",
            "priced per format (below)",
        ),
        ("JPEG scans", f"{jpeg.MAX_SCANS}", "libjpeg-turbo's `TJPARAM_SCANLIMIT` in its fuzzers"),
        (
            "JPEG scan work",
            f"{footprint.MAX_SCAN_BLOCKS // 1_000_000} million coefficient blocks visited",
            "a repeated scan is a whole pass over the image",
        ),
        (
            "PNG rows inflated",
            f"{footprint.MAX_INFLATED_BYTES // 1_000_000} MB",
            "a 100 MP 8-bit RGBA PNG; 16-bit rows are twice the bytes",
        ),
    ]
    prices = [
        ("JPEG, progressive", "2 bytes per coefficient of each component at its sampling"),
        ("JPEG, baseline", "decoded at a DCT scale: 1/4 of the pixels, 1 byte per component"),
        (
            "PNG",
            f"Pillow's storage per pixel (1 to 4 bytes; 16-bit grey {footprint._PNG_GREY16:g})"
            f" x {footprint.PNG_RENDER:g} for a rendition's copies",
        ),
        ("GIF", f"{footprint.GIF:g} bytes per pixel of the logical screen"),
        (
            "WebP (still or animated)",
            f"{footprint.WEBP:g} bytes per canvas pixel (libwebp's "
            "animation decoder: two RGBA canvases and a copy)",
        ),
        ("HEIC/HEIF (grids included)", f"{footprint.HEIF:g} bytes per pixel"),
    ]
    out = [
        "| Limit | Value | Why |",
        "| --- | --- | --- |",
        *[f"| {a} | {b} | {c} |" for a, b, c in rows],
        "",
        "| Format | Priced at |",
        "| --- | --- |",
        *[f"| {a} | {b} |" for a, b in prices],
        "",
        f"Functions: the upload's decode check runs in {upload[0]} MB with a {upload[1]} s "
        f"timeout; the renditions in {renditions[0]} MB with {renditions[1]} s.",
    ]
    return "\n".join(out)


def margins(payload: dict[str, Any] | None = None) -> str:
    payload = payload or bench_tables.load()
    rows = [row for row in payload["rows"] if row["section"].startswith(HOSTILE)]
    if not rows:
        return (
            f"*The committed bench run (commit `{payload.get('commit', '')}`) has no "
            f"{HOSTILE} section: run `make bench`.*"
        )
    out = [
        f"From the committed run (commit `{payload.get('commit', '')}`):",
        "",
        "| File | Peak / MemorySize | Status | Time, peak and file |",
        "| --- | ---: | --- | --- |",
    ]
    for row in rows:
        out.append(
            f"| {bench_tables.cell(row['metric'])} | "
            f"{bench_tables.value_text(row['value'], row['unit'])} | {row['status']} | "
            f"{bench_tables.cell(row.get('notes', ''))} |"
        )
    return "\n".join(out)
