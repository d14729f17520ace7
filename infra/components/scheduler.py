"""The scheduled worker: a task definition and an EventBridge Scheduler schedule that runs it."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.components.ecs_runtime import EcsRuntime, TaskNetwork, assume_role, policy

WORKER_COMMAND = ["python", "-m", "service.worker", "run-due", "--once"]
WORKER_CONTAINER = "worker"
SCHEDULER_PRINCIPAL = "scheduler.amazonaws.com"
# SQS's longest retention: two weeks to look at a failed run before its record expires.
DEAD_LETTER_RETENTION_SECONDS = 14 * 24 * 3600


@dataclass(frozen=True)
class SchedulerArgs:
    runtime: EcsRuntime  # the service's: its cluster, roles, image, environment and secrets
    network: TaskNetwork
    schedule: str  # "rate(1 minute)" or "cron(...)"
    enabled: bool = True


class Scheduler(pulumi.ComponentResource):
    """Runs ``python -m service.worker run-due --once`` on the cluster on a schedule.

    The schedule's role may only ``ecs:RunTask`` this task definition family on this cluster and
    ``iam:PassRole`` the task's two roles (execution and task) to ECS, nothing else.
    """

    def __init__(self, name: str, args: SchedulerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("service:infra:Scheduler", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        runtime = args.runtime
        worker = runtime.container(WORKER_CONTAINER, command=WORKER_COMMAND)
        self.task_definition = runtime.task_definition(
            f"{name}-worker", "worker", [worker], parent=self
        )
        # Every revision of this family (the ARN without its ":<revision>").
        family_arn = self.task_definition.arn.apply(lambda arn: arn.rsplit(":", 1)[0] + ":*")

        # Confused-deputy guard: only schedules of this account may assume the role. The account
        # is the one of the cluster ARN (arn:aws:ecs:<region>:<account>:cluster/<name>).
        account = runtime.cluster.arn.apply(lambda arn: arn.split(":")[4])
        self.role = runtime.role(
            f"{name}-role",
            "EventBridge Scheduler: run the worker task",
            assume_role(SCHEDULER_PRINCIPAL, {"StringEquals": {"aws:SourceAccount": account}}),
            parent=self,
        )
        self.passed_roles = [runtime.execution_role.arn, runtime.task_role.arn]
        run_task = aws.iam.RolePolicy(
            f"{name}-run-task",
            role=self.role.id,
            policy=policy(
                {
                    "Sid": "RunWorkerTask",
                    "Effect": "Allow",
                    "Action": ["ecs:RunTask"],
                    "Resource": [family_arn],
                    "Condition": {"ArnEquals": {"ecs:cluster": runtime.cluster.arn}},
                },
                {
                    "Sid": "TagWorkerTask",
                    "Effect": "Allow",
                    "Action": ["ecs:TagResource"],
                    "Resource": "*",
                    "Condition": {"StringEquals": {"ecs:CreateAction": "RunTask"}},
                },
                {
                    "Sid": "PassWorkerRoles",
                    "Effect": "Allow",
                    "Action": ["iam:PassRole"],
                    "Resource": self.passed_roles,
                    "Condition": {"StringLike": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
                },
            ),
            opts=child,
        )
        self.dead_letter_queue = aws.sqs.Queue(
            f"{name}-dlq",
            name=f"{runtime.args.prefix}-worker-dlq",
            message_retention_seconds=DEAD_LETTER_RETENTION_SECONDS,
            sqs_managed_sse_enabled=True,
            opts=child,
        )
        send_dead_letters = aws.iam.RolePolicy(
            f"{name}-dead-letters",
            role=self.role.id,
            policy=policy(
                {
                    "Sid": "SendDeadLetters",
                    "Effect": "Allow",
                    "Action": ["sqs:SendMessage"],
                    "Resource": [self.dead_letter_queue.arn],
                }
            ),
            opts=child,
        )
        self.schedule = aws.scheduler.Schedule(
            f"{name}-schedule",
            description="Run due automations (service.worker run-due --once)",
            schedule_expression=args.schedule,
            state="ENABLED" if args.enabled else "DISABLED",
            flexible_time_window=aws.scheduler.ScheduleFlexibleTimeWindowArgs(mode="OFF"),
            target=aws.scheduler.ScheduleTargetArgs(
                arn=runtime.cluster.arn,
                role_arn=self.role.arn,
                ecs_parameters=aws.scheduler.ScheduleTargetEcsParametersArgs(
                    task_definition_arn=self.task_definition.arn,
                    launch_type="FARGATE",
                    platform_version="LATEST",
                    task_count=1,
                    propagate_tags="TASK_DEFINITION",
                    enable_ecs_managed_tags=True,
                    network_configuration=(
                        aws.scheduler.ScheduleTargetEcsParametersNetworkConfigurationArgs(
                            subnets=list(args.network.subnet_ids),
                            security_groups=[args.network.security_group_id],
                            assign_public_ip=args.network.assign_public_ip,
                        )
                    ),
                ),
                # Retries of the RunTask call (a started task is never re-run), all within the
                # minute: a run that still cannot start goes to the dead-letter queue and the next
                # minute's run picks up its work, so runs never pile up.
                retry_policy=aws.scheduler.ScheduleTargetRetryPolicyArgs(
                    maximum_retry_attempts=2,
                    maximum_event_age_in_seconds=60,
                ),
                dead_letter_config=aws.scheduler.ScheduleTargetDeadLetterConfigArgs(
                    arn=self.dead_letter_queue.arn
                ),
            ),
            # The worker task uses the service's roles: wait for their policies too.
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[run_task, send_dead_letters, *runtime.role_policies]
            ),
        )
        self.register_outputs(
            {
                "taskDefinition": self.task_definition.family,
                "deadLetterQueue": self.dead_letter_queue.name,
            }
        )
