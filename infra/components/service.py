"""ECS on Fargate: cluster, logs, roles, task definition (app + migration), service. How it
deploys (rolling, blue/green, canary): infra/components/deployment.py; its autoscaling:
infra/components/autoscaling.py."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from infra.components.app_metrics import NAMESPACE_VARIABLE
from infra.components.autoscaling import autoscale
from infra.components.deployment import (
    ECS_SERVICE,
    LOAD_BALANCER_INFRASTRUCTURE_POLICY,
    SHIFTED_BY_ECS,
    DeploymentArgs,
    configuration,
    timeout,
)
from infra.components.network import APP_PORT, POSTGRES_PORT

MIGRATE_COMMAND = ["python", "-m", "service.migrate"]
APP_CONTAINER = "app"
MIGRATE_CONTAINER = "migrate"
ECS_TASKS = "ecs-tasks.amazonaws.com"
# The RDS CA bundle the image carries (Dockerfile: ADD --checksum=... global-bundle.pem): the task
# verifies the database's certificate against it and its endpoint name (DB_SSL=verify-full).
RDS_CA_BUNDLE = "/etc/ssl/rds/global-bundle.pem"
# The one writable place of a read-only container: a task volume (Fargate ephemeral storage).
TMP_VOLUME = "tmp"
EXECUTION_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"


@dataclass(frozen=True)
class ServiceArgs:
    prefix: str
    environment: str
    region: str
    image: pulumi.Input[str]  # "<repository>@sha256:..."
    cpu_architecture: str  # X86_64 | ARM64
    cpu: int
    memory: int
    vpc_cidr: str
    subnet_ids: Sequence[pulumi.Input[str]]
    assign_public_ip: bool
    security_group_id: pulumi.Input[str]
    target_group_arn: pulumi.Input[str]
    listener: pulumi.Resource  # the service registers only once the target group is attached
    db_host: pulumi.Input[str]
    db_name: str
    db_secret_arn: pulumi.Input[str]  # RDS-managed: JSON {"username", "password"}
    jwt_secret_arn: pulumi.Input[str]
    redis_url_secret_arn: pulumi.Input[str]
    desired_count: int
    min_count: int
    max_count: int
    health_check_grace_seconds: int
    log_retention_days: int
    enable_execute_command: bool
    keep_alive_seconds: int  # > the ALB idle timeout, or the ALB sees sporadic 502s
    scale_cpu_target: float
    scale_requests_per_target: int
    alb_arn_suffix: pulumi.Input[str]
    target_group_arn_suffix: pulumi.Input[str]
    metrics_namespace: str  # METRICS_NAMESPACE: where the app's own metrics go
    rate_limits: Mapping[str, str] = field(default_factory=dict)
    deployment: DeploymentArgs | None = None  # None: rolling
    # Where the stack's IAM roles live (/<prefix>/) and the boundary they are created with: the
    # bootstrap's deploy roles may create roles only there and only with that boundary.
    permissions_boundary: str | None = None

    @property
    def iam_path(self) -> str:
        return f"/{self.prefix}/"


def policy(*statements: dict) -> pulumi.Output[str]:
    return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": list(statements)})


def assume_role(service: str, condition: dict | None = None) -> pulumi.Output[str]:
    statement: dict = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
    }
    if condition:
        statement["Condition"] = condition
    return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": [statement]})


def account_of(arn: pulumi.Input[str]) -> pulumi.Output[str]:
    """The account of an ARN (``arn:<partition>:<service>:<region>:<account>:...``)."""
    return pulumi.Output.from_input(arn).apply(lambda a: a.split(":")[4])


def ecs_source_arn(cluster_arn: pulumi.Input[str]) -> pulumi.Output[str]:
    """``arn:<partition>:ecs:<region>:<account>:*`` from the cluster's ARN: every ECS resource of
    this account and region. ECS does not support naming one cluster in ``aws:SourceArn``
    (AWS ECS developer guide, "Amazon ECS task IAM role": use the wildcard)."""
    return pulumi.Output.from_input(cluster_arn).apply(
        lambda a: ":".join([*a.split(":")[:2], "ecs", *a.split(":")[3:5], "*"])
    )


def ecs_tasks_trust(cluster_arn: pulumi.Input[str], *, source_arn: bool) -> pulumi.Output[str]:
    """Trust for ``ecs-tasks.amazonaws.com`` with the confused-deputy guard: only ECS acting for
    this account (and, with ``source_arn``, for an ECS resource of this account and region)."""
    condition: dict = {"StringEquals": {"aws:SourceAccount": account_of(cluster_arn)}}
    if source_arn:
        condition["ArnLike"] = {"aws:SourceArn": ecs_source_arn(cluster_arn)}
    return assume_role(ECS_TASKS, condition)


class Service(pulumi.ComponentResource):
    """The Fargate service and everything a task of this image needs to start.

    Task containers: ``migrate`` (non-essential init container running ``alembic upgrade head``
    under a PostgreSQL advisory lock) and ``app`` (uvicorn), which starts only when ``migrate``
    exited 0. A failed migration therefore stops the task before it can serve; the deployment
    circuit breaker then rolls back to the previous task definition.

    ``container(...)`` builds further containers with the same environment, secrets and logs (the
    scheduled worker uses it).
    """

    def __init__(self, name: str, args: ServiceArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("service:infra:Service", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.args = args

        # Container Insights writes to /aws/ecs/containerinsights/<cluster>/performance, creating
        # it without retention unless it exists: the cluster has an explicit name (the stack's
        # prefix) so the group can be created, with retention, before the cluster.
        self.cluster_name_fixed = args.prefix
        self.insights_log_group = aws.cloudwatch.LogGroup(
            f"{name}-insights-logs",
            name=f"/aws/ecs/containerinsights/{self.cluster_name_fixed}/performance",
            retention_in_days=args.log_retention_days,
            opts=child,
        )
        self.cluster = aws.ecs.Cluster(
            f"{name}-cluster",
            name=self.cluster_name_fixed,
            settings=[aws.ecs.ClusterSettingArgs(name="containerInsights", value="enabled")],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.insights_log_group]),
        )
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=f"/ecs/{args.prefix}",
            retention_in_days=args.log_retention_days,
            opts=child,
        )

        # ---- IAM -----------------------------------------------------------------------------
        # Confused-deputy guards (issue 20). The task role carries both keys exactly as the ECS
        # developer guide's task-role trust policy does. The execution role gets the account
        # guard only: ECS documents no aws:SourceArn for the execution role's trust, and a guard
        # ECS does not satisfy would stop every task from starting (docs/deploying.md, role trust).
        self.execution_role = self.role(
            f"{name}-execution",
            "ECS agent: pull the image, write logs, read exactly the app's secrets",
            ecs_tasks_trust(self.cluster.arn, source_arn=False),
        )
        # Everything that grants the two roles their permissions: the service and the worker's
        # schedule wait for these, so no task starts before its role can pull, log and read.
        self.role_policies: list[pulumi.Resource] = []
        self.role_policies.append(
            aws.iam.RolePolicyAttachment(
                f"{name}-execution-managed",
                role=self.execution_role.name,
                policy_arn=EXECUTION_POLICY,
                opts=child,
            )
        )
        self.secret_arns = [args.db_secret_arn, args.jwt_secret_arn, args.redis_url_secret_arn]
        self.role_policies.append(
            aws.iam.RolePolicy(
                f"{name}-execution-secrets",
                role=self.execution_role.id,
                policy=policy(
                    {
                        "Sid": "ReadAppSecrets",
                        "Effect": "Allow",
                        "Action": ["secretsmanager:GetSecretValue"],
                        "Resource": self.secret_arns,
                    }
                ),
                opts=child,
            )
        )
        self.task_role = self.role(
            f"{name}-task",
            "The application's own AWS identity",
            ecs_tasks_trust(self.cluster.arn, source_arn=True),
        )
        # The service re-reads the RDS-managed password after a rotation (db_credentials.py).
        self.role_policies.append(
            aws.iam.RolePolicy(
                f"{name}-task-db-secret",
                role=self.task_role.id,
                policy=policy(
                    {
                        "Sid": "RereadRotatedDbPassword",
                        "Effect": "Allow",
                        "Action": ["secretsmanager:GetSecretValue"],
                        "Resource": [args.db_secret_arn],
                    }
                ),
                opts=child,
            )
        )
        if args.enable_execute_command:
            self.role_policies.append(
                aws.iam.RolePolicy(
                    f"{name}-task-exec",
                    role=self.task_role.id,
                    policy=policy(
                        {
                            "Sid": "EcsExec",
                            "Effect": "Allow",
                            "Action": [
                                "ssmmessages:CreateControlChannel",
                                "ssmmessages:CreateDataChannel",
                                "ssmmessages:OpenControlChannel",
                                "ssmmessages:OpenDataChannel",
                            ],
                            "Resource": "*",
                        }
                    ),
                    opts=child,
                )
            )

        # ---- task definition -----------------------------------------------------------------
        migrate = self.container(MIGRATE_CONTAINER, command=MIGRATE_COMMAND, essential=False)
        app = self.container(
            APP_CONTAINER,
            port=APP_PORT,
            depends_on=[{"containerName": MIGRATE_CONTAINER, "condition": "SUCCESS"}],
        )
        self.task_definition = self.task_definition_for(f"{name}-app", "app", [migrate, app])

        # ---- service -------------------------------------------------------------------------
        deployment = args.deployment
        waits_on: list[pulumi.Resource] = [args.listener, *self.role_policies]
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
            cluster=self.cluster.arn,
            task_definition=self.task_definition.arn,
            desired_count=args.desired_count,
            launch_type="FARGATE",
            platform_version="LATEST",
            network_configuration=aws.ecs.ServiceNetworkConfigurationArgs(
                subnets=list(args.subnet_ids),
                security_groups=[args.security_group_id],
                assign_public_ip=args.assign_public_ip,
            ),
            load_balancers=[
                aws.ecs.ServiceLoadBalancerArgs(
                    target_group_arn=args.target_group_arn,
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
            enable_execute_command=args.enable_execute_command,
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
        self.cluster_name = self.cluster.name
        self.service_name = self.service.name
        self.log_group_name = self.log_group.name
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
        deployment (the execution role's reasoning above)."""
        role = self.role(
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

    # ---- helpers used here and by the scheduler -------------------------------------------------
    def role(
        self,
        resource_name: str,
        description: str,
        trust: pulumi.Input[str],
        parent: pulumi.Resource | None = None,
    ) -> aws.iam.Role:
        """An IAM role of this stack: under its path, with its permissions boundary (if any)."""
        return aws.iam.Role(
            resource_name,
            description=description,
            assume_role_policy=trust,
            path=self.args.iam_path,
            permissions_boundary=self.args.permissions_boundary,
            opts=pulumi.ResourceOptions(parent=parent or self),
        )

    def environment(self) -> list[dict[str, str]]:
        """Plain (non-secret) environment, sorted by name for a stable task definition."""
        a = self.args
        env = {
            "ENVIRONMENT": a.environment,
            "DB_HOST": a.db_host,
            "DB_PORT": str(POSTGRES_PORT),
            "DB_NAME": a.db_name,
            "DB_SSL": "verify-full",
            "DB_SSL_ROOT_CERT": RDS_CA_BUNDLE,
            "FORWARDED_ALLOW_IPS": a.vpc_cidr,
            # Not a secret (an ARN): where the service re-reads the password after RDS rotates it.
            "DB_PASSWORD_SECRET_ARN": a.db_secret_arn,
            "AWS_REGION": a.region,
            "LOG_LEVEL": "INFO",
            "LOG_JSON": "true",  # also turns on the app's metrics (EMF lines on stdout)
            NAMESPACE_VARIABLE: a.metrics_namespace,
            # Read by the uvicorn CLI; must exceed the ALB idle timeout (see design.md pitfalls).
            "UVICORN_TIMEOUT_KEEP_ALIVE": str(a.keep_alive_seconds),
            **dict(a.rate_limits),
        }
        return [{"name": k, "value": v} for k, v in sorted(env.items())]

    def secrets(self) -> list[dict[str, pulumi.Input[str]]]:
        """Secrets by reference: the ECS agent resolves them at start, values never in state."""
        a = self.args
        db = pulumi.Output.from_input(a.db_secret_arn)
        return [
            {"name": "DB_PASSWORD", "valueFrom": pulumi.Output.concat(db, ":password::")},
            {"name": "DB_USER", "valueFrom": pulumi.Output.concat(db, ":username::")},
            {"name": "JWT_SECRET", "valueFrom": a.jwt_secret_arn},
            {"name": "REDIS_URL", "valueFrom": a.redis_url_secret_arn},
        ]

    def container(
        self,
        name: str,
        *,
        command: list[str] | None = None,
        essential: bool = True,
        port: int | None = None,
        depends_on: list[dict[str, str]] | None = None,
    ) -> dict:
        a = self.args
        definition: dict = {
            "name": name,
            "image": a.image,
            "essential": essential,
            "environment": self.environment(),
            "secrets": self.secrets(),
            "linuxParameters": {"initProcessEnabled": True},
            "stopTimeout": 30,
            "logConfiguration": {
                "logDriver": "awslogs",
                "options": {
                    "awslogs-group": self.log_group.name,
                    "awslogs-region": a.region,
                    "awslogs-stream-prefix": name,
                },
            },
        }
        if essential and self.read_only_root:
            # Nothing in the image writes outside /tmp (bytecode is compiled at build time, the
            # database is PostgreSQL): an attacker cannot persist anything in the container.
            definition["readonlyRootFilesystem"] = True
            definition["mountPoints"] = [
                {"sourceVolume": TMP_VOLUME, "containerPath": "/tmp", "readOnly": False}  # noqa: S108
            ]
        if command is not None:
            definition["command"] = command
        if port is not None:
            definition["portMappings"] = [
                {"containerPort": port, "protocol": "tcp", "name": "http"}
            ]
        if depends_on:
            definition["dependsOn"] = depends_on
        return definition

    @property
    def read_only_root(self) -> bool:
        """Essential containers get a read-only root filesystem unless ECS Exec is on (its SSM
        agent writes inside the container): prod, not dev or staging."""
        return not self.args.enable_execute_command

    def task_definition_for(
        self,
        resource_name: str,
        family: str,
        containers: list[dict],
        parent: pulumi.Resource | None = None,
    ) -> aws.ecs.TaskDefinition:
        a = self.args
        return aws.ecs.TaskDefinition(
            resource_name,
            family=f"{a.prefix}-{family}",
            cpu=str(a.cpu),
            memory=str(a.memory),
            network_mode="awsvpc",
            requires_compatibilities=["FARGATE"],
            runtime_platform=aws.ecs.TaskDefinitionRuntimePlatformArgs(
                cpu_architecture=a.cpu_architecture, operating_system_family="LINUX"
            ),
            execution_role_arn=self.execution_role.arn,
            task_role_arn=self.task_role.arn,
            container_definitions=pulumi.Output.json_dumps(containers),
            volumes=(
                [aws.ecs.TaskDefinitionVolumeArgs(name=TMP_VOLUME)]
                if any(c.get("mountPoints") for c in containers)
                else None
            ),
            # Keep the old revision ACTIVE when a change replaces it: the circuit breaker and a
            # manual rollback (`aws ecs update-service --task-definition family:N`) need it.
            skip_destroy=True,
            opts=pulumi.ResourceOptions(parent=parent or self),
        )
