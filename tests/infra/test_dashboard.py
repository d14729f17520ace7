"""Issue 19: one CloudWatch dashboard per stack, built from one definition. Its body must be JSON
CloudWatch accepts, and every metric it draws must exist: namespace and dimension values are
checked against the resources of the offline plan (and the app's namespace against the
containers' METRICS_NAMESPACE)."""

from __future__ import annotations

import json

import pytest

from infra.components import app_metrics
from infra.tools.mocks import LB_ID, mock_physical_name
from tests.infra.conftest import STACKS, containers, run_stack

DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"


def body(run) -> dict:
    (dashboard,) = run.of_type(DASHBOARD)
    return json.loads(dashboard.plain_inputs()["dashboardBody"])


def metric_rows(run) -> list[tuple[str, str, dict[str, str], dict]]:
    """(namespace, metric, dimensions, options) of every graphed metric."""
    rows = []
    for widget in body(run)["widgets"]:
        for row in widget["properties"].get("metrics", []):
            *names, options = row
            namespace, metric, *pairs = names
            assert len(pairs) % 2 == 0, row
            rows.append(
                (namespace, metric, dict(zip(pairs[::2], pairs[1::2], strict=True)), options)
            )
    return rows


def known_dimensions(run, stack: str) -> dict[str, dict[str, set[str]]]:
    """Per namespace, the values each dimension may take: what the plan's resources are."""
    alb = f"app/{mock_physical_name(run.named('web-alb'))}/{LB_ID}"
    groups = {f"targetgroup/{mock_physical_name(g)}/{LB_ID}" for g in run.of_type(TARGET_GROUP)}
    cluster = run.named("app-cluster").plain_inputs()["name"]
    service = mock_physical_name(run.named("app-service"))
    redis = run.named("cache-redis").plain_inputs()
    nodes = {
        f"{redis['replicationGroupId']}-{i:03d}" for i in range(1, redis["numCacheClusters"] + 1)
    }
    env = {e["name"]: e["value"] for e in containers(run.named("app-app"))["app"]["environment"]}
    assert env["METRICS_NAMESPACE"] == f"service/{stack}"
    return {
        "AWS/ApplicationELB": {"LoadBalancer": {alb}, "TargetGroup": groups},
        "AWS/ECS": {"ClusterName": {cluster}, "ServiceName": {service}},
        "ECS/ContainerInsights": {"ClusterName": {cluster}, "ServiceName": {service}},
        "AWS/RDS": {
            "DBInstanceIdentifier": {run.named("database-instance").plain_inputs()["identifier"]}
        },
        "AWS/ElastiCache": {"CacheClusterId": nodes},
        env["METRICS_NAMESPACE"]: {
            app_metrics.OUTCOME: {*app_metrics.WEBHOOK_OUTCOMES, *app_metrics.WORKER_OUTCOMES}
        },
    }


@pytest.mark.parametrize("stack", STACKS)
def test_every_metric_names_a_namespace_and_dimensions_of_this_stack(stack):
    run = run_stack(stack)
    known = known_dimensions(run, stack)
    for namespace, metric, dimensions, _ in metric_rows(run):
        assert namespace in known, (namespace, metric)
        for name, value in dimensions.items():
            assert value in known[namespace].get(name, set()), (metric, name, value)


@pytest.mark.parametrize("stack", STACKS)
def test_each_dimension_set_is_one_the_metric_is_published_with(stack):
    """CloudWatch matches dimension sets exactly: a subset or superset draws nothing."""
    published = {
        "AWS/ApplicationELB": [{"LoadBalancer"}, {"LoadBalancer", "TargetGroup"}],
        "AWS/ECS": [{"ClusterName", "ServiceName"}],
        "ECS/ContainerInsights": [{"ClusterName", "ServiceName"}],
        "AWS/RDS": [{"DBInstanceIdentifier"}],
        "AWS/ElastiCache": [{"CacheClusterId"}],
    }
    app = {  # the contract with service/ (infra/components/app_metrics.py)
        app_metrics.RATE_LIMIT_REFUSALS: [set(), {"Limit"}],
        app_metrics.LIMITER_FAILURES: [set()],
        app_metrics.DATABASE_UNAVAILABLE: [set()],
        app_metrics.WEBHOOK_DELIVERIES: [{"Outcome"}],
        app_metrics.WORKER_RUNS: [{"Outcome"}],
        app_metrics.WORKER_RUN_DURATION: [{"Outcome"}],
    }
    for namespace, metric, dimensions, _ in metric_rows(run_stack(stack)):
        sets = app[metric] if namespace == f"service/{stack}" else published[namespace]
        assert set(dimensions) in sets, (namespace, metric, dimensions)


def test_the_dashboard_covers_traffic_tasks_data_stores_and_the_app(prod):
    drawn = {(namespace, metric) for namespace, metric, _, _ in metric_rows(prod)}
    app = "service/prod"
    assert drawn >= {
        ("AWS/ApplicationELB", "RequestCount"),
        ("AWS/ApplicationELB", "TargetResponseTime"),
        ("AWS/ApplicationELB", "HTTPCode_Target_4XX_Count"),
        ("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count"),
        ("AWS/ApplicationELB", "HealthyHostCount"),
        ("AWS/ApplicationELB", "UnHealthyHostCount"),
        ("AWS/ECS", "CPUUtilization"),
        ("AWS/ECS", "MemoryUtilization"),
        ("ECS/ContainerInsights", "RunningTaskCount"),
        ("AWS/RDS", "CPUUtilization"),
        ("AWS/RDS", "DatabaseConnections"),
        ("AWS/RDS", "FreeStorageSpace"),
        ("AWS/ElastiCache", "EngineCPUUtilization"),
        ("AWS/ElastiCache", "DatabaseMemoryUsagePercentage"),
        ("AWS/ElastiCache", "CurrConnections"),
        (app, "RateLimitRefusals"),
        (app, "WorkerRuns"),
        (app, "WebhookDeliveries"),
    }
    stats = {o["stat"] for _, m, _, o in metric_rows(prod) if m == "TargetResponseTime"}
    assert stats == {"p50", "p99"}
    outcomes = {d.get("Outcome") for _, m, d, _ in metric_rows(prod) if m == "WorkerRuns"}
    assert outcomes == {"success", "failed"}
    webhooks = {d.get("Outcome") for _, m, d, _ in metric_rows(prod) if m == "WebhookDeliveries"}
    assert webhooks >= {"failed", "dead"}


def test_both_target_groups_are_drawn_with_blue_green(prod, staging):
    def groups(run):
        return {d["TargetGroup"] for _, m, d, _ in metric_rows(run) if m == "UnHealthyHostCount"}

    assert len(groups(prod)) == 2 and len(groups(staging)) == 1


@pytest.mark.parametrize("stack", STACKS)
def test_at_least_eight_widgets_laid_out_on_the_grid(stack):
    widgets = body(run_stack(stack))["widgets"]
    graphs = [w for w in widgets if w["type"] == "metric"]
    assert len(graphs) >= 8
    for w in widgets:
        assert w["x"] >= 0 and w["x"] + w["width"] <= 24, w
        assert w["properties"]["title"]
    for w in graphs:
        assert w["properties"]["region"] == "us-east-1"
        assert w["properties"]["metrics"]
    places = [(w["x"], w["y"]) for w in widgets]
    assert len(places) == len(set(places)), "two widgets on one spot"


def test_prod_shows_the_release_alarms_first(prod):
    first = body(prod)["widgets"][0]
    assert first["type"] == "alarm"
    arns = first["properties"]["alarms"]
    prefix = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:"
    assert all(a.startswith(prefix) for a in arns), arns
    names = sorted(a.removeprefix(prefix) for a in arns)
    assert names == sorted(prod.named("app-service").plain_inputs()["alarms"]["alarmNames"])


@pytest.mark.parametrize("stack", STACKS)
def test_the_dashboard_url_is_a_stack_output(stack):
    run = run_stack(stack)
    (dashboard,) = run.of_type(DASHBOARD)
    assert dashboard.plain_inputs()["dashboardName"] == f"service-{stack}"
    assert run.outputs["dashboardUrl"] == (
        "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1"
        f"#dashboards/dashboard/service-{stack}"
    )
