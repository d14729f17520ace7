"""ECS on Fargate: the service of the image (task definition with the migration, the Fargate
service) on the shared runtime (cluster, logs, roles: infra/components/ecs_runtime.py). How it
deploys (rolling, blue/green, canary): infra/components/deployment.py; its autoscaling:
infra/components/autoscaling.py."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.components.autoscaling import ScalingArgs, autoscale
from infra.components.deployment import (
    ECS_SERVICE,
    LOAD_BALANCER_INFRASTRUCTURE_POLICY,
    SHIFTED_BY_ECS,
    DeploymentArgs,
    configuration,
    timeout,
)
from infra.components.ecs_runtime import (
    RDS_CA_BUNDLE,  # noqa: F401 (tests/container reads it here)
    EcsRuntime,
    EcsRuntimeArgs,
    TaskNetwork,
    assume_role,
)
from infra.components.network import APP_PORT

MIGRATE_COMMAND = ["python", "-m", "service.migrate"]
APP_CONTAINER = "app"
MIGRATE_CONTAINER = "migrate"


@dataclass(frozen=True)
class LoadBalancerTarget:
    """The target group the service registers its tasks in, and what scaling reads of it."""

    target_group_arn: pulumi.Input[str]
    target_group_arn_suffix: pulumi.Input[str]
    alb_arn_suffix: pulumi.Input[str]
    listener: pulumi.Resource  # the service registers only once the target group is attached


@dataclass(frozen=True)
class ServiceArgs:
    runtime: EcsRuntimeArgs  # the image, its task size, environment, secrets, logs and roles
    network: TaskNetwork
    target: LoadBalancerTarget
    scaling: ScalingArgs
    health_check_grace_seconds: int
    deployment: DeploymentArgs | None = None  # None: rolling


class Service(pulumi.ComponentResource):
    """The Fargate service and everything a task of this image needs to start.

    Task containers: ``migrate`` (non-essential init container running ``alembic upgrade head``
    under a PostgreSQL advisory lock) and ``app`` (uvicorn), which starts only when ``migrate``
    exited 0. A failed migration therefore stops the task before it can serve; the deployment
    circuit breaker then rolls back to the previous task definition.

    ``runtime`` (cluster, logs, roles, container builder) is the scheduled worker's too.
    """

    def __init__(self, name: str, args: ServiceArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("service:infra:Service", name, None, opts)
        self.args = args
        self.runtime = runtime = EcsRuntime(name, args.runtime, parent=self)
        self.cluster = runtime.cluster

        # ---- task definition -----------------------------------------------------------------
        migrate = runtime.container(MIGRATE_CONTAINER, command=MIGRATE_COMMAND, essential=False)
        app = runtime.container(
            APP_CONTAINER,
            port=APP_PORT,
            depends_on=[{"containerName": MIGRATE_CONTAINER, "condition": "SUCCESS"}],
        )
        self.task_definition = runtime.task_definition(f"{name}-app", "app", [migrate, app])

        # ---- service -------------------------------------------------------------------------
        deployment = args.deployment
        target = args.target
        waits_on: list[pulumi.Resource] = [target.listener, *runtime.role_policies]
        advanced = None
        ignored = ["desired_count"]  # autoscaling owns the running count once the service exists
        if deployment is not None:
            self.infrastructure_role, attachment = self._infrastructure_role(name)
            waits_on += [deployment.production_rule, attachment]
            advanced = aws.ecs.ServiceLoadBalancerAdvancedConfigurationArgs(
                alternate_target_group_arn=deployment.alternate_target_group_arn,
                production_listener_rule=deployment.production_rule.arn,
                role_arn=self.infrastructure_role.arn,
            )
            ignored += SHIFTED_BY_ECS
        wait = timeout(deployment)
        self.service = aws.ecs.Service(
            f"{name}-service",
            cluster=runtime.cluster.arn,
            task_definition=self.task_definition.arn,
            desired_count=args.scaling.desired_count,
            launch_type="FARGATE",
            platform_version="LATEST",
            network_configuration=aws.ecs.ServiceNetworkConfigurationArgs(
                subnets=list(args.network.subnet_ids),
                security_groups=[args.network.security_group_id],
                assign_public_ip=args.network.assign_public_ip,
            ),
            load_balancers=[
                aws.ecs.ServiceLoadBalancerArgs(
                    target_group_arn=target.target_group_arn,
                    container_name=APP_CONTAINER,
                    container_port=APP_PORT,
                    advanced_configuration=advanced,
                )
            ],
            health_check_grace_period_seconds=args.health_check_grace_seconds,
            deployment_configuration=configuration(deployment),
            # Stays on with blue/green and canary too (ECS supports both failure detections
            # there; either fails the deployment): new tasks that never become healthy are
            # caught before any alarm has data.
            deployment_circuit_breaker=aws.ecs.ServiceDeploymentCircuitBreakerArgs(
                enable=True, rollback=True
            ),
            alarms=(
                aws.ecs.ServiceAlarmsArgs(
                    alarm_names=list(deployment.alarm_names), enable=True, rollback=True
                )
                if deployment is not None
                else None
            ),
            deployment_minimum_healthy_percent=100,
            deployment_maximum_percent=200,
            enable_execute_command=args.runtime.enable_execute_command,
            enable_ecs_managed_tags=True,
            propagate_tags="SERVICE",
            # `pulumi up` returns when the deployment is done, bakes included, and fails when ECS
            # rolled it back.
            wait_for_steady_state=True,
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=waits_on,
                ignore_changes=ignored,
                custom_timeouts=pulumi.CustomTimeouts(create=wait, update=wait, delete=wait),
            ),
        )
        self.cluster_name = runtime.cluster.name
        self.service_name = self.service.name
        self.log_group_name = runtime.log_group.name
        self.scaling_target = autoscale(self, name)

        self.register_outputs(
            {
                "clusterName": self.cluster_name,
                "serviceName": self.service_name,
                "logGroup": self.log_group_name,
            }
        )

    def _infrastructure_role(self, name: str) -> tuple[aws.iam.Role, pulumi.Resource]:
        """The role ECS assumes to register targets and move the production rule's weights.
        Its trust is the one the ECS developer guide gives for this role, without condition
        keys: ECS documents none for it, and a guard ECS does not satisfy would fail every
        deployment (the execution role's reasoning in ecs_runtime.py)."""
        role = self.runtime.role(
            f"{name}-ecs-infrastructure",
            "ECS: shift the load balancer's traffic during blue/green and canary deployments",
            assume_role(ECS_SERVICE),
        )
        attachment = aws.iam.RolePolicyAttachment(
            f"{name}-ecs-infrastructure-managed",
            role=role.name,
            policy_arn=LOAD_BALANCER_INFRASTRUCTURE_POLICY,
            opts=pulumi.ResourceOptions(parent=self),
        )
        return role, attachment
