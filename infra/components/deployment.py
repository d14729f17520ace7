"""How the service deploys a new revision: ``ROLLING`` (tasks replaced in place) or, with
:class:`DeploymentArgs`, ``BLUE_GREEN`` / ``CANARY``: ECS starts the new revision in the idle
target group, moves the production listener rule's weights to it (all at once, or a canary share
first) and rolls back when a release alarm fires or the circuit breaker trips."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

# What ECS needs to shift traffic for blue/green and canary deployments: describe listeners,
# rules and target groups, register and deregister targets, modify listeners and rules.
ECS_SERVICE = "ecs.amazonaws.com"
LOAD_BALANCER_INFRASTRUCTURE_POLICY = (
    "arn:aws:iam::aws:policy/AmazonECSInfrastructureRolePolicyForLoadBalancers"
)
# A deployment that never reaches steady state is rolled back and fails the update within this;
# blue/green and canary add their bake times to it.
DEPLOY_TIMEOUT_MINUTES = 20


@dataclass(frozen=True)
class DeploymentArgs:
    """A blue/green or canary deployment: ECS shifts ``production_rule`` of the load balancer
    between the service's target group and ``alternate_target_group_arn``."""

    strategy: str  # BLUE_GREEN | CANARY (ECS's deploymentConfiguration.strategy)
    bake_time_minutes: int  # both revisions keep running after the full shift
    alternate_target_group_arn: pulumi.Input[str]
    alternate_target_group_arn_suffix: pulumi.Input[str]
    production_rule: pulumi.CustomResource  # the ALB listener rule ECS rewrites
    alarm_names: Sequence[pulumi.Input[str]]  # any in ALARM fails and rolls back the deployment
    canary_percent: float | None = None  # CANARY only
    canary_bake_time_minutes: int | None = None  # CANARY only

    @property
    def waiting_minutes(self) -> int:
        """How long a healthy deployment waits on top of a rolling one: the bakes."""
        return self.bake_time_minutes + (self.canary_bake_time_minutes or 0)

    def configuration(self) -> aws.ecs.ServiceDeploymentConfigurationArgs:
        canary = None
        if self.strategy == "CANARY":
            canary = aws.ecs.ServiceDeploymentConfigurationCanaryConfigurationArgs(
                canary_percent=self.canary_percent,
                canary_bake_time_in_minutes=str(self.canary_bake_time_minutes),
            )
        return aws.ecs.ServiceDeploymentConfigurationArgs(
            strategy=self.strategy,
            # The provider types both bake times as strings.
            bake_time_in_minutes=str(self.bake_time_minutes),
            canary_configuration=canary,
        )


def configuration(deployment: DeploymentArgs | None) -> aws.ecs.ServiceDeploymentConfigurationArgs:
    if deployment is None:
        return aws.ecs.ServiceDeploymentConfigurationArgs(strategy="ROLLING")
    return deployment.configuration()


# What a blue/green or canary deployment changes on the service, which the program must not
# restore. Each deployment swaps the two groups' roles: ECS then reports the group it just filled
# as the service's target group and the other as the alternate. Restoring the program's order
# would be a deployment of its own, towards the group that has just been emptied (the production
# rule's weights are ECS's too: load_balancer.py).
SHIFTED_BY_ECS = [
    "loadBalancers[*].targetGroupArn",
    "loadBalancers[*].advancedConfiguration.alternateTargetGroupArn",
]


def timeout(deployment: DeploymentArgs | None) -> str:
    """How long `pulumi up` waits for a deployment before failing it."""
    return f"{DEPLOY_TIMEOUT_MINUTES + (deployment.waiting_minutes if deployment else 0)}m"
