"""Issue 19: how a release reaches users. Prod deploys canary (ECS shifts the production listener
rule between two target groups and rolls back on the release alarms); dev and staging keep the
rolling update. Checked on the offline plans, including what ECS changes afterwards."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest

from infra.components import app_metrics
from infra.tools.mocks import LB_ID, mock_identity, mock_physical_name
from tests.infra.conftest import containers, run_stack
from tests.infra.test_config import config_error

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
RELEASE_ALARMS = (
    "release-5xx-rate",
    "release-p99-latency",
    "release-unhealthy-hosts",
    "release-dependency-errors",
)
INFRASTRUCTURE_POLICY = "arn:aws:iam::aws:policy/AmazonECSInfrastructureRolePolicyForLoadBalancers"


def service(run) -> dict:
    return run.named("app-service").plain_inputs()


def listener_arn(run, name: str) -> str:
    """The mock ARN of listener ``name`` (``listener/app/<lb>/<lb id>/<identity>``)."""
    listener = run.named(name)
    return (
        f"arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/{alb_suffix(run)}/"
        f"{mock_identity(listener.type, listener.name, listener.inputs)}"
    )


def target_group_arn(run, name: str) -> str:
    return (
        f"arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/"
        f"{mock_physical_name(run.named(name))}/{LB_ID}"
    )


def target_group_suffix(run, name: str) -> str:
    return f"targetgroup/{mock_physical_name(run.named(name))}/{LB_ID}"


def alb_suffix(run) -> str:
    return f"app/{mock_physical_name(run.named('web-alb'))}/{LB_ID}"


# ---- prod: canary -------------------------------------------------------------------------------
def test_prod_deploys_canary_with_its_bakes(prod):
    config = service(prod)["deploymentConfiguration"]
    assert config == {
        "strategy": "CANARY",
        "bakeTimeInMinutes": "5",
        "canaryConfiguration": {"canaryPercent": 10, "canaryBakeTimeInMinutes": "5"},
    }


def test_prod_names_the_alternate_group_the_production_rule_and_ecs_role(prod):
    (lb,) = service(prod)["loadBalancers"]
    assert lb["targetGroupArn"] == target_group_arn(prod, "web-tg")
    advanced = lb["advancedConfiguration"]
    assert advanced["alternateTargetGroupArn"] == target_group_arn(prod, "web-tg-alt")
    listener = listener_arn(prod, "web-https")
    assert advanced["productionListenerRule"].startswith(
        listener.replace(":listener/app/", ":listener-rule/app/") + "/"
    )
    role = prod.named("app-ecs-infrastructure", "aws:iam/role:Role")
    assert advanced["roleArn"] == (
        f"arn:aws:iam::123456789012:role/service-prod/{mock_physical_name(role)}"
    )
    assert "testListenerRule" not in advanced


def test_a_bad_release_is_rolled_back_on_the_release_alarms_and_the_circuit_breaker(prod):
    svc = service(prod)
    names = sorted(prod.named(f"alarms-{key}").plain_inputs()["name"] for key in RELEASE_ALARMS)
    assert names == [f"service-prod-{key}" for key in sorted(RELEASE_ALARMS)]
    assert sorted(svc["alarms"]["alarmNames"]) == names
    assert svc["alarms"]["enable"] is True and svc["alarms"]["rollback"] is True
    # tasks that never become healthy are still caught before any alarm has data
    assert svc["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}


def test_the_production_rule_forwards_everything_to_both_groups_at_100_and_0(prod):
    rule = prod.named("web-production").plain_inputs()
    assert rule["priority"] == 1
    assert rule["conditions"] == [{"pathPattern": {"values": ["/*"]}}]
    (action,) = rule["actions"]
    assert action["type"] == "forward"
    assert action["forward"]["targetGroups"] == [
        {"arn": target_group_arn(prod, "web-tg"), "weight": 100},
        {"arn": target_group_arn(prod, "web-tg-alt"), "weight": 0},
    ]


def test_the_rule_sits_on_the_https_listener_and_the_service_waits_for_it(prod):
    rule = prod.named("web-production")
    assert rule.plain_inputs()["listenerArn"] == listener_arn(prod, "web-https")
    assert rule.urn in prod.named("app-service").dependencies
    managed = prod.named(
        "app-ecs-infrastructure-managed", "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
    )
    assert managed.plain_inputs()["policyArn"] == INFRASTRUCTURE_POLICY
    assert managed.urn in prod.named("app-service").dependencies


def test_both_target_groups_check_health_alike(prod):
    blue, green = (prod.named(n).plain_inputs() for n in ("web-tg", "web-tg-alt"))
    assert blue == green


def test_only_ecs_may_assume_the_infrastructure_role(prod):
    role = prod.named("app-ecs-infrastructure", "aws:iam/role:Role").plain_inputs()
    assert role["path"] == "/service-prod/"
    (trust,) = json.loads(role["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"Service": "ecs.amazonaws.com"}
    assert trust["Action"] == "sts:AssumeRole"


def test_pulumi_up_waits_for_both_bakes(prod):
    svc = prod.named("app-service")
    assert svc.plain_inputs()["waitForSteadyState"] is True
    assert svc.custom_timeouts["update"] == "30m"  # 20 + 5 (canary bake) + 5 (bake)


# ---- the release alarms -------------------------------------------------------------------------
def release_alarm(run, key: str) -> dict:
    return run.named(f"alarms-{key}").plain_inputs()


def test_release_alarms_are_quick_and_quiet_without_traffic(prod):
    for key in RELEASE_ALARMS:
        alarm = release_alarm(prod, key)
        assert alarm["treatMissingData"] == "notBreaching", key
        assert alarm["evaluationPeriods"] <= 3 and alarm["datapointsToAlarm"] == 2, key
        periods = {q["metric"]["period"] for q in alarm["metricQueries"] if "metric" in q}
        assert periods == {60}, key
        assert alarm["alarmActions"] == [prod.outputs["alarmTopicArn"]], key


@pytest.mark.parametrize(
    ("key", "metric", "stat", "threshold"),
    [
        ("release-5xx-rate", "HTTPCode_Target_5XX_Count", "Sum", 5),
        ("release-p99-latency", "TargetResponseTime", "p99", 2),
        ("release-unhealthy-hosts", "UnHealthyHostCount", "Maximum", 1),
    ],
)
def test_each_release_alarm_takes_the_worst_of_both_target_groups(
    prod, key, metric, stat, threshold
):
    """The new revision serves from whichever group was idle: each alarm reads both groups of
    this load balancer (dimensions as in the plan) and takes the worse one."""
    alarm = release_alarm(prod, key)
    assert alarm["threshold"] == threshold
    queries = {q["id"]: q for q in alarm["metricQueries"]}
    groups = {target_group_suffix(prod, n) for n in ("web-tg", "web-tg-alt")}
    measured = [
        q["metric"] for q in queries.values() if q.get("metric", {}).get("metricName") == metric
    ]
    assert {m["dimensions"]["TargetGroup"] for m in measured} == groups
    for m in measured:
        assert m["namespace"] == "AWS/ApplicationELB" and m["stat"] == stat
        assert m["dimensions"]["LoadBalancer"] == alb_suffix(prod)
    (result,) = [q for q in queries.values() if q.get("returnData")]
    assert result["expression"].startswith("MAX([")
    for query in queries.values():  # every id an expression names is a query of the alarm
        for ref in re.findall(r"\b([a-z]\w*)\b", query.get("expression", "")):
            assert ref in queries or ref in {"FILL", "IF", "MAX"} or ref.isupper(), (key, ref)


def test_a_release_that_cannot_reach_its_dependencies_is_rolled_back_on_the_app_metrics(prod):
    """The app's own EMF metrics, in the namespace its containers write to (as in the plan),
    with the dimension set they are published with (none)."""
    alarm = release_alarm(prod, "release-dependency-errors")
    assert alarm["threshold"] == 5
    queries = {q["id"]: q for q in alarm["metricQueries"]}
    metrics = {q["metric"]["metricName"]: q["metric"] for q in queries.values() if "metric" in q}
    assert set(metrics) == {app_metrics.DATABASE_UNAVAILABLE, app_metrics.LIMITER_FAILURES}
    for metric in metrics.values():
        assert metric["namespace"] == "service/prod" and metric["stat"] == "Sum"
        assert not metric.get("dimensions"), metric
    (result,) = [q for q in queries.values() if q.get("returnData")]
    assert result["expression"] == "FILL(database, 0) + FILL(limiter, 0)"
    assert set(re.findall(r"\b([a-z]\w*)\b", result["expression"])) <= set(queries)
    run = run_stack("prod", alarms={"releaseDependencyErrors": 20})
    assert release_alarm(run, "release-dependency-errors")["threshold"] == 20


def test_rates_and_latency_count_only_groups_with_enough_requests(prod):
    for key in ("release-5xx-rate", "release-p99-latency"):
        expressions = [
            q["expression"] for q in release_alarm(prod, key)["metricQueries"] if "expression" in q
        ]
        per_group = [e for e in expressions if e.startswith("IF(")]
        assert len(per_group) == 2, (key, expressions)
        assert all(">= 10," in e for e in per_group), per_group


def test_release_alarm_thresholds_come_from_the_stack_config():
    run = run_stack("prod", alarms={"release5xxPercent": 1.5, "releaseP99Seconds": 0.8})
    assert release_alarm(run, "release-5xx-rate")["threshold"] == 1.5
    assert release_alarm(run, "release-p99-latency")["threshold"] == 0.8


# ---- what ECS changes after a deployment, and what the next `pulumi up` does ---------------------
def changed_paths(old: Any, new: Any, path: str = "") -> list[str]:
    """Property paths (Pulumi's syntax: ``a.b[0].c``) whose values differ."""
    if isinstance(old, dict) and isinstance(new, dict):
        return [
            p
            for key in sorted(set(old) | set(new))
            for p in changed_paths(old.get(key), new.get(key), f"{path}.{key}" if path else key)
        ]
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [
            p
            for i, (o, n) in enumerate(zip(old, new, strict=True))
            for p in changed_paths(o, n, f"{path}[{i}]")
        ]
    return [] if old == new else [path]


def ignored(path: str, ignore_changes: list[str]) -> bool:
    """Whether Pulumi's ignoreChanges entries cover ``path`` (``[*]`` matches any index; an
    entry covers everything under it)."""
    for entry in ignore_changes:
        pattern = re.escape(entry).replace(r"\[\*\]", r"\[\d+\]")
        if re.fullmatch(pattern + r"(\..+|\[\d+\].*)?", path):
            return True
    return False


def after_a_deployment(run) -> dict[str, tuple[dict, dict]]:
    """The program's inputs, and what AWS reports after one canary deployment: the new tasks
    served from the alternate group, so ECS swapped the service's two groups and left the
    production rule at 0 / 100."""
    svc = service(run)
    deployed = copy.deepcopy(svc)
    lb = deployed["loadBalancers"][0]
    advanced = lb["advancedConfiguration"]
    lb["targetGroupArn"], advanced["alternateTargetGroupArn"] = (
        advanced["alternateTargetGroupArn"],
        lb["targetGroupArn"],
    )
    rule = run.named("web-production").plain_inputs()
    shifted = copy.deepcopy(rule)
    for group in shifted["actions"][0]["forward"]["targetGroups"]:
        group["weight"] = 100 - group["weight"]
    return {"app-service": (svc, deployed), "web-production": (rule, shifted)}


def test_the_next_pulumi_up_leaves_what_ecs_changed_alone(prod):
    for name, (program, cloud) in after_a_deployment(prod).items():
        drift = changed_paths(program, cloud)
        assert drift, name
        ignore = prod.named(name).ignore_changes
        assert [p for p in drift if not ignored(p, ignore)] == [], (name, drift, ignore)


def test_the_program_still_owns_everything_else_of_the_service_and_the_rule(prod):
    """Ignored are exactly the target groups' order and the rule's actions: a new task definition,
    the alarms or the bake times still reach ECS."""
    svc = prod.named("app-service").ignore_changes
    assert sorted(svc) == sorted(
        [
            "desiredCount",
            "loadBalancers[*].targetGroupArn",
            "loadBalancers[*].advancedConfiguration.alternateTargetGroupArn",
        ]
    )
    assert prod.named("web-production").ignore_changes == ["actions"]
    for path in ("taskDefinition", "alarms.alarmNames[0]", "deploymentConfiguration.strategy"):
        assert not ignored(path, svc), path


# ---- dev and staging: rolling -------------------------------------------------------------------
@pytest.mark.parametrize("stack", ["dev", "staging"])
def test_dev_and_staging_keep_the_rolling_update(stack):
    run = run_stack(stack)
    svc = service(run)
    assert svc["deploymentConfiguration"] == {"strategy": "ROLLING"}
    assert svc["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    assert "alarms" not in svc
    (lb,) = svc["loadBalancers"]
    assert "advancedConfiguration" not in lb
    assert lb["targetGroupArn"] == target_group_arn(run, "web-tg")
    for absent in ("web-tg-alt", "web-production", "app-ecs-infrastructure"):
        assert run.find(absent) is None, (stack, absent)
    assert not [a for a in run.of_type(ALARM) if "release" in a.name]
    assert run.named("app-service").ignore_changes == ["desiredCount"]
    assert run.named("app-service").custom_timeouts["update"] == "20m"


def test_blue_green_moves_all_traffic_at_once_then_bakes():
    run = run_stack("prod", deploymentStrategy="blue_green", bakeTimeMinutes=15)
    assert service(run)["deploymentConfiguration"] == {
        "strategy": "BLUE_GREEN",
        "bakeTimeInMinutes": "15",
    }
    assert run.find("web-production") is not None
    assert run.named("app-service").custom_timeouts["update"] == "35m"


def test_any_stack_may_choose_canary():
    run = run_stack("staging", deploymentStrategy="canary", canaryPercent=2.5)
    config = service(run)["deploymentConfiguration"]
    assert config["canaryConfiguration"] == {"canaryPercent": 2.5, "canaryBakeTimeInMinutes": "5"}
    # staging has no certificate: the production listener is the HTTP one
    rule = run.named("web-production").plain_inputs()
    assert rule["listenerArn"] == listener_arn(run, "web-http")


# ---- configuration ------------------------------------------------------------------------------
def test_an_unknown_strategy_names_the_key_the_stack_and_the_choices():
    assert config_error("prod", deploymentStrategy="linear") == (
        "service:deploymentStrategy in stack 'prod': expected one of rolling, blue_green, "
        "canary, got 'linear'"
    )


@pytest.mark.parametrize("key", ["bakeTimeMinutes", "canaryBakeTimeMinutes"])
def test_a_bake_shorter_than_five_minutes_is_refused(key):
    assert config_error("prod", **{key: 4}) == (
        f"service:{key} in stack 'prod': expected an integer >= 5, got 4"
    )


@pytest.mark.parametrize("value", [0, 0.05, 12.34, 100.5, "ten", "nan", "inf"])
def test_a_canary_share_ecs_would_refuse_is_refused(value):
    message = config_error("prod", canaryPercent=value)
    assert message.startswith(
        "service:canaryPercent in stack 'prod': expected a percentage from 0.1 to 100 in steps "
        "of 0.1, got "
    ), message


# ---- the app's metrics namespace ----------------------------------------------------------------
@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_every_container_of_the_image_writes_metrics_to_the_stacks_namespace(stack):
    run = run_stack(stack)
    for task_definition in ("app-app", "worker-worker"):
        for name, container in containers(run.named(task_definition)).items():
            env = {e["name"]: e["value"] for e in container["environment"]}
            assert env["METRICS_NAMESPACE"] == f"service/{stack}", (task_definition, name)
            assert env["LOG_JSON"] == "true"  # EMF lines are JSON log lines
