"""What every task of the image needs, shared by the service and the scheduled worker: the
cluster, the log groups, the execution and task roles, and the builders of container and task
definitions (one environment, one set of secrets, one log configuration for every container).

:class:`EcsRuntime` is a building block, not a ``ComponentResource``: its resources are children
of the component that creates it (the service), so their names and URNs are the ones they had
when the service declared them itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from infra.components.app_metrics import NAMESPACE_VARIABLE
from infra.components.network import POSTGRES_PORT

ECS_TASKS = "ecs-tasks.amazonaws.com"
# The RDS CA bundle the image carries (Dockerfile: ADD --checksum=... global-bundle.pem): the task
# verifies the database's certificate against it and its endpoint name (DB_SSL=verify-full).
RDS_CA_BUNDLE = "/etc/ssl/rds/global-bundle.pem"
# The one writable place of a read-only container: a task volume (Fargate ephemeral storage).
TMP_VOLUME = "tmp"
EXECUTION_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"


@dataclass(frozen=True)
class AppSecrets:
    """The Secrets Manager secrets every container reads by reference (``valueFrom``): the ECS
    agent resolves them at start, their values are never in the task definition or the state."""

    db_secret_arn: pulumi.Input[str]  # RDS-managed: JSON {"username", "password"}
    jwt_secret_arn: pulumi.Input[str]
    redis_url_secret_arn: pulumi.Input[str]

    @property
    def arns(self) -> list[pulumi.Input[str]]:
        return [self.db_secret_arn, self.jwt_secret_arn, self.redis_url_secret_arn]


@dataclass(frozen=True)
class AppEnvironment:
    """The plain (non-secret) settings of the service, as the environment variables of the
    contract between service and infra."""

    environment: str  # ENVIRONMENT
    vpc_cidr: str  # FORWARDED_ALLOW_IPS: only the ALB's addresses may set X-Forwarded-For
    db_host: pulumi.Input[str]
    db_name: str
    keep_alive_seconds: int  # > the ALB idle timeout, or the ALB sees sporadic 502s
    metrics_namespace: str  # METRICS_NAMESPACE: where the app's own metrics go
    rate_limits: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class EcsRuntimeArgs:
    prefix: str
    region: str
    image: pulumi.Input[str]  # "<repository>@sha256:..."
    cpu_architecture: str  # X86_64 | ARM64
    cpu: int
    memory: int
    log_retention_days: int
    enable_execute_command: bool
    app: AppEnvironment
    secrets: AppSecrets
    # Where the stack's IAM roles live (/<prefix>/) and the boundary they are created with: the
    # bootstrap's deploy roles may create roles only there and only with that boundary.
    permissions_boundary: str | None = None

    @property
    def iam_path(self) -> str:
        return f"/{self.prefix}/"


@dataclass(frozen=True)
class TaskNetwork:
    """Where the tasks run: the service's and the worker's alike."""

    subnet_ids: Sequence[pulumi.Input[str]]
    security_group_id: pulumi.Input[str]
    assign_public_ip: bool  # without NAT: public subnets and a public IP


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


class EcsRuntime:
    """The cluster, its logs and the two roles every task of the image runs with; resources named
    ``<name>-...`` and parented to ``parent``.

    ``container(...)`` builds a container of the image with the shared environment, secrets and
    logs; ``task_definition(...)`` a Fargate task definition of such containers; ``role(...)`` an
    IAM role under the stack's path and permissions boundary.
    """

    def __init__(self, name: str, args: EcsRuntimeArgs, parent: pulumi.Resource) -> None:
        self.args = args
        self.parent = parent
        child = pulumi.ResourceOptions(parent=parent)

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
            opts=pulumi.ResourceOptions(parent=parent, depends_on=[self.insights_log_group]),
        )
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=f"/ecs/{args.prefix}",
            retention_in_days=args.log_retention_days,
            opts=child,
        )

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
        self.role_policies.append(
            aws.iam.RolePolicy(
                f"{name}-execution-secrets",
                role=self.execution_role.id,
                policy=policy(
                    {
                        "Sid": "ReadAppSecrets",
                        "Effect": "Allow",
                        "Action": ["secretsmanager:GetSecretValue"],
                        "Resource": args.secrets.arns,
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
                        "Resource": [args.secrets.db_secret_arn],
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
            opts=pulumi.ResourceOptions(parent=parent or self.parent),
        )

    def environment(self) -> list[dict[str, str]]:
        """Plain (non-secret) environment, sorted by name for a stable task definition."""
        a, app = self.args, self.args.app
        env = {
            "ENVIRONMENT": app.environment,
            "DB_HOST": app.db_host,
            "DB_PORT": str(POSTGRES_PORT),
            "DB_NAME": app.db_name,
            "DB_SSL": "verify-full",
            "DB_SSL_ROOT_CERT": RDS_CA_BUNDLE,
            "FORWARDED_ALLOW_IPS": app.vpc_cidr,
            # Not a secret (an ARN): where the service re-reads the password after RDS rotates it.
            "DB_PASSWORD_SECRET_ARN": a.secrets.db_secret_arn,
            "AWS_REGION": a.region,
            "LOG_LEVEL": "INFO",
            "LOG_JSON": "true",  # also turns on the app's metrics (EMF lines on stdout)
            NAMESPACE_VARIABLE: app.metrics_namespace,
            # Read by the uvicorn CLI; must exceed the ALB idle timeout, or the ALB sees sporadic
            # 502s (docs/deploying.md, "Keep-alive").
            "UVICORN_TIMEOUT_KEEP_ALIVE": str(app.keep_alive_seconds),
            **dict(app.rate_limits),
        }
        return [{"name": k, "value": v} for k, v in sorted(env.items())]

    def secrets(self) -> list[dict[str, pulumi.Input[str]]]:
        """Secrets by reference: the ECS agent resolves them at start, values never in state."""
        s = self.args.secrets
        db = pulumi.Output.from_input(s.db_secret_arn)
        return [
            {"name": "DB_PASSWORD", "valueFrom": pulumi.Output.concat(db, ":password::")},
            {"name": "DB_USER", "valueFrom": pulumi.Output.concat(db, ":username::")},
            {"name": "JWT_SECRET", "valueFrom": s.jwt_secret_arn},
            {"name": "REDIS_URL", "valueFrom": s.redis_url_secret_arn},
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

    def task_definition(
        self,
        resource_name: str,
        family: str,
        containers: list[dict],
        parent: pulumi.Resource | None = None,
    ) -> aws.ecs.TaskDefinition:
        """A Fargate task definition ``<prefix>-<family>`` of ``containers``, run with the two
        roles."""
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
            opts=pulumi.ResourceOptions(parent=parent or self.parent),
        )
