"""CloudWatch alarms for the load balancer, the service, the database, the cache and the worker's
dead-letter queue, to SNS; and the release alarms a blue/green or canary deployment rolls back on.

The component is built in two steps: :class:`Alarms` itself before the service (the service names
the release alarms, and a deployment needs them to exist), :meth:`Alarms.watch_service` after it
(the service's own alarms need its name)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

GIB = 1024**3
ELB = "AWS/ApplicationELB"
# A release alarm ignores a target group that served fewer requests than this in a minute: one
# error among three requests is no rate, and a canary share of a quiet minute is that small.
RELEASE_MIN_REQUESTS = 10


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


def metric(mid: str, namespace: str, metric_name: str, dimensions: dict, stat: str = "Sum"):
    return aws.cloudwatch.MetricAlarmMetricQueryArgs(
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
    return aws.cloudwatch.MetricAlarmMetricQueryArgs(
        id=mid, expression=text, label=label, return_data=True if result else None
    )


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
        alb = {"LoadBalancer": args.alb_arn_suffix}
        rds = {"DBInstanceIdentifier": args.db_identifier}

        self._alarm(
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
        )
        self._alarm(
            "unhealthy-hosts",
            "Targets failing the /health check",
            threshold=t.unhealthy_hosts,
            comparison="GreaterThanOrEqualToThreshold",
            evaluation_periods=3,
            metric_queries=self._worst_group("UnHealthyHostCount", "Maximum"),
        )
        self._alarm(
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
        )
        self._alarm(
            "db-cpu",
            f"Database CPU above {t.db_cpu_percent:g}%",
            namespace="AWS/RDS",
            metric_name="CPUUtilization",
            dimensions=rds,
            statistic="Average",
            threshold=t.db_cpu_percent,
            evaluation_periods=5,
        )
        self._alarm(
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
        )
        self._alarm(
            "db-connections",
            f"More than {t.db_connections} database connections",
            namespace="AWS/RDS",
            metric_name="DatabaseConnections",
            dimensions=rds,
            statistic="Maximum",
            threshold=t.db_connections,
            evaluation_periods=5,
        )
        for node in args.cache_node_ids:
            suffix = node.rsplit("-", 1)[-1]
            self._alarm(
                f"redis-memory-{suffix}",
                f"Redis node {node} memory above {t.redis_memory_percent:g}%",
                namespace="AWS/ElastiCache",
                metric_name="DatabaseMemoryUsagePercentage",
                dimensions={"CacheClusterId": node},
                statistic="Maximum",
                threshold=t.redis_memory_percent,
                evaluation_periods=5,
            )
        self.release_alarms: list[aws.cloudwatch.MetricAlarm] = (
            self._release_alarms() if args.release_alarms else []
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
        t = self.args.thresholds
        ecs = {"ClusterName": cluster_name, "ServiceName": service_name}
        self._alarm(
            "service-cpu",
            f"Service CPU above {t.service_cpu_percent:g}%",
            namespace="AWS/ECS",
            metric_name="CPUUtilization",
            dimensions=ecs,
            statistic="Average",
            threshold=t.service_cpu_percent,
            evaluation_periods=5,
        )
        self._alarm(
            "service-memory",
            f"Service memory above {t.service_memory_percent:g}%",
            namespace="AWS/ECS",
            metric_name="MemoryUtilization",
            dimensions=ecs,
            statistic="Average",
            threshold=t.service_memory_percent,
            evaluation_periods=5,
        )
        if dead_letter_queue_name is not None:
            # Any message there is a worker run EventBridge Scheduler could not start; it stays
            # in ALARM until the queue is read and purged (docs/operations.md, the scheduled
            # worker).
            self._alarm(
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

    # ---- the release alarms -----------------------------------------------------------------
    def _release_alarms(self) -> list[aws.cloudwatch.MetricAlarm]:
        """One-minute periods, two bad minutes of three (two of two for unhealthy targets): a
        5-minute canary or bake can fire them. Missing data is not breaching on purpose: a
        minute without traffic is no evidence against a release, and the idle target group
        publishes nothing at all (left at the default, its alarm would sit in INSUFFICIENT_DATA
        and watch nothing)."""
        t = self.args.thresholds
        prefix = self.args.prefix
        return [
            self._alarm(
                "release-5xx-rate",
                f"Release check: a target group answered more than {t.release_5xx_percent:g}% "
                f"of its requests with 5xx (at least {RELEASE_MIN_REQUESTS} a minute)",
                alarm_name=f"{prefix}-release-5xx-rate",
                threshold=t.release_5xx_percent,
                evaluation_periods=3,
                datapoints_to_alarm=2,
                metric_queries=self._worst_group(
                    "HTTPCode_Target_5XX_Count",
                    "Sum",
                    "100 * FILL({m}, 0) / FILL(requests{i}, 1)",
                    "5xx percent of the worst target group",
                ),
            ),
            self._alarm(
                "release-p99-latency",
                f"Release check: a target group's p99 response time above "
                f"{t.release_p99_seconds:g} s (at least {RELEASE_MIN_REQUESTS} requests a minute)",
                alarm_name=f"{prefix}-release-p99-latency",
                threshold=t.release_p99_seconds,
                evaluation_periods=3,
                datapoints_to_alarm=2,
                metric_queries=self._worst_group(
                    "TargetResponseTime", "p99", "{m}", "p99 seconds of the worst target group"
                ),
            ),
            self._alarm(
                "release-unhealthy-hosts",
                "Release check: targets failing the /health check in either target group",
                alarm_name=f"{prefix}-release-unhealthy-hosts",
                threshold=t.unhealthy_hosts,
                comparison="GreaterThanOrEqualToThreshold",
                evaluation_periods=2,
                datapoints_to_alarm=2,
                metric_queries=self._worst_group("UnHealthyHostCount", "Maximum"),
            ),
        ]

    def _worst_group(
        self,
        metric_name: str,
        stat: str,
        per_request: str | None = None,
        label: str | None = None,
    ) -> list[aws.cloudwatch.MetricAlarmMetricQueryArgs]:
        """Metric math: the worst value of ``metric_name`` over the target groups.

        Without ``per_request`` each group's value is taken as it is (missing = 0). With it (a
        template over ``{m}``, the group's metric, and ``{i}``, its index) a group counts only in
        minutes with at least ``RELEASE_MIN_REQUESTS`` requests, else as 0.
        """
        queries: list[aws.cloudwatch.MetricAlarmMetricQueryArgs] = []
        values: list[str] = []
        for i, suffix in enumerate(self.args.target_group_arn_suffixes):
            dims = {"LoadBalancer": self.args.alb_arn_suffix, "TargetGroup": suffix}
            mid = f"m{i}"
            queries.append(metric(mid, ELB, metric_name, dims, stat))
            if per_request is None:
                values.append(f"FILL({mid}, 0)")
                continue
            queries.append(metric(f"requests{i}", ELB, "RequestCount", dims))
            value = per_request.format(m=mid, i=i)
            queries.append(
                expression(
                    f"g{i}", f"IF(FILL(requests{i}, 0) >= {RELEASE_MIN_REQUESTS}, {value}, 0)"
                )
            )
            values.append(f"g{i}")
        queries.append(expression("worst", f"MAX([{', '.join(values)}])", label, result=True))
        return queries

    def _alarm(
        self,
        key: str,
        description: str,
        *,
        threshold: float,
        evaluation_periods: int,
        comparison: str = "GreaterThanThreshold",
        datapoints_to_alarm: int | None = None,
        period: int = 60,
        namespace: str | None = None,
        metric_name: str | None = None,
        dimensions: dict | None = None,
        statistic: str | None = None,
        extended_statistic: str | None = None,
        metric_queries: list | None = None,
        alarm_name: str | None = None,
    ) -> aws.cloudwatch.MetricAlarm:
        simple = metric_queries is None
        alarm = aws.cloudwatch.MetricAlarm(
            f"{self.resource_prefix}-{key}",
            name=alarm_name,
            alarm_description=description,
            comparison_operator=comparison,
            threshold=threshold,
            evaluation_periods=evaluation_periods,
            datapoints_to_alarm=datapoints_to_alarm,
            period=period if simple else None,
            namespace=namespace,
            metric_name=metric_name,
            dimensions=dimensions,
            statistic=statistic,
            extended_statistic=extended_statistic,
            metric_queries=metric_queries,
            treat_missing_data="notBreaching",
            alarm_actions=self.actions,
            ok_actions=self.actions,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.alarms.append(alarm)
        return alarm
