"""The service's autoscaling: target tracking on average CPU and on ALB requests per task."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pulumi
import pulumi_aws as aws

if TYPE_CHECKING:
    from infra.components.service import Service


@dataclass(frozen=True)
class ScalingArgs:
    desired_count: int  # at creation; autoscaling owns the count afterwards
    min_count: int
    max_count: int
    cpu_target: float  # average CPU percent per task
    requests_per_target: int  # ALB requests per task and minute


def autoscale(service: Service, name: str) -> aws.appautoscaling.Target:
    """Between ``min_count`` and ``max_count``; the service ignores ``desiredCount`` drift."""
    scaling, load_balancer, deployment = (
        service.args.scaling,
        service.args.target,
        service.args.deployment,
    )
    child = pulumi.ResourceOptions(parent=service)
    target = aws.appautoscaling.Target(
        f"{name}-scaling",
        service_namespace="ecs",
        scalable_dimension="ecs:service:DesiredCount",
        resource_id=pulumi.Output.format(
            "service/{0}/{1}", service.cluster.name, service.service.name
        ),
        min_capacity=scaling.min_count,
        max_capacity=scaling.max_count,
        opts=child,
    )
    tracking = aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationArgs

    def policy(key: str, value: float, **metric) -> None:
        aws.appautoscaling.Policy(
            f"{name}-scale-{key}",
            policy_type="TargetTrackingScaling",
            service_namespace=target.service_namespace,
            scalable_dimension=target.scalable_dimension,
            resource_id=target.resource_id,
            target_tracking_scaling_policy_configuration=tracking(
                target_value=value, scale_in_cooldown=300, scale_out_cooldown=60, **metric
            ),
            opts=child,
        )

    policy(
        "cpu",
        scaling.cpu_target,
        predefined_metric_specification=predefined("ECSServiceAverageCPUUtilization"),
    )
    requests = float(scaling.requests_per_target)
    alb = load_balancer.alb_arn_suffix
    if deployment is None:
        label = pulumi.Output.format("{0}/{1}", alb, load_balancer.target_group_arn_suffix)
        policy(
            "requests",
            requests,
            predefined_metric_specification=predefined("ALBRequestCountPerTarget", label),
        )
    else:
        # The predefined metric follows one target group; with blue/green the live one
        # alternates, so track the busier of the two (the idle one publishes nothing).
        policy(
            "requests",
            requests,
            customized_metric_specification=busiest_group_requests(
                alb,
                [
                    load_balancer.target_group_arn_suffix,
                    deployment.alternate_target_group_arn_suffix,
                ],
            ),
        )
    return target


def predefined(metric_type: str, label: pulumi.Input[str] | None = None):
    spec = aws.appautoscaling
    return spec.PolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecificationArgs(
        predefined_metric_type=metric_type, resource_label=label
    )


def busiest_group_requests(
    alb_arn_suffix: pulumi.Input[str], target_group_arn_suffixes: Sequence[pulumi.Input[str]]
):
    """RequestCountPerTarget (what ALBRequestCountPerTarget tracks: Sum per minute) of the
    busiest target group, as a customized metric."""
    spec = aws.appautoscaling
    metrics = [
        spec.PolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationMetricArgs(
            id=f"m{i}",
            metric_stat=spec.PolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationMetricMetricStatArgs(
                metric=spec.PolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationMetricMetricStatMetricArgs(
                    namespace="AWS/ApplicationELB",
                    metric_name="RequestCountPerTarget",
                    dimensions=[
                        spec.PolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationMetricMetricStatMetricDimensionArgs(
                            name="TargetGroup", value=suffix
                        ),
                        spec.PolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationMetricMetricStatMetricDimensionArgs(
                            name="LoadBalancer", value=alb_arn_suffix
                        ),
                    ],
                ),
                stat="Sum",
            ),
            return_data=False,
        )
        for i, suffix in enumerate(target_group_arn_suffixes)
    ]
    busiest = ", ".join(f"FILL(m{i}, 0)" for i in range(len(metrics)))
    metrics.append(
        spec.PolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationMetricArgs(
            id="busiest",
            expression=f"MAX([{busiest}])",
            label="Requests per target of the busiest target group",
            return_data=True,
        )
    )
    return spec.PolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationArgs(
        metrics=metrics
    )
