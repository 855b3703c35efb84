"""The `sam local` env-vars file (devstack/sam.py) follows the template; no Docker here.

The containers themselves are tested by `make sam-local-test` (tools/sam_local/), which is
not part of pytest's run.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

from devkit.template import load_template, resources_of_type, table_definitions
from devstack import sam
from testkit.events import SAMPLE_KEY
from tools.sam_local.sam_host_network import env_vars_file, file_variables

ENDPOINT = "http://127.0.0.1:45678"
API = "http://127.0.0.1:3000"


def table_variables(template: dict) -> dict[str, str]:
    """Every function env var whose value is a `!Ref` to a table: name -> logical id."""
    tables = set(resources_of_type(template, "AWS::DynamoDB::Table"))
    found = {}
    sources = [template.get("Globals", {}).get("Function", {})] + [
        resource["Properties"]
        for resource in resources_of_type(template, "AWS::Serverless::Function").values()
    ]
    for source in sources:
        for key, value in source.get("Environment", {}).get("Variables", {}).items():
            if isinstance(value, dict) and value.get("Ref") in tables:
                found[key] = value["Ref"]
    return found


def test_every_table_variable_of_the_template_names_a_table_the_stack_creates() -> None:
    template = load_template()

    params = sam.env_vars(ENDPOINT, API, {}, template)["Parameters"]

    expected = table_variables(template)
    assert expected  # the template has tables
    assert {k: params.get(k) for k in expected} == expected
    assert set(expected.values()) <= set(table_definitions(template))


def test_a_table_added_to_the_template_shows_up_without_editing_the_mode() -> None:
    template = copy.deepcopy(load_template())
    template["Resources"]["AuditTable"] = copy.deepcopy(template["Resources"]["UsersTable"])
    template["Globals"]["Function"]["Environment"]["Variables"]["AUDIT_TABLE"] = {
        "Ref": "AuditTable"
    }

    params = sam.env_vars(ENDPOINT, API, {}, template)["Parameters"]

    assert params["AUDIT_TABLE"] == "AuditTable"


def test_the_containers_are_pointed_at_loopback_with_fake_credentials() -> None:
    params = sam.env_vars(ENDPOINT, API, {}, load_template())["Parameters"]

    assert params["AWS_ENDPOINT_URL_DYNAMODB"] == ENDPOINT
    assert params["R2_ENDPOINT_URL"] == ENDPOINT
    assert params["OBJECT_STORAGE_PROVIDER"] == "R2"
    assert params["AWS_ACCESS_KEY_ID"] == "local"
    assert params["LOCAL_STORAGE_BASE_URL"] == f"{API}/api/storage"
    assert len(params["JWT_SECRET"]) >= 32
    assert len(params["LOCAL_STORAGE_SECRET"]) >= 32
    assert all("{{resolve:" not in value for value in params.values())


def test_secrets_from_the_environment_win_over_the_development_defaults() -> None:
    environ = {"JWT_SECRET": "j" * 40, "LOCAL_STORAGE_SECRET": "s" * 40}

    params = sam.env_vars(ENDPOINT, API, environ, load_template())["Parameters"]

    assert params["JWT_SECRET"] == "j" * 40
    assert params["LOCAL_STORAGE_SECRET"] == "s" * 40


def test_the_seeded_photo_is_the_one_the_sample_events_sign() -> None:
    assert sam.SAMPLE_KEY == SAMPLE_KEY


def test_the_wrapper_adds_the_files_variables_for_the_function(tmp_path: Path) -> None:
    path = tmp_path / "env.json"
    path.write_text(json.dumps({"Parameters": {"A": "1", "B": "2"}, "Fn": {"B": "3"}}))

    assert env_vars_file(["local", "invoke", "Fn", "--env-vars", str(path)]) == path
    assert env_vars_file(["local", "invoke", "-n", str(path)]) == path
    assert env_vars_file(["local", "invoke"]) is None
    assert file_variables(path, "Fn") == {"A": "1", "B": "3"}
    assert file_variables(path, "Other") == {"A": "1", "B": "2"}
