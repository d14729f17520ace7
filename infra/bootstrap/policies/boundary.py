"""The permissions boundary every workload role is created with."""

from __future__ import annotations

from infra.bootstrap.policies.actions import (
    ECS_EXEC_ACTIONS,
    IAM_WRITE_ACTIONS,
    LOAD_BALANCER_SHIFT_READ_ACTIONS,
    LOAD_BALANCER_SHIFT_WRITE_ACTIONS,
    RDS_MONITORING_LOG_ACTIONS,
    RDS_MONITORING_LOG_GROUP,
)
from infra.bootstrap.policies.document import allow, deny, document
from infra.bootstrap.policies.scope import AccountScope


def boundary_policy(scope: AccountScope) -> dict:
    """The permissions boundary of every role the deploy roles create: the most a workload
    role (ECS execution/task role, the scheduler's role, the RDS monitoring role, ECS's
    load-balancer infrastructure role) can ever do,
    whatever policy is put on it; no IAM change outside the project's stack paths; the boundary
    cannot be removed."""
    project_roles = [scope.workload_role_arns(stack) for stack in scope.workload_stacks]
    return document(
        allow("EcrAuth", ["ecr:GetAuthorizationToken"], "*"),
        allow(
            "PullImages",
            ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            scope.arn("ecr", "repository/*"),
        ),
        allow(
            "WriteTaskLogs",
            ["logs:CreateLogStream", "logs:PutLogEvents"],
            scope.arn("logs", f"log-group:/ecs/{scope.project}-*"),
        ),
        allow(
            "ReadAppSecrets",
            ["secretsmanager:GetSecretValue"],
            [
                scope.arn("secretsmanager", f"secret:{scope.project}-*"),
                scope.arn("secretsmanager", "secret:rds!db-*"),
            ],
        ),
        allow(
            "RunWorkerTask",
            ["ecs:RunTask"],
            scope.arn("ecs", f"task-definition/{scope.project}-*:*"),
        ),
        allow(
            "TagStartedTasks",
            ["ecs:TagResource"],
            scope.arn("ecs", "task/*"),
            {"StringEquals": {"ecs:CreateAction": "RunTask"}},
        ),
        allow(
            "PassWorkerRoles",
            ["iam:PassRole"],
            project_roles,
            {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
        ),
        allow(
            # The worker schedule's role records runs it could not start (<prefix>-worker-dlq).
            "SendWorkerDeadLetters",
            ["sqs:SendMessage"],
            scope.arn("sqs", f"{scope.project}-*"),
        ),
        allow(
            # AmazonRDSEnhancedMonitoringRole, as far as RDS uses it: its RDSOSMetrics group.
            "WriteRdsEnhancedMonitoring",
            RDS_MONITORING_LOG_ACTIONS,
            [
                scope.arn("logs", f"log-group:{RDS_MONITORING_LOG_GROUP}"),
                scope.arn("logs", f"log-group:{RDS_MONITORING_LOG_GROUP}:log-stream:*"),
            ],
        ),
        allow("EcsExec", ECS_EXEC_ACTIONS, "*"),
        # ECS's infrastructure role (blue/green and canary deployments): what its managed policy
        # grants for an Application Load Balancer, in this account and region.
        allow("ReadLoadBalancerForDeployments", LOAD_BALANCER_SHIFT_READ_ACTIONS, "*"),
        allow(
            "ShiftLoadBalancerTrafficForDeployments",
            LOAD_BALANCER_SHIFT_WRITE_ACTIONS,
            [
                scope.arn("elasticloadbalancing", "targetgroup/*/*"),
                scope.arn("elasticloadbalancing", "listener/app/*/*/*"),
                scope.arn("elasticloadbalancing", "listener-rule/app/*/*/*/*"),
            ],
        ),
        {
            "Sid": "DenyIamOutsideTheProjectPaths",
            "Effect": "Deny",
            "Action": list(IAM_WRITE_ACTIONS),
            "NotResource": project_roles,
        },
        deny("DenyRemovingTheBoundary", ["iam:DeleteRolePermissionsBoundary"], "*"),
        deny(
            "DenyOtherBoundaries",
            ["iam:CreateRole", "iam:PutRolePermissionsBoundary"],
            "*",
            {"StringNotEquals": {"iam:PermissionsBoundary": scope.boundary_arn}},
        ),
    )
