"""CloudWatch alarms for the load balancer, the service, the database, the cache and the worker's
dead-letter queue, to SNS; and the release alarms a blue/green or canary deployment rolls back on.

Every alarm is declared as data: an :class:`AlarmSpec` (what it watches, when it fires), one
function per thing watched returning its specs; the component only creates them, all alike.

The component is built in two steps: :class:`Alarms` itself before the service (the service names
the release alarms, and a deployment needs them to exist), :meth:`Alarms.watch_service` after it
(the service's own alarms need its name)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.components import app_metrics

GIB = 1024**3
ELB = "AWS/ApplicationELB"
# A release alarm ignores a target group that served fewer requests than this in a minute: one
# error among three requests is no rate, and a canary share of a quiet minute is that small.
RELEASE_MIN_REQUESTS = 10

MetricQuery = aws.cloudwatch.MetricAlarmMetricQueryArgs


@dataclass(frozen=True)
class AlarmThresholds:
    """What each alarm fires above (or below): the defaults, overridden per stack by the config
    map ``service:alarms`` (keys in camelCase, e.g. ``alb5xxPercent``)."""

    alb_5xx_percent: float = 5.0
    unhealthy_hosts: int = 1
    target_response_p95_seconds: float = 1.0
    service_cpu_percent: float = 85.0
    service_memory_percent: float = 85.0
    db_cpu_percent: float = 80.0
    db_free_storage_gib: float = 2.0
    db_connections: int = 80
    redis_memory_percent: float = 80.0
    # The release alarms a blue/green or canary deployment rolls back on (per target group).
    release_5xx_percent: float = 5.0
    release_p99_seconds: float = 2.0
    # The app's own count of requests it could not serve for want of PostgreSQL or Redis (its
    # EMF metrics), a minute: a release with a wrong database or Redis setting.
    release_dependency_errors: int = 5


@dataclass(frozen=True)
class AlarmsArgs:
    thresholds: AlarmThresholds
    email: str | None
    external_topic_arn: str | None  # an existing topic (PagerDuty, Chatbot): notified as well
    alb_arn_suffix: pulumi.Input[str]
    # Every target group that can hold the serving tasks (two with blue/green: either is live).
    target_group_arn_suffixes: Sequence[pulumi.Input[str]]
    db_identifier: pulumi.Input[str]
    cache_node_ids: Sequence[str]
    prefix: str = "service"  # the release alarms are named <prefix>-release-...
    release_alarms: bool = False  # blue/green or canary: the alarms the deployment rolls back on
    app_namespace: str = "service/local"  # METRICS_NAMESPACE of the stack's containers


@dataclass(frozen=True)
class AlarmSpec:
    """One alarm: a single metric (``namespace``, ``metric_name``, ``dimensions`` and a
    statistic, over ``period`` seconds) or metric math (``metric_queries``, one-minute metrics).
    Missing data never breaches."""

    key: str  # the alarm resource is <component name>-<key>
    description: str
    threshold: float
    evaluation_periods: int
    comparison: str = "GreaterThanThreshold"
    datapoints_to_alarm: int | None = None
    period: int = 60
    namespace: str | None = None
    metric_name: str | None = None
    dimensions: Mapping[str, pulumi.Input[str]] | None = None
    statistic: str | None = None
    extended_statistic: str | None = None
    metric_queries: Sequence[MetricQuery] | None = None
    alarm_name: str | None = None  # a fixed name (the release alarms: the ECS service names them)


def metric(mid: str, namespace: str, metric_name: str, dimensions: dict, stat: str = "Sum"):
    return MetricQuery(
        id=mid,
        metric=aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(
            namespace=namespace,
            metric_name=metric_name,
            dimensions=dimensions,
            stat=stat,
            period=60,
        ),
    )


def expression(mid: str, text: str, label: str | None = None, *, result: bool = False):
    return MetricQuery(id=mid, expression=text, label=label, return_data=True if result else None)


def worst_group(
    alb_arn_suffix: pulumi.Input[str],
    target_group_arn_suffixes: Sequence[pulumi.Input[str]],
    metric_name: str,
    stat: str,
    per_request: str | None = None,
    label: str | None = None,
) -> list[MetricQuery]:
    """Metric math: the worst value of ``metric_name`` over the target groups.

    Without ``per_request`` each group's value is taken as it is (missing = 0). With it (a
    template over ``{m}``, the group's metric, and ``{i}``, its index) a group counts only in
    minutes with at least ``RELEASE_MIN_REQUESTS`` requests, else as 0.
    """
    queries: list[MetricQuery] = []
    values: list[str] = []
    for i, suffix in enumerate(target_group_arn_suffixes):
        dims = {"LoadBalancer": alb_arn_suffix, "TargetGroup": suffix}
        mid = f"m{i}"
        queries.append(metric(mid, ELB, metric_name, dims, stat))
        if per_request is None:
            values.append(f"FILL({mid}, 0)")
            continue
        queries.append(metric(f"requests{i}", ELB, "RequestCount", dims))
        value = per_request.format(m=mid, i=i)
        queries.append(
            expression(f"g{i}", f"IF(FILL(requests{i}, 0) >= {RELEASE_MIN_REQUESTS}, {value}, 0)")
        )
        values.append(f"g{i}")
    queries.append(expression("worst", f"MAX([{', '.join(values)}])", label, result=True))
    return queries


# ---- the alarms, by what they watch ---------------------------------------------------------
def load_balancer_alarms(
    t: AlarmThresholds,
    alb_arn_suffix: pulumi.Input[str],
    target_group_arn_suffixes: Sequence[pulumi.Input[str]],
) -> list[AlarmSpec]:
    alb = {"LoadBalancer": alb_arn_suffix}
    return [
        AlarmSpec(
            "alb-5xx-rate",
            f"More than {t.alb_5xx_percent:g}% of requests answered 5xx (target or ALB)",
            threshold=t.alb_5xx_percent,
            evaluation_periods=5,
            datapoints_to_alarm=3,
            metric_queries=[
                metric("target5xx", ELB, "HTTPCode_Target_5XX_Count", alb),
                metric("elb5xx", ELB, "HTTPCode_ELB_5XX_Count", alb),
                metric("requests", ELB, "RequestCount", alb),
                expression(
                    "rate",
                    "100 * (FILL(target5xx, 0) + FILL(elb5xx, 0)) / requests",
                    "5xx percent",
                    result=True,
                ),
            ],
        ),
        AlarmSpec(
            "unhealthy-hosts",
            "Targets failing the /health check",
            threshold=t.unhealthy_hosts,
            comparison="GreaterThanOrEqualToThreshold",
            evaluation_periods=3,
            metric_queries=worst_group(
                alb_arn_suffix, target_group_arn_suffixes, "UnHealthyHostCount", "Maximum"
            ),
        ),
        AlarmSpec(
            "target-response-p95",
            f"p95 target response time above {t.target_response_p95_seconds:g} s",
            # The load balancer's figure: it covers whichever target group is live.
            namespace=ELB,
            metric_name="TargetResponseTime",
            dimensions=alb,
            extended_statistic="p95",
            threshold=t.target_response_p95_seconds,
            evaluation_periods=5,
            datapoints_to_alarm=3,
        ),
    ]


def database_alarms(t: AlarmThresholds, db_identifier: pulumi.Input[str]) -> list[AlarmSpec]:
    rds = {"DBInstanceIdentifier": db_identifier}
    return [
        AlarmSpec(
            "db-cpu",
            f"Database CPU above {t.db_cpu_percent:g}%",
            namespace="AWS/RDS",
            metric_name="CPUUtilization",
            dimensions=rds,
            statistic="Average",
            threshold=t.db_cpu_percent,
            evaluation_periods=5,
        ),
        AlarmSpec(
            "db-free-storage",
            f"Database free storage below {t.db_free_storage_gib:g} GiB",
            namespace="AWS/RDS",
            metric_name="FreeStorageSpace",
            dimensions=rds,
            statistic="Minimum",
            threshold=t.db_free_storage_gib * GIB,
            comparison="LessThanThreshold",
            evaluation_periods=1,
            period=300,
        ),
        AlarmSpec(
            "db-connections",
            f"More than {t.db_connections} database connections",
            namespace="AWS/RDS",
            metric_name="DatabaseConnections",
            dimensions=rds,
            statistic="Maximum",
            threshold=t.db_connections,
            evaluation_periods=5,
        ),
    ]


def cache_alarms(t: AlarmThresholds, node_ids: Sequence[str]) -> list[AlarmSpec]:
    """One per Redis node (``<group id>-001`` ... : the key ends in the node's number)."""
    return [
        AlarmSpec(
            f"redis-memory-{node.rsplit('-', 1)[-1]}",
            f"Redis node {node} memory above {t.redis_memory_percent:g}%",
            namespace="AWS/ElastiCache",
            metric_name="DatabaseMemoryUsagePercentage",
            dimensions={"CacheClusterId": node},
            statistic="Maximum",
            threshold=t.redis_memory_percent,
            evaluation_periods=5,
        )
        for node in node_ids
    ]


def release_alarms(
    t: AlarmThresholds,
    prefix: str,
    alb_arn_suffix: pulumi.Input[str],
    target_group_arn_suffixes: Sequence[pulumi.Input[str]],
    app_namespace: str,
) -> list[AlarmSpec]:
    """What a blue/green or canary deployment rolls back on, named ``<prefix>-release-...``.

    One-minute periods, two bad minutes of three (two of two for unhealthy targets): a 5-minute
    canary or bake can fire them. Missing data is not breaching on purpose: a minute without
    traffic is no evidence against a release, and the idle target group publishes nothing at all
    (left at the default, its alarm would sit in INSUFFICIENT_DATA and watch nothing)."""
    groups = (alb_arn_suffix, target_group_arn_suffixes)
    return [
        AlarmSpec(
            "release-5xx-rate",
            f"Release check: a target group answered more than {t.release_5xx_percent:g}% "
            f"of its requests with 5xx (at least {RELEASE_MIN_REQUESTS} a minute)",
            alarm_name=f"{prefix}-release-5xx-rate",
            threshold=t.release_5xx_percent,
            evaluation_periods=3,
            datapoints_to_alarm=2,
            metric_queries=worst_group(
                *groups,
                "HTTPCode_Target_5XX_Count",
                "Sum",
                "100 * FILL({m}, 0) / FILL(requests{i}, 1)",
                "5xx percent of the worst target group",
            ),
        ),
        AlarmSpec(
            "release-p99-latency",
            f"Release check: a target group's p99 response time above "
            f"{t.release_p99_seconds:g} s (at least {RELEASE_MIN_REQUESTS} requests a minute)",
            alarm_name=f"{prefix}-release-p99-latency",
            threshold=t.release_p99_seconds,
            evaluation_periods=3,
            datapoints_to_alarm=2,
            metric_queries=worst_group(
                *groups, "TargetResponseTime", "p99", "{m}", "p99 seconds of the worst target group"
            ),
        ),
        AlarmSpec(
            "release-unhealthy-hosts",
            "Release check: targets failing the /health check in either target group",
            alarm_name=f"{prefix}-release-unhealthy-hosts",
            threshold=t.unhealthy_hosts,
            comparison="GreaterThanOrEqualToThreshold",
            evaluation_periods=2,
            datapoints_to_alarm=2,
            metric_queries=worst_group(*groups, "UnHealthyHostCount", "Maximum"),
        ),
        AlarmSpec(
            "release-dependency-errors",
            f"Release check: more than {t.release_dependency_errors} requests a minute the app "
            "could not serve for want of PostgreSQL (503) or Redis (limiter failures): its own "
            "metrics, e.g. a release with a wrong database or Redis setting",
            alarm_name=f"{prefix}-release-dependency-errors",
            threshold=t.release_dependency_errors,
            evaluation_periods=3,
            datapoints_to_alarm=2,
            metric_queries=[
                metric("database", app_namespace, app_metrics.DATABASE_UNAVAILABLE, {}),
                metric("limiter", app_namespace, app_metrics.LIMITER_FAILURES, {}),
                expression(
                    "errors",
                    "FILL(database, 0) + FILL(limiter, 0)",
                    "requests failed on a dependency",
                    result=True,
                ),
            ],
        ),
    ]


def service_alarms(
    t: AlarmThresholds, cluster_name: pulumi.Input[str], service_name: pulumi.Input[str]
) -> list[AlarmSpec]:
    ecs = {"ClusterName": cluster_name, "ServiceName": service_name}
    return [
        AlarmSpec(
            "service-cpu",
            f"Service CPU above {t.service_cpu_percent:g}%",
            namespace="AWS/ECS",
            metric_name="CPUUtilization",
            dimensions=ecs,
            statistic="Average",
            threshold=t.service_cpu_percent,
            evaluation_periods=5,
        ),
        AlarmSpec(
            "service-memory",
            f"Service memory above {t.service_memory_percent:g}%",
            namespace="AWS/ECS",
            metric_name="MemoryUtilization",
            dimensions=ecs,
            statistic="Average",
            threshold=t.service_memory_percent,
            evaluation_periods=5,
        ),
    ]


def worker_alarms(dead_letter_queue_name: pulumi.Input[str]) -> list[AlarmSpec]:
    """Any message in the queue is a worker run EventBridge Scheduler could not start; the alarm
    stays in ALARM until the queue is read and purged (docs/operations.md, the scheduled
    worker)."""
    return [
        AlarmSpec(
            "worker-dead-letters",
            "Worker runs the scheduler could not start (messages in the dead-letter queue)",
            namespace="AWS/SQS",
            metric_name="ApproximateNumberOfMessagesVisible",
            dimensions={"QueueName": dead_letter_queue_name},
            statistic="Maximum",
            threshold=0,
            evaluation_periods=1,
            period=300,
        )
    ]


class Alarms(pulumi.ComponentResource):
    """Every alarm notifies ``topic`` (and the external topic, when set) on ALARM and on OK.

    ``release_alarm_names``: the alarms a blue/green or canary deployment watches (empty for a
    rolling stack). Each takes the worst of the target groups, since the new revision serves from
    whichever group was idle: the target 5xx rate, p99 response time and unhealthy targets.
    """

    def __init__(self, name: str, args: AlarmsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("service:infra:Alarms", name, None, opts)
        self.resource_prefix = name  # children are <name>-<key>
        self.args = args
        t = args.thresholds
        self.topic = aws.sns.Topic(f"{name}-topic", opts=pulumi.ResourceOptions(parent=self))
        if args.email:
            aws.sns.TopicSubscription(
                f"{name}-email",
                topic=self.topic.arn,
                protocol="email",
                endpoint=args.email,
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.actions: list[pulumi.Input[str]] = [self.topic.arn]
        if args.external_topic_arn:
            self.actions.append(args.external_topic_arn)
        self.alarms: list[aws.cloudwatch.MetricAlarm] = []
        groups = (args.alb_arn_suffix, args.target_group_arn_suffixes)
        self.create(
            *load_balancer_alarms(t, *groups),
            *database_alarms(t, args.db_identifier),
            *cache_alarms(t, args.cache_node_ids),
        )
        self.release_alarms: list[aws.cloudwatch.MetricAlarm] = (
            self.create(*release_alarms(t, args.prefix, *groups, args.app_namespace))
            if args.release_alarms
            else []
        )
        self.release_alarm_names = [a.name for a in self.release_alarms]
        self.release_alarm_arns = [a.arn for a in self.release_alarms]
        self.topic_arn = self.topic.arn
        self.register_outputs({"topicArn": self.topic_arn})

    def watch_service(
        self,
        cluster_name: pulumi.Input[str],
        service_name: pulumi.Input[str],
        dead_letter_queue_name: pulumi.Input[str] | None = None,
    ) -> None:
        """The alarms that need the service (created after it) and the worker's queue."""
        self.create(*service_alarms(self.args.thresholds, cluster_name, service_name))
        if dead_letter_queue_name is not None:
            self.create(*worker_alarms(dead_letter_queue_name))

    def create(self, *specs: AlarmSpec) -> list[aws.cloudwatch.MetricAlarm]:
        """The alarms of ``specs``, each notifying this component's topics."""
        created = [self._alarm(spec) for spec in specs]
        self.alarms.extend(created)
        return created

    def _alarm(self, spec: AlarmSpec) -> aws.cloudwatch.MetricAlarm:
        simple = spec.metric_queries is None
        return aws.cloudwatch.MetricAlarm(
            f"{self.resource_prefix}-{spec.key}",
            name=spec.alarm_name,
            alarm_description=spec.description,
            comparison_operator=spec.comparison,
            threshold=spec.threshold,
            evaluation_periods=spec.evaluation_periods,
            datapoints_to_alarm=spec.datapoints_to_alarm,
            period=spec.period if simple else None,
            namespace=spec.namespace,
            metric_name=spec.metric_name,
            dimensions=spec.dimensions,
            statistic=spec.statistic,
            extended_statistic=spec.extended_statistic,
            metric_queries=None if simple else list(spec.metric_queries),
            treat_missing_data="notBreaching",
            alarm_actions=self.actions,
            ok_actions=self.actions,
            opts=pulumi.ResourceOptions(parent=self),
        )
