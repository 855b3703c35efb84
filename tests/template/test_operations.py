"""Operations in the template: alarms, their topic, the dashboard, safe deploys, the runbook.

One file: alarms, their topic, the dashboard, safe deploys and the runbook are one operational
contract derived from the same template resources.

Every set is derived from the template itself (each SQS queue used as an OnFailure
destination, each function with a stream event, each function, each table, each API), so a
resource added without its alarms, its canary wiring, its dashboard entry or its runbook
line fails here.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devkit.template import load_template, resources_of_type
from testkit.tools_venv import transformed_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
ALIAS = "live"
NO_ACTIONS = {"Fn::If": ["HasAlarmEmail", [{"Ref": "AlarmTopic"}], {"Ref": "AWS::NoValue"}]}
STREAM_EVENTS = ("DynamoDB", "Kinesis")

TEMPLATE_DATA = load_template()
RESOURCES: dict[str, dict[str, Any]] = TEMPLATE_DATA["Resources"]
FUNCTIONS = resources_of_type(TEMPLATE_DATA, "AWS::Serverless::Function")
TABLES = resources_of_type(TEMPLATE_DATA, "AWS::DynamoDB::Table")
APIS = resources_of_type(TEMPLATE_DATA, "AWS::Serverless::Api")
ALARMS = resources_of_type(TEMPLATE_DATA, "AWS::CloudWatch::Alarm")


def events(function: str) -> Iterator[dict[str, Any]]:
    yield from (FUNCTIONS[function]["Properties"].get("Events") or {}).values()


def failure_queues() -> set[str]:
    """Every queue an event source mapping sends its failed batches to."""
    queues = set()
    for function in FUNCTIONS:
        for event in events(function):
            config = event.get("Properties", {}).get("DestinationConfig", {})
            destination = config.get("OnFailure", {}).get("Destination")
            if destination is not None:
                assert "Fn::GetAtt" in destination, f"{function}: destination {destination}"
                queue = destination["Fn::GetAtt"][0]
                assert RESOURCES[queue]["Type"] == "AWS::SQS::Queue"
                queues.add(queue)
    return queues


def stream_consumers() -> set[str]:
    return {f for f in FUNCTIONS if any(e["Type"] in STREAM_EVENTS for e in events(f))}


def api_functions() -> set[str]:
    return {f for f in FUNCTIONS if any(e["Type"] == "Api" for e in events(f))}


def dims(metric: dict[str, Any]) -> dict[str, Any]:
    return {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])}


def alarms_on(namespace: str, metric: str, dimensions: dict[str, Any]) -> list[str]:
    """Single-metric alarms on exactly that metric and those dimensions."""
    return [
        name
        for name, alarm in ALARMS.items()
        if alarm["Properties"].get("Namespace") == namespace
        and alarm["Properties"].get("MetricName") == metric
        and dims(alarm["Properties"]) == dimensions
    ]


def the_alarm(namespace: str, metric: str, dimensions: dict[str, Any]) -> str:
    found = alarms_on(namespace, metric, dimensions)
    assert len(found) == 1, f"want one alarm on {namespace} {metric} {dimensions}: {found}"
    return found[0]


def table_throttle_alarm(table: str) -> str:
    """The metric-math alarm adding up a table's (and its indexes') throttled reads/writes."""
    wanted = {("ReadThrottleEvents", None), ("WriteThrottleEvents", None)}
    for index in TABLES[table]["Properties"].get("GlobalSecondaryIndexes", []):
        wanted |= {(m, index["IndexName"]) for m in ("ReadThrottleEvents", "WriteThrottleEvents")}
    for name, alarm in ALARMS.items():
        queries = alarm["Properties"].get("Metrics") or []
        stats = {q["Id"]: q["MetricStat"] for q in queries if "MetricStat" in q}
        seen = {
            (s["Metric"]["MetricName"], dims(s["Metric"]).get("GlobalSecondaryIndexName"))
            for s in stats.values()
            if s["Metric"]["Namespace"] == "AWS/DynamoDB"
            and dims(s["Metric"]).get("TableName") == {"Ref": table}
        }
        if not seen:
            continue
        assert seen == wanted, f"{name}: {seen} != {wanted}"
        (expression,) = [q for q in queries if q.get("ReturnData")]
        assert set(re.findall(r"[a-z_]+(?=, 0\))", expression["Expression"])) == set(stats)
        assert {s["Stat"] for s in stats.values()} == {"Sum"}
        return name
    raise AssertionError(f"{table} has no throttle alarm")


def api_alarms(api: str) -> tuple[str, str]:
    """(5XXError, Latency p99) alarms of the API's stage. API Gateway names a REST API's
    metrics after the API's name, which SAM takes from the OpenAPI title: the stack name."""
    dimensions = {
        "ApiName": {"Ref": "AWS::StackName"},
        "Stage": APIS[api]["Properties"]["StageName"],
    }
    errors = the_alarm("AWS/ApiGateway", "5XXError", dimensions)
    latency = the_alarm("AWS/ApiGateway", "Latency", dimensions)
    assert ALARMS[latency]["Properties"]["ExtendedStatistic"] == "p99"
    return errors, latency


def function_alarms(function: str) -> tuple[str, str]:
    dimensions = {"FunctionName": {"Ref": function}}
    return (
        the_alarm("AWS/Lambda", "Errors", dimensions),
        the_alarm("AWS/Lambda", "Throttles", dimensions),
    )


def iterator_age_alarm(function: str) -> str:
    return the_alarm("AWS/Lambda", "IteratorAge", {"FunctionName": {"Ref": function}})


def queue_alarm(queue: str) -> str:
    return the_alarm(
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        {"QueueName": {"Fn::GetAtt": [queue, "QueueName"]}},
    )


def expected_alarms() -> set[str]:
    found = {queue_alarm(q) for q in failure_queues()}
    found |= {iterator_age_alarm(f) for f in stream_consumers()}
    found |= {a for api in APIS for a in api_alarms(api)}
    found |= {a for f in FUNCTIONS for a in function_alarms(f)}
    return found | {table_throttle_alarm(t) for t in TABLES}


def threshold_parameters() -> set[str]:
    thresholds = (alarm["Properties"]["Threshold"] for alarm in ALARMS.values())
    return {threshold["Ref"] for threshold in thresholds if isinstance(threshold, dict)}


@pytest.fixture(scope="module")
def translated() -> dict[str, Any]:
    return transform({})


def transform(defaults: dict[str, str]) -> dict[str, Any]:
    return transformed_template(TEMPLATE, defaults)["Resources"]


# ------------------------------------------------------------------------------- alarms


def test_the_derived_sets_are_what_the_service_has_today() -> None:
    # A guard on the derivation itself: an empty set would make the tests below vacuous.
    assert failure_queues() >= {"RetentionFailureQueue"}
    assert stream_consumers() >= {"RetentionFunction"}
    assert api_functions() >= {"UploadFunction", "SignedFetchFunction", "GraphQLFunction"}
    assert set(TABLES) >= {"PhotosTable", "UsersTable"}
    assert set(APIS) == {"ProfilePhotosApi"}


@pytest.mark.parametrize("queue", sorted(failure_queues()))
def test_every_failure_queue_alarms_on_its_first_message(queue: str) -> None:
    props = ALARMS[queue_alarm(queue)]["Properties"]

    assert (props["Threshold"], props["ComparisonOperator"]) == (0, "GreaterThanThreshold")
    assert (props["Statistic"], props["Period"], props["EvaluationPeriods"]) == ("Maximum", 60, 1)


@pytest.mark.parametrize("function", sorted(stream_consumers()))
def test_every_stream_consumer_alarms_when_it_falls_behind(function: str) -> None:
    props = ALARMS[iterator_age_alarm(function)]["Properties"]

    assert props["Statistic"] == "Maximum"
    assert props["Threshold"] == {"Ref": "StreamIteratorAgeAlarmMs"}


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_every_function_alarms_on_errors_and_throttles(function: str) -> None:
    errors, throttles = function_alarms(function)

    assert ALARMS[errors]["Properties"]["Threshold"] == {"Ref": "LambdaErrorsAlarmThreshold"}
    assert ALARMS[throttles]["Properties"]["Threshold"] == {"Ref": "LambdaThrottlesAlarmThreshold"}


@pytest.mark.parametrize("table", sorted(TABLES))
def test_every_table_alarms_on_throttled_requests(table: str) -> None:
    props = ALARMS[table_throttle_alarm(table)]["Properties"]

    assert props["Threshold"] == {"Ref": "DynamoDBThrottlesAlarmThreshold"}


@pytest.mark.parametrize("api", sorted(APIS))
def test_every_api_stage_alarms_on_5xx_and_p99_latency(
    api: str, translated: dict[str, Any]
) -> None:
    errors, latency = api_alarms(api)

    assert ALARMS[errors]["Properties"]["Threshold"] == {"Ref": "Api5xxAlarmThreshold"}
    assert ALARMS[latency]["Properties"]["Threshold"] == {"Ref": "ApiLatencyP99AlarmMs"}
    # the metrics' ApiName: the deployed API is named after the stack
    assert translated[api]["Properties"]["Body"]["info"]["title"] == {"Ref": "AWS::StackName"}


def test_no_alarm_is_left_over_and_every_one_notifies_only_with_an_email() -> None:
    assert set(ALARMS) == expected_alarms()
    for name, alarm in ALARMS.items():
        props = alarm["Properties"]
        assert "Condition" not in alarm, f"{name}: alarms exist without AlarmEmail too"
        assert props["AlarmActions"] == NO_ACTIONS, name
        assert props["OKActions"] == NO_ACTIONS, name
        assert props["TreatMissingData"] == "notBreaching", name
        assert props["AlarmName"]["Fn::Sub"].startswith("${AWS::StackName}-"), name


def test_the_topic_and_its_subscription_exist_only_with_an_email() -> None:
    topic = RESOURCES["AlarmTopic"]
    assert topic["Condition"] == "HasAlarmEmail"
    assert TEMPLATE_DATA["Conditions"]["HasAlarmEmail"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmEmail"}, ""]}]
    }
    assert topic["Properties"]["Subscription"] == [
        {"Protocol": "email", "Endpoint": {"Ref": "AlarmEmail"}}
    ]
    assert TEMPLATE_DATA["Parameters"]["AlarmEmail"]["Default"] == ""
    conditional = [n for n, r in RESOURCES.items() if r.get("Condition") == "HasAlarmEmail"]
    assert conditional == ["AlarmTopic"]


def test_every_threshold_parameter_has_a_default_and_a_description() -> None:
    parameters = TEMPLATE_DATA["Parameters"]
    used = threshold_parameters()
    assert used == {
        "StreamIteratorAgeAlarmMs",
        "Api5xxAlarmThreshold",
        "ApiLatencyP99AlarmMs",
        "LambdaErrorsAlarmThreshold",
        "LambdaThrottlesAlarmThreshold",
        "DynamoDBThrottlesAlarmThreshold",
    }
    for name in used:
        assert parameters[name]["Type"] == "Number"
        assert "Default" in parameters[name], name
        assert parameters[name]["Description"], name


# ------------------------------------------------------------------------------- deploys


def test_every_function_publishes_the_live_alias(translated: dict[str, Any]) -> None:
    aliases = {
        r["Properties"]["FunctionName"]["Ref"]: r
        for r in translated.values()
        if r["Type"] == "AWS::Lambda::Alias"
    }
    assert set(aliases) == set(FUNCTIONS)
    for function, alias in aliases.items():
        assert alias["Properties"]["Name"] == ALIAS
        assert "CodeDeployLambdaAliasUpdate" in alias["UpdatePolicy"], function


def test_the_stream_consumers_mappings_invoke_the_alias(translated: dict[str, Any]) -> None:
    mappings = [r for r in translated.values() if r["Type"] == "AWS::Lambda::EventSourceMapping"]
    targets = {m["Properties"]["FunctionName"]["Ref"] for m in mappings}

    assert targets == {f"{f}Alias{ALIAS}" for f in stream_consumers()}


def test_the_api_invokes_the_alias(translated: dict[str, Any]) -> None:
    for api in APIS:
        body = json.dumps(translated[api]["Properties"]["Body"])
        uris = re.findall(r"functions/\$\{(\w+)\}/invocations", body)
        assert uris, api
        assert set(uris) == {f"{f}Alias{ALIAS}" for f in api_functions()}


def deployment_group(translated: dict[str, Any], function: str) -> dict[str, Any]:
    alias = translated[f"{function}Alias{ALIAS}"]
    name = alias["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]["DeploymentGroupName"]["Ref"]
    return translated[name]["Properties"]


def rollback_alarms(group: dict[str, Any]) -> set[str]:
    assert group["AlarmConfiguration"]["Enabled"] is True
    assert "DEPLOYMENT_STOP_ON_ALARM" in group["AutoRollbackConfiguration"]["Events"]
    assert group["AutoRollbackConfiguration"]["Enabled"] is True
    return {a["Name"]["Ref"] for a in group["AlarmConfiguration"]["Alarms"]}


@pytest.mark.parametrize("function", sorted(api_functions()))
def test_api_functions_roll_back_on_their_alarms_and_the_apis(
    function: str, translated: dict[str, Any]
) -> None:
    group = deployment_group(translated, function)
    api_side = {a for api in APIS for a in api_alarms(api)}

    assert rollback_alarms(group) == set(function_alarms(function)) | api_side
    assert FUNCTIONS[function]["Properties"]["DeploymentPreference"]["Type"] == {
        "Ref": "ApiDeploymentType"
    }


@pytest.mark.parametrize("function", sorted(stream_consumers()))
def test_stream_consumers_deploy_at_once_and_roll_back_when_they_fail_or_lag(
    function: str, translated: dict[str, Any]
) -> None:
    group = deployment_group(translated, function)

    # not on the failure queue: a message from before the deploy would block every deploy
    assert rollback_alarms(group) == {*function_alarms(function), iterator_age_alarm(function)}
    assert group["DeploymentConfigName"]["Fn::Sub"][1] == {"ConfigName": "AllAtOnce"}


def test_prod_deploys_the_api_functions_by_canary_and_dev_all_at_once() -> None:
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())

    def overrides(env: str) -> dict[str, str]:
        pairs = config[env]["deploy"]["parameters"]["parameter_overrides"]
        return dict(pair.split("=", 1) for pair in pairs)

    allowed = TEMPLATE_DATA["Parameters"]["ApiDeploymentType"]["AllowedValues"]
    assert overrides("prod")["ApiDeploymentType"] == "Canary10Percent5Minutes"
    assert overrides("dev")["ApiDeploymentType"] == "AllAtOnce"
    assert TEMPLATE_DATA["Parameters"]["ApiDeploymentType"]["Default"] == "AllAtOnce"
    assert {"Canary10Percent5Minutes", "AllAtOnce"} <= set(allowed)


def test_the_prod_setting_becomes_a_codedeploy_canary() -> None:
    # When the template is transformed with prod's ApiDeploymentType
    resources = transform({"ApiDeploymentType": "Canary10Percent5Minutes"})

    # Then every API function's deployment group is CodeDeploy's 10% / 5 minutes canary
    for function in api_functions():
        config = deployment_group(resources, function)["DeploymentConfigName"]
        assert config == {
            "Fn::Sub": [
                "CodeDeployDefault.Lambda${ConfigName}",
                {"ConfigName": "Canary10Percent5Minutes"},
            ]
        }


# ------------------------------------------------------------------------------- dashboard

METRIC_CALL = re.compile(r"add_metric\(\s*name=\"(\w+)\"")


def emitted_metrics() -> set[str]:
    names = set()
    for path in [*(ROOT / "functions").rglob("*.py"), *(ROOT / "shared").rglob("*.py")]:
        names |= set(METRIC_CALL.findall(path.read_text()))
    return names


def dashboard_body() -> str:
    (dashboard,) = resources_of_type(TEMPLATE_DATA, "AWS::CloudWatch::Dashboard").values()
    return dashboard["Properties"]["DashboardBody"]["Fn::Sub"]


def dashboard_metrics() -> list[list[Any]]:
    body = json.loads(re.sub(r"\$\{[^}]+\}", "x", dashboard_body()))
    rows = []
    for widget in body["widgets"]:
        rows += widget["properties"].get("metrics", [])
    return rows


def test_the_dashboard_shows_every_metric_the_code_emits() -> None:
    shown = {row[1] for row in dashboard_metrics() if row[0] == "ProfilePhotos"}
    emitted = emitted_metrics()

    assert emitted >= {"PhotoUploaded", "PhotoServed", "PhotosArchived", "RequestRefused"}
    assert emitted <= shown
    # Powertools metrics carry the service dimension only
    for row in dashboard_metrics():
        if row[0] == "ProfilePhotos" and row[1] != "ColdStart":
            assert row[2:4] == ["service", "profile-photos"], row


def test_the_dashboard_shows_every_functions_cold_starts() -> None:
    body = dashboard_body()
    for function in FUNCTIONS:
        assert f'"ProfilePhotos", "ColdStart", "function_name", "${{{function}}}"' in body
    # every handler is wrapped by the one entry point, which emits the cold-start metric
    entry = (ROOT / "shared/profile_photos/observability.py").read_text()
    assert "metrics.log_metrics(capture_cold_start_metric=True)" in entry
    for handler in (ROOT / "functions").glob("*/*_handler.py"):
        assert re.search(r"^@entry_point\(.*\)\ndef lambda_handler", handler.read_text(), re.M)


def test_the_dashboard_shows_every_alarm_and_its_metric() -> None:
    body = dashboard_body()
    shown = {(row[0], row[1]) for row in dashboard_metrics()}
    for name, alarm in ALARMS.items():
        assert f'"${{{name}.Arn}}"' in body, name
        props = alarm["Properties"]
        metrics = (
            [(props["Namespace"], props["MetricName"])]
            if "MetricName" in props
            else [
                (q["MetricStat"]["Metric"]["Namespace"], q["MetricStat"]["Metric"]["MetricName"])
                for q in props["Metrics"]
                if "MetricStat" in q
            ]
        )
        assert set(metrics) <= shown, name


def test_the_rate_limit_refusals_query_reads_both_refusing_functions() -> None:
    body = json.loads(re.sub(r"\$\{([^}]+)\}", r"<\1>", dashboard_body()))
    (query,) = [w["properties"]["query"] for w in body["widgets"] if w["type"] == "log"]
    assert "SOURCE '<UploadFunctionLogGroup>'" in query
    assert "SOURCE '<GraphQLFunctionLogGroup>'" in query
    assert "filter code = 'RATE_LIMITED'" in query


# ------------------------------------------------------------------------------- runbook


def runbook() -> str:
    return (ROOT / "docs" / "operations.md").read_text()


def test_the_runbook_covers_every_alarm() -> None:
    section = runbook()
    missing = [name for name in ALARMS if f"`{name}`" not in section]
    assert not missing, f"docs/operations.md does not name {missing}"
    for verb in ("sam logs", "sam traces", "make redrive", "dashboard"):
        assert verb in section, verb


def test_the_docs_document_every_operations_parameter() -> None:
    from docs.gen.hooks import expand

    text = expand((ROOT / "docs" / "deploying.md").read_text())
    for name in ("AlarmEmail", "ApiDeploymentType", *threshold_parameters()):
        assert f"`{name}`" in text, name
