"""CloudWatch alarms for the load balancer, the service, the database, the cache and the worker's
dead-letter queue, to SNS."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.config import AlarmThresholds

GIB = 1024**3


@dataclass(frozen=True)
class AlarmsArgs:
    thresholds: AlarmThresholds
    email: str | None
    external_topic_arn: str | None  # an existing topic (PagerDuty, Chatbot): notified as well
    alb_arn_suffix: pulumi.Input[str]
    target_group_arn_suffix: pulumi.Input[str]
    cluster_name: pulumi.Input[str]
    service_name: pulumi.Input[str]
    db_identifier: pulumi.Input[str]
    cache_node_ids: Sequence[str]
    dead_letter_queue_name: pulumi.Input[str] | None = None  # the worker schedule's


class Alarms(pulumi.ComponentResource):
    """Every alarm notifies ``topic`` (and the external topic, when set) on ALARM and on OK."""

    def __init__(self, name: str, args: AlarmsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("service:infra:Alarms", name, None, opts)
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
        target = {"LoadBalancer": args.alb_arn_suffix, "TargetGroup": args.target_group_arn_suffix}
        ecs = {"ClusterName": args.cluster_name, "ServiceName": args.service_name}
        rds = {"DBInstanceIdentifier": args.db_identifier}

        def metric(mid, namespace, metric_name, dimensions, stat="Sum"):
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

        self._alarm(
            name,
            "alb-5xx-rate",
            f"More than {t.alb_5xx_percent:g}% of requests answered 5xx (target or ALB)",
            threshold=t.alb_5xx_percent,
            evaluation_periods=5,
            datapoints_to_alarm=3,
            metric_queries=[
                metric("target5xx", "AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", alb),
                metric("elb5xx", "AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", alb),
                metric("requests", "AWS/ApplicationELB", "RequestCount", alb),
                aws.cloudwatch.MetricAlarmMetricQueryArgs(
                    id="rate",
                    expression="100 * (FILL(target5xx, 0) + FILL(elb5xx, 0)) / requests",
                    label="5xx percent",
                    return_data=True,
                ),
            ],
        )
        self._alarm(
            name,
            "unhealthy-hosts",
            "Targets failing the /health check",
            namespace="AWS/ApplicationELB",
            metric_name="UnHealthyHostCount",
            dimensions=target,
            statistic="Maximum",
            threshold=t.unhealthy_hosts,
            comparison="GreaterThanOrEqualToThreshold",
            evaluation_periods=3,
        )
        self._alarm(
            name,
            "target-response-p95",
            f"p95 target response time above {t.target_response_p95_seconds:g} s",
            namespace="AWS/ApplicationELB",
            metric_name="TargetResponseTime",
            dimensions=target,
            extended_statistic="p95",
            threshold=t.target_response_p95_seconds,
            evaluation_periods=5,
            datapoints_to_alarm=3,
        )
        self._alarm(
            name,
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
            name,
            "service-memory",
            f"Service memory above {t.service_memory_percent:g}%",
            namespace="AWS/ECS",
            metric_name="MemoryUtilization",
            dimensions=ecs,
            statistic="Average",
            threshold=t.service_memory_percent,
            evaluation_periods=5,
        )
        self._alarm(
            name,
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
            name,
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
            name,
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
                name,
                f"redis-memory-{suffix}",
                f"Redis node {node} memory above {t.redis_memory_percent:g}%",
                namespace="AWS/ElastiCache",
                metric_name="DatabaseMemoryUsagePercentage",
                dimensions={"CacheClusterId": node},
                statistic="Maximum",
                threshold=t.redis_memory_percent,
                evaluation_periods=5,
            )
        if args.dead_letter_queue_name is not None:
            # Any message there is a worker run EventBridge Scheduler could not start; it stays
            # in ALARM until the queue is read and purged (docs/operations.md, the scheduled
            # worker).
            self._alarm(
                name,
                "worker-dead-letters",
                "Worker runs the scheduler could not start (messages in the dead-letter queue)",
                namespace="AWS/SQS",
                metric_name="ApproximateNumberOfMessagesVisible",
                dimensions={"QueueName": args.dead_letter_queue_name},
                statistic="Maximum",
                threshold=0,
                evaluation_periods=1,
                period=300,
            )
        self.topic_arn = self.topic.arn
        self.register_outputs({"topicArn": self.topic_arn})

    def _alarm(
        self,
        name: str,
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
    ) -> None:
        simple = metric_queries is None
        alarm = aws.cloudwatch.MetricAlarm(
            f"{name}-{key}",
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
