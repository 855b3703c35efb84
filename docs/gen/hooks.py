"""mkdocs hook: fills each `<!-- generated: NAME -->` marker of a page at build time.

The reference pages (REST from `openapi.yaml`, GraphQL from `schema.graphql`), the
configuration table (from `settings.py`), the error codes (from the code's enums), the
deploy parameters (from `template.yaml`) and the benchmark tables (from
`bench/results/latest.json`) are produced on every `make docs` and never checked in, so they
cannot drift from their sources. A marker with no generator fails the build.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from mkdocs.exceptions import PluginError

from docs.gen import (
    bench_tables,
    code_size,
    config_reference,
    decoding_limits,
    error_codes,
    graphql_reference,
    rest_reference,
    template_parameters,
)

# A bare marker, or a block `make bench-report` filled (docs/gen/bench_tables.py): both are
# replaced by the generator's output.
MARKER = re.compile(
    r"<!--\s*generated:\s*([a-z-]+)\s*-->(?:\n.*?\n<!--\s*end generated:\s*\1\s*-->)?",
    re.DOTALL,
)
GENERATORS: dict[str, Callable[[], str]] = {
    "rest": rest_reference.render,
    "graphql": graphql_reference.render,
    "configuration": config_reference.render,
    "performance": bench_tables.render,
    "cost-per-view": bench_tables.cost_matrix,
    "load": bench_tables.load_run,
    "parameters": template_parameters.render,
    "decoding-limits": decoding_limits.render,
    "code-size": code_size.render,
    "decoding-margins": decoding_limits.margins,
    "error-codes": error_codes.render_rest,
    "graphql-error-codes": error_codes.render_graphql,
}


def expand(markdown: str, source: str = "a page") -> str:
    """`markdown` with every marker replaced by its generator's output."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in GENERATORS:
            raise PluginError(f"{source}: no generator named {name!r} (known: {list(GENERATORS)})")
        try:
            return GENERATORS[name]()
        except (ValueError, KeyError, OSError) as error:
            raise PluginError(f"{source}: generating {name!r} failed: {error}") from error

    return MARKER.sub(replace, markdown)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    return expand(markdown, page.file.src_uri)
