"""The README and the documentation site: links that resolve, generated pages that cover
their sources, no variable read without its documentation, and the present tense.

The site's reference pages are generated at build time (docs/gen/hooks.py), so they cannot
go stale; what can go wrong is a generator that leaves something out, a hand-written link
that points nowhere, or a new environment variable nobody documents. Each is checked here,
without the network.
"""

from __future__ import annotations

import contextlib
import functools
import re
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from markdown.extensions.toc import slugify

from docs.gen import (
    bench_tables,
    config_reference,
    error_codes,
    graphql_reference,
    rest_reference,
)
from docs.gen.hooks import GENERATORS, MARKER, expand
from profile_photos.settings import SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
PAGES = sorted(DOCS.rglob("*.md"))
HAND_WRITTEN = [README, *PAGES]

FENCE = re.compile(r"^\s*(```|~~~).*?^\s*\1\s*$", flags=re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"(?<!!)\[(?:[^\]\n]*)\]\(([^)\s]+)\)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*$", flags=re.MULTILINE)
EXPLICIT_ID = re.compile(r"\{#([A-Za-z0-9_-]+)\}\s*$")


@functools.cache
def rendered(path: Path) -> str:
    """A page as the site builds it: generated markers expanded."""
    return expand(path.read_text(encoding="utf-8"), str(path))


def prose(markdown: str) -> str:
    """Markdown without code blocks and code spans (where brackets are not links)."""
    return CODE_SPAN.sub("", FENCE.sub("", markdown))


def links(markdown: str) -> list[str]:
    return LINK.findall(prose(markdown))


def anchors(markdown: str) -> set[str]:
    """The ids headings get, as Python-Markdown's toc makes them (`{#id}` wins)."""
    found = set()
    for _, text in HEADING.findall(FENCE.sub("", markdown)):
        explicit = EXPLICIT_ID.search(text)
        if explicit:
            found.add(explicit.group(1))
            continue
        plain = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text).replace("`", "")
        found.add(slugify(plain, "-"))
    return found


def link_targets() -> Iterator[tuple[Path, str]]:
    for page in HAND_WRITTEN:
        for target in links(rendered(page)):
            yield page, target


@pytest.mark.parametrize("page", HAND_WRITTEN, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_resolves_inside_the_repository(page: Path) -> None:
    # Given a README or docs page, as the site renders it
    broken = []
    for target in links(rendered(page)):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http(s), mailto: not followed
            continue
        path_part, _, anchor = target.partition("#")
        # When its relative link is resolved
        destination = (page.parent / path_part).resolve() if path_part else page
        # Then it names a file in the repository (a page links only inside docs/, the site)
        root = DOCS if page.is_relative_to(DOCS) else ROOT
        if not destination.is_relative_to(root) or not destination.exists():
            broken.append(f"{target}: no such file in {root.relative_to(ROOT.parent)}")
            continue
        if anchor and anchor not in anchors(rendered(destination)):
            broken.append(f"{target}: no heading with the id {anchor!r}")
    assert not broken, f"{page.relative_to(ROOT)}: " + "; ".join(broken)


def test_the_link_check_catches_a_missing_file_and_a_missing_anchor(tmp_path: Path) -> None:
    page = "[a](api.md#no-such-heading) [b](gone.md) `[c](in-code.md)`"
    assert links(page) == ["api.md#no-such-heading", "gone.md"]
    assert "no-such-heading" not in anchors(rendered(DOCS / "api.md"))
    assert "caching-signed-urls" in anchors(rendered(DOCS / "api.md"))


def test_the_readme_is_a_door_not_a_manual() -> None:
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 150
    assert "make dev" in text
    assert "make test" in text
    for page in ("getting-started", "api", "configuration", "deploying", "operations"):
        assert f"(docs/{page}.md)" in text, page


# Words that narrate history ("now", "no longer", "fixed since", "as before"); a plain "was"
# stays allowed, as grammar needs it ("a complete is not charged: its upload-url was").
FORBIDDEN = re.compile(
    r"\b(now|no longer|used to|formerly|previously|since issue|issue \d+|the seed|seed's"
    r"|(?:was|were) (?:fixed|added|removed|changed|replaced|skipped)|fixed since|as before"
    r"|before this|earlier run)\b",
    re.IGNORECASE,
)


@pytest.mark.parametrize("page", HAND_WRITTEN, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_docs_say_what_is_not_what_was(page: Path) -> None:
    text = prose(page.read_text(encoding="utf-8"))
    found = sorted({match.group(0) for match in FORBIDDEN.finditer(text)})
    assert not found, f"{page.relative_to(ROOT)} narrates history: {found}"


def test_the_security_page_has_the_decoding_limits_section() -> None:
    assert "decoding-limits" in anchors((DOCS / "security.md").read_text(encoding="utf-8"))


# ------------------------------------------------------------------------ generated pages


def test_every_marker_has_a_generator_and_every_generator_a_page() -> None:
    used = {name for page in PAGES for name in MARKER.findall(page.read_text(encoding="utf-8"))}
    assert used == set(GENERATORS)
    for page in PAGES:
        assert not MARKER.search(rendered(page)), page


def test_an_unknown_marker_fails_the_build() -> None:
    from mkdocs.exceptions import PluginError

    with pytest.raises(PluginError, match="no generator named 'nothing'"):
        expand("<!-- generated: nothing -->")


def operation_sections(page: str) -> dict[tuple[str, str], str]:
    parts = re.split(r"^### ", page, flags=re.MULTILINE)
    found = {}
    for part in parts[1:]:
        heading = re.match(r"([A-Z]+) `([^`]+)`", part)
        if heading:
            found[(heading.group(1).lower(), heading.group(2))] = part
    return found


def test_the_rest_reference_shows_every_operation_and_every_response() -> None:
    document = rest_reference.load()
    page = rest_reference.render(document)
    sections = operation_sections(page)
    assert "#/components/" not in page  # every $ref is resolved, never shown raw
    for method, path, statuses in rest_reference.operations(document):
        section = sections[(method, path)]
        for status in statuses:
            response = rest_reference.resolve(
                document, document["paths"][path][method]["responses"][status]
            )
            row = re.search(rf"^\| {status} \| (.+?) \|", section, flags=re.MULTILINE)
            assert row, f"{method.upper()} {path}: no row for {status}"
            assert row.group(1).strip() == " ".join(response["description"].split()), status


def test_the_rest_reference_resolves_parameters_and_shows_request_bodies() -> None:
    sections = operation_sections(rest_reference.render())
    upload = sections[("post", "/api/storage/profile-photo/upload")]
    assert "| `Idempotency-Key` | header | no |" in upload  # from #/components/parameters
    assert "Request body, `multipart/form-data` (required)" in upload
    assert "| `file` |" in upload
    fetch = sections[("get", "/api/storage/signed/{bucket}/{filePath}")]
    for name in ("`bucket`", "`filePath`", "`token`", "`If-None-Match`"):
        assert f"| {name} |" in fetch, name


def test_the_graphql_reference_shows_every_type_field_and_argument() -> None:
    schema = graphql_reference.load()
    page = graphql_reference.render(schema)
    for kind in graphql_reference.named_types(schema):
        assert f"### {kind.name} {{#{graphql_reference.anchor(kind.name)}}}" in page
        for name, field in getattr(kind, "fields", {}).items():
            assert f"| `{name}` |" in page, f"{kind.name}.{name}"
            for arg in getattr(field, "args", {}):
                assert f"`{arg}`: " in page, f"{kind.name}.{name}({arg})"
        for value in getattr(kind, "values", {}):
            assert f"| `{value}` |" in page, f"{kind.name}.{value}"
    assert "`first`: `Int` = `100`" in page  # defaults as the schema writes them


def test_the_performance_page_shows_every_row_of_the_committed_run() -> None:
    payload = bench_tables.load()
    page = bench_tables.render(payload)
    assert payload["commit"] in page
    for row in payload["rows"]:
        assert f"| {bench_tables.cell(row['metric'])} |" in page, row["metric"]


def test_the_site_builds_strictly(tmp_path: Path) -> None:
    # mkdocs --strict fails on any warning: a broken link or anchor, a page left out of nav
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"NO_MKDOCS_2_WARNING": "1", "PATH": ""},
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "reference" / "rest" / "index.html").exists()


# ------------------------------------------------------------------------- configuration


class RecordingEnv(Mapping[str, str]):
    """An environment that remembers every name the settings code asks for."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values
        self.read: set[str] = set()

    def __getitem__(self, name: str) -> str:
        self.read.add(name)
        return self.values[name]

    def get(self, name: str, default: object = None) -> str | None:  # type: ignore[override]
        self.read.add(name)
        return self.values.get(name, default)  # type: ignore[arg-type]

    def __contains__(self, name: object) -> bool:
        self.read.add(str(name))
        return name in self.values

    def __iter__(self) -> Iterator[str]:
        raise AssertionError("settings must ask for variables by name")

    def __len__(self) -> int:
        return len(self.values)


ENVIRONMENTS = [
    {},
    {"OBJECT_STORAGE_PROVIDER": "R2", "JWT_JWKS_URL": "https://issuer.example/jwks"},
    {"OBJECT_STORAGE_PROVIDER": "LOCAL", "JWT_SECRET": "x" * 40, "LOCAL_STORAGE_SECRET": "y" * 40},
]


def read_by_settings() -> set[str]:
    names: set[str] = set()
    for values in ENVIRONMENTS:
        env = RecordingEnv(values)
        with contextlib.suppress(SettingsError):
            load_settings(env)
        names |= env.read
    return names


def test_every_variable_the_settings_read_is_on_the_configuration_page() -> None:
    # Given every name load_settings asks the environment for, in several configurations
    read = read_by_settings()
    # Then the parser that builds the page finds each, and the page documents each
    parsed = {variable.name for variable in config_reference.variables()}
    assert read <= parsed, f"read but not found by docs/gen/config_reference.py: {read - parsed}"
    page = rendered(DOCS / "configuration.md")
    missing = sorted(name for name in read if f"| `{name}` |" not in page)
    assert not missing, f"read by settings.py, not on the configuration page: {missing}"


def test_the_configuration_page_documents_nothing_the_code_does_not_read() -> None:
    parsed = {variable.name for variable in config_reference.variables()}
    assert set(config_reference.MEANINGS) == parsed


def test_a_new_variable_without_a_meaning_fails_the_page(tmp_path: Path) -> None:
    # Given settings code that reads one more variable than the docs describe
    source = config_reference.SETTINGS.read_text(encoding="utf-8")
    added = source.replace(
        'graphql_introspection=flag("GRAPHQL_INTROSPECTION"),',
        'graphql_introspection=flag("GRAPHQL_INTROSPECTION") or bool(text("BRAND_NEW_VAR")),',
    )
    assert added != source
    settings = tmp_path / "settings.py"
    settings.write_text(added, encoding="utf-8")
    # When the configuration page is generated, Then it refuses, naming the variable
    assert config_reference.undocumented(settings) == ["BRAND_NEW_VAR"]
    with pytest.raises(ValueError, match="BRAND_NEW_VAR"):
        config_reference.render(settings)


def test_the_configuration_page_shows_the_codes_defaults() -> None:
    page = config_reference.render()
    assert "| `SIGNED_URL_TTL_SECONDS` | `3600` |" in page
    assert "| `RETENTION_ACTIVE_LIMIT` | `5` |" in page
    assert "| `LOCAL_STORAGE_MAX_FILE_SIZE` | `5242880` |" in page


def test_the_local_stack_variables_are_read_somewhere() -> None:
    sources = "\n".join(
        path.read_text(encoding="utf-8")
        for folder in ("devstack", "devkit", "tools")
        if (ROOT / folder).is_dir()
        for path in (ROOT / folder).rglob("*.py")
    )
    for name in config_reference.LOCAL_STACK:
        assert f'"{name}"' in sources, name


# --------------------------------------------------------------------------- error codes


def test_the_api_page_lists_every_error_code_of_both_enums() -> None:
    from graphql_protocol import GraphQLCode

    from profile_photos.api.web import ErrorCode

    # the GraphQL enum, read from the source for the docs, is the one the function runs with
    assert error_codes.graphql_codes() == [member.value for member in GraphQLCode]
    page = rendered(DOCS / "api.md")
    rest, graphql = page.split("### GraphQL over HTTP", 1)[0].split("## GraphQL\n", 1)
    for member in ErrorCode:
        row = re.search(rf"^\| `{member.value}` \| ([^|]+) \| (.+) \|$", rest, re.MULTILINE)
        assert row, f"REST code {member} not in the Errors table"
        assert re.fullmatch(r"(\d{3}|[45]xx)(, (\d{3}|[45]xx))*", row.group(1).strip()), row
    assert "| `UNSUPPORTED_MEDIA_TYPE` |" not in rest
    for member in GraphQLCode:
        assert f"| `{member.value}` | HTTP " in graphql, f"GraphQL code {member} not in its table"
    assert "| `VALIDATION_FAILED` | 400, 415, 4xx |" in rest  # statuses from the code's tables


def test_a_code_without_a_meaning_fails_the_page(tmp_path: Path) -> None:
    # Given the GraphQL function with one more code than the docs describe
    source = error_codes.GRAPHQL_PROTOCOL.read_text(encoding="utf-8")
    added = source.replace(
        '    BAD_REQUEST = "BAD_REQUEST"\n',
        '    BAD_REQUEST = "BAD_REQUEST"\n    BRAND_NEW_CODE = "BRAND_NEW_CODE"\n',
    )
    assert added != source
    planted = tmp_path / "graphql_protocol.py"
    planted.write_text(added, encoding="utf-8")
    # When its table is generated, Then it refuses, naming the code
    with pytest.raises(ValueError, match="BRAND_NEW_CODE"):
        error_codes.render_graphql(planted)
