"""The GraphQL over HTTP audit (`graphql-http`'s `serverAudits`, pinned in
tests/e2e/node/package.json) against the local stack's /graphql with a bearer token, as a
GraphQL tool would meet it: every MUST passes; the SHOULDs the service leaves unmet are
exactly the ones docs/api.md ("GraphQL over HTTP") names, and the run prints them all."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import requests

from devkit.token import make_token
from tests.e2e.conftest import ROOT, RunningStack

NODE_DIR = ROOT / "tests" / "e2e" / "node"
SCRIPT = NODE_DIR / "graphql_audit.mjs"
# The SHOULDs left unmet on purpose: under application/json the contract keeps HTTP 400 for
# a request that never runs (the draft prefers 200 there); docs/api.md says so.
UNMET_SHOULDS = {"572B", "FDE2", "7B9B"}


def tool(name: str) -> str:
    found = shutil.which(name)
    assert found, f"{name} is not installed: `make test` installs Debian's nodejs when missing"
    return found


@pytest.fixture(scope="module")
def audit_package() -> Path:
    """graphql-http and graphql as package-lock.json pins them, installed from the npm
    registry into tests/e2e/node/node_modules unless that install is already there."""
    installed = NODE_DIR / "node_modules" / ".package-lock.json"
    lock = NODE_DIR / "package-lock.json"
    if not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime:
        done = subprocess.run(
            [tool("npm"), "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=NODE_DIR,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-2000:]
    return NODE_DIR


def run_audit(stack: RunningStack, token: str) -> list[dict[str, Any]]:
    env = {"URL": f"{stack.url}/graphql", "TOKEN": token, "PATH": str(Path(tool("node")).parent)}
    done = subprocess.run(
        [tool("node"), str(SCRIPT)],
        cwd=NODE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    results: list[dict[str, Any]] = json.loads(done.stdout)
    return results


def level(result: dict[str, Any]) -> str:
    return str(result["name"]).split(" ", 1)[0]


def test_the_graphql_over_http_audit_passes_every_must(
    stack: RunningStack, audit_package: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the local stack as `make dev` starts it (introspection on) and a user's token
    token = make_token("audit-user", "audit")

    # When graphql-http runs every server audit against /graphql
    results = run_audit(stack, token)

    # Then the run reports each level's score and every audit that failed
    by_level = {
        name: [r for r in results if level(r) == name] for name in ("MUST", "SHOULD", "MAY")
    }
    with capsys.disabled():
        print()
        for name, found in by_level.items():
            passed = sum(r["status"] == "ok" for r in found)
            print(f"graphql-http audit: {name} {passed}/{len(found)}")
        for result in results:
            if result["status"] != "ok":
                print(
                    f"  {result['id']} {result['name']}: {result['reason']} "
                    f"(HTTP {result['httpStatus']}, {result['contentType']})"
                )
    assert len(by_level["MUST"]) == 13  # the pinned audit's size: a new version is a review
    assert len(by_level["SHOULD"]) == 23
    # and no MUST fails
    failed = [r for r in by_level["MUST"] if r["status"] != "ok"]
    assert not failed, json.dumps(failed, indent=1)
    # and the SHOULDs left unmet are exactly those the docs name
    unmet = {r["id"] for r in by_level["SHOULD"] if r["status"] != "ok"}
    assert unmet == UNMET_SHOULDS, json.dumps(
        [r for r in by_level["SHOULD"] if r["status"] != "ok"], indent=1
    )
    assert "572B" in (ROOT / "docs" / "api.md").read_text(encoding="utf-8")


def test_graphiql_style_tools_can_load_the_schema_locally(stack: RunningStack) -> None:
    # Given the local stack's defaults, When a tool asks for the schema by introspection
    answer = requests.post(
        f"{stack.url}/graphql",
        headers={
            "Authorization": f"Bearer {make_token('tool-user', 'tool')}",
            "Accept": "application/graphql-response+json, application/json;q=0.9",
        },
        json={"query": "{ __schema { queryType { name } mutationType { name } } }"},
        timeout=30,
    )

    # Then it gets it, in the media type it prefers
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"].startswith("application/graphql-response+json")
    schema = answer.json()["data"]["__schema"]
    assert schema == {"queryType": {"name": "Query"}, "mutationType": {"name": "Mutation"}}
