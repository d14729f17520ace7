"""One CloudWatch dashboard per stack: traffic, latency, errors and targets at the load balancer,
the service's tasks, the database, the cache, the app's own metrics and the release alarms.

Every widget is a :class:`Widget` in :func:`widgets`, the one definition of the dashboard;
:func:`body` renders them into the dashboard body JSON (tests/infra/test_dashboard.py checks each
metric against the resources of the plan)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.components import app_metrics as app

ELB = "AWS/ApplicationELB"
WIDTH, HEIGHT, COLUMNS = 12, 6, 2  # the grid is 24 units wide


@dataclass(frozen=True)
class DashboardArgs:
    name: str  # the dashboard's name: the stack's prefix
    region: str
    app_namespace: str  # METRICS_NAMESPACE of the stack's containers
    alb_arn_suffix: pulumi.Input[str]
    target_group_arn_suffixes: Sequence[pulumi.Input[str]]  # two with blue/green
    cluster_name: pulumi.Input[str]
    service_name: pulumi.Input[str]
    db_identifier: pulumi.Input[str]
    cache_node_ids: Sequence[str]
    release_alarm_arns: Sequence[pulumi.Input[str]] = ()  # blue/green, canary


@dataclass(frozen=True)
class Metric:
    namespace: str
    name: str
    dimensions: tuple[tuple[str, pulumi.Input[str]], ...] = ()
    stat: str = "Sum"
    label: str | None = None
    right: bool = False  # on the right y axis (another unit than the left one)

    def row(self) -> list:
        """The widget's ``metrics`` entry: namespace, name, dimension pairs, options."""
        options: dict = {"stat": self.stat}
        if self.label:
            options["label"] = self.label
        if self.right:
            options["yAxis"] = "right"
        return [self.namespace, self.name, *(v for pair in self.dimensions for v in pair), options]


@dataclass(frozen=True)
class Widget:
    title: str
    metrics: tuple[Metric, ...] = ()
    alarm_arns: tuple[pulumi.Input[str], ...] = ()  # an alarm status widget instead of a graph


def widgets(a: DashboardArgs) -> list[Widget]:
    """The dashboard, top left to bottom right, two widgets a row."""
    alb = (("LoadBalancer", a.alb_arn_suffix),)
    ecs = (("ClusterName", a.cluster_name), ("ServiceName", a.service_name))
    rds = (("DBInstanceIdentifier", a.db_identifier),)
    groups = [
        (f"tg{i + 1}", (("TargetGroup", suffix), ("LoadBalancer", a.alb_arn_suffix)))
        for i, suffix in enumerate(a.target_group_arn_suffixes)
    ]
    ns = a.app_namespace
    found: list[Widget] = [
        Widget("Requests", (Metric(ELB, "RequestCount", alb, label="requests"),)),
        Widget(
            "Target response time (s)",
            (
                Metric(ELB, "TargetResponseTime", alb, "p50", "p50"),
                Metric(ELB, "TargetResponseTime", alb, "p99", "p99"),
            ),
        ),
        Widget(
            "4xx and 5xx responses",
            (
                Metric(ELB, "HTTPCode_Target_4XX_Count", alb, label="target 4xx"),
                Metric(ELB, "HTTPCode_Target_5XX_Count", alb, label="target 5xx"),
                Metric(ELB, "HTTPCode_ELB_5XX_Count", alb, label="load balancer 5xx"),
            ),
        ),
        Widget(
            "Healthy and unhealthy targets",
            tuple(
                Metric(ELB, name, dims, stat, f"{label} {tg}")
                for tg, dims in groups
                for name, stat, label in (
                    ("HealthyHostCount", "Minimum", "healthy"),
                    ("UnHealthyHostCount", "Maximum", "unhealthy"),
                )
            ),
        ),
        Widget(
            "Service CPU and memory (%)",
            (
                Metric("AWS/ECS", "CPUUtilization", ecs, "Average", "CPU"),
                Metric("AWS/ECS", "MemoryUtilization", ecs, "Average", "memory"),
            ),
        ),
        Widget(
            "Running tasks",
            (Metric("ECS/ContainerInsights", "RunningTaskCount", ecs, "Average", "running"),),
        ),
        Widget(
            "Database CPU (%) and connections",
            (
                Metric("AWS/RDS", "CPUUtilization", rds, "Average", "CPU"),
                Metric("AWS/RDS", "DatabaseConnections", rds, "Maximum", "connections", True),
            ),
        ),
        Widget(
            "Database free storage (bytes)",
            (Metric("AWS/RDS", "FreeStorageSpace", rds, "Minimum", "free storage"),),
        ),
        Widget(
            "Redis CPU and memory (%), connections",
            tuple(
                Metric("AWS/ElastiCache", name, (("CacheClusterId", node),), stat, label, right)
                for node in a.cache_node_ids
                for name, stat, label, right in (
                    ("EngineCPUUtilization", "Average", f"engine CPU {node}", False),
                    ("DatabaseMemoryUsagePercentage", "Maximum", f"memory {node}", False),
                    ("CurrConnections", "Maximum", f"connections {node}", True),
                )
            ),
        ),
        Widget(
            "Rate-limit refusals, limiter and database failures",
            (
                Metric(ns, app.RATE_LIMIT_REFUSALS, label="rate-limit refusals"),
                Metric(ns, app.LIMITER_FAILURES, label="limiter failures (Redis)"),
                Metric(ns, app.DATABASE_UNAVAILABLE, label="503: database unavailable"),
            ),
        ),
        Widget(
            "Worker runs",
            (
                *(
                    Metric(ns, app.WORKER_RUNS, ((app.OUTCOME, o),), label=o)
                    for o in app.WORKER_OUTCOMES
                ),
                Metric(
                    ns,
                    app.WORKER_RUN_DURATION,
                    ((app.OUTCOME, "success"),),
                    "Average",
                    "average ms (success)",
                    True,
                ),
            ),
        ),
        Widget(
            "Webhook deliveries",
            tuple(
                Metric(ns, app.WEBHOOK_DELIVERIES, ((app.OUTCOME, o),), label=o)
                for o in app.WEBHOOK_OUTCOMES
            ),
        ),
    ]
    if a.release_alarm_arns:
        found.insert(0, Widget("Release alarms", alarm_arns=tuple(a.release_alarm_arns)))
    return found


def body(items: Sequence[Widget], region: str) -> dict:
    """The dashboard body (CloudWatch's dashboard body structure)."""
    rendered = []
    for i, w in enumerate(items):
        place = {"x": (i % COLUMNS) * WIDTH, "y": (i // COLUMNS) * HEIGHT}
        size = {"width": WIDTH, "height": HEIGHT}
        if w.alarm_arns:
            properties = {"title": w.title, "alarms": list(w.alarm_arns)}
            rendered.append({"type": "alarm", **place, **size, "properties": properties})
            continue
        properties = {
            "title": w.title,
            "region": region,
            "view": "timeSeries",
            "stacked": False,
            "period": 60,
            "metrics": [m.row() for m in w.metrics],
        }
        rendered.append({"type": "metric", **place, **size, "properties": properties})
    return {"widgets": rendered}


class Dashboard(pulumi.ComponentResource):
    """The stack's dashboard; ``url`` opens it in the console."""

    def __init__(self, name: str, args: DashboardArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("service:infra:Dashboard", name, None, opts)
        self.dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=args.name,
            dashboard_body=pulumi.Output.json_dumps(body(widgets(args), args.region)),
            opts=pulumi.ResourceOptions(parent=self),
        )
        region = args.region
        self.url = pulumi.Output.concat(
            f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}",
            "#dashboards/dashboard/",
            self.dashboard.dashboard_name,
        )
        self.register_outputs({"url": self.url})
