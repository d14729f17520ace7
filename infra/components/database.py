"""RDS PostgreSQL: private, encrypted, SSL forced, RDS-managed master password."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from infra.components.network import POSTGRES_PORT

MONITORING_PRINCIPAL = "monitoring.rds.amazonaws.com"
MONITORING_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
# Performance Insights' free tier keeps 7 days; longer retention is billed per vCPU-month.
PERFORMANCE_INSIGHTS_DAYS = 7


@dataclass(frozen=True)
class DatabaseArgs:
    prefix: str
    subnet_ids: Sequence[pulumi.Input[str]]
    security_group_id: pulumi.Input[str]
    instance_class: str
    engine_version: str  # "16" or "16.4"
    allocated_storage: int
    max_allocated_storage: int
    multi_az: bool
    backup_retention_days: int
    db_name: str
    username: str
    deletion_protection: bool
    skip_final_snapshot: bool
    apply_immediately: bool
    protect: bool = False
    log_retention_days: int = 30
    performance_insights: bool = False  # 7 days of history: the free tier
    monitoring_interval: int = 0  # Enhanced Monitoring seconds; 0 = off
    region: str = "us-east-1"  # for the instance's ARN in the monitoring role's trust
    iam_path: str = "/"  # the monitoring role lives with the stack's other roles
    permissions_boundary: str | None = None

    @property
    def identifier(self) -> str:
        """Fixed, so the ``postgresql`` log group's name is known before the instance exists."""
        return f"{self.prefix}-db"

    @property
    def major_version_only(self) -> bool:
        """``"16"`` (RDS picks the minor and upgrades it): a change to ``"17"`` is a major upgrade
        the instance must be allowed to make in place."""
        return "." not in self.engine_version


class Database(pulumi.ComponentResource):
    """PostgreSQL reachable only through ``security_group_id`` (which admits only the tasks).

    The master password is managed by RDS in Secrets Manager (``manage_master_user_password``);
    ``secret_arn`` is that secret, a JSON document with ``username`` and ``password`` keys. RDS
    rotates it every 7 days by default: see docs/operations.md, RDS password rotation runbook.

    Optionally Performance Insights (the free 7 days, Database Insights standard mode) and
    Enhanced Monitoring, with a monitoring role of the stack's own.
    """

    def __init__(self, name: str, args: DatabaseArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("service:infra:Database", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        major = args.engine_version.split(".")[0]

        subnet_group = aws.rds.SubnetGroup(
            f"{name}-subnets",
            subnet_ids=list(args.subnet_ids),
            description=f"{args.prefix} database subnets (private)",
            opts=child,
        )
        parameters = aws.rds.ParameterGroup(
            f"{name}-params",
            family=f"postgres{major}",
            description=f"{args.prefix} PostgreSQL {major}: SSL required",
            parameters=[
                aws.rds.ParameterGroupParameterArgs(name="rds.force_ssl", value="1"),
                aws.rds.ParameterGroupParameterArgs(
                    name="log_min_duration_statement", value="1000"
                ),
            ],
            opts=child,
        )
        # The final snapshot's name must be new at every deletion: a replacement or a second
        # stack's destroy would otherwise fail on "DBSnapshotAlreadyExists". The suffix is kept in
        # state and regenerated whenever an input that replaces the instance changes.
        snapshot_suffix = random.RandomId(
            f"{name}-final-snapshot-suffix",
            byte_length=4,
            keepers={
                "identifier": args.identifier,
                "engine": "postgres",
                "dbName": args.db_name,
                "username": args.username,
                "storageEncrypted": "true",
            },
            opts=child,
        )
        # RDS creates /aws/rds/instance/<id>/postgresql without retention when it first exports
        # to it; created here first (the instance depends on it), it is ours and expires.
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-postgresql-logs",
            name=f"/aws/rds/instance/{args.identifier}/postgresql",
            retention_in_days=args.log_retention_days,
            opts=child,
        )
        monitoring_role, monitoring_policy = (
            self._monitoring_role(name, args) if args.monitoring_interval else (None, None)
        )
        self.instance = aws.rds.Instance(
            f"{name}-instance",
            identifier=args.identifier,
            engine="postgres",
            engine_version=args.engine_version,
            instance_class=args.instance_class,
            allocated_storage=args.allocated_storage,
            max_allocated_storage=args.max_allocated_storage,
            storage_type="gp3",
            storage_encrypted=True,
            db_name=args.db_name,
            username=args.username,
            manage_master_user_password=True,
            port=POSTGRES_PORT,
            db_subnet_group_name=subnet_group.name,
            parameter_group_name=parameters.name,
            vpc_security_group_ids=[args.security_group_id],
            publicly_accessible=False,
            multi_az=args.multi_az,
            backup_retention_period=args.backup_retention_days,
            copy_tags_to_snapshot=True,
            auto_minor_version_upgrade=True,
            allow_major_version_upgrade=args.major_version_only,
            deletion_protection=args.deletion_protection,
            skip_final_snapshot=args.skip_final_snapshot,
            final_snapshot_identifier=(
                None
                if args.skip_final_snapshot
                else pulumi.Output.concat(args.identifier, "-final-", snapshot_suffix.hex)
            ),
            delete_automated_backups=args.skip_final_snapshot,
            apply_immediately=args.apply_immediately,
            performance_insights_enabled=args.performance_insights,
            performance_insights_retention_period=(
                PERFORMANCE_INSIGHTS_DAYS if args.performance_insights else None
            ),
            # RDS defaults new instances to the paid advanced mode; standard is the free tier.
            database_insights_mode="standard" if args.performance_insights else None,
            monitoring_interval=args.monitoring_interval,
            monitoring_role_arn=monitoring_role.arn if monitoring_role else None,
            enabled_cloudwatch_logs_exports=["postgresql"],
            opts=pulumi.ResourceOptions(
                parent=self,
                protect=args.protect,
                # RDS checks the monitoring role's permissions when it is set.
                depends_on=[self.log_group, *([monitoring_policy] if monitoring_policy else [])],
                # The identifier is fixed: a replacement must delete the old instance (after its
                # final snapshot) before creating the new one, or the create fails on the name.
                delete_before_replace=True,
                # Stacks created before issue 20 have a generated identifier (identifier_prefix);
                # docs/deploying.md (stacks created before issue 20) has the in-place rename that
                # adopts the fixed one.
                ignore_changes=["identifier_prefix"],
            ),
        )
        self.address = self.instance.address
        self.port = self.instance.port
        self.db_name = args.db_name
        self.identifier = self.instance.identifier
        self.secret_arn = self.instance.master_user_secrets.apply(lambda s: s[0].secret_arn)
        self.register_outputs({"address": self.address, "secretArn": self.secret_arn})

    def _monitoring_role(
        self, name: str, args: DatabaseArgs
    ) -> tuple[aws.iam.Role, aws.iam.RolePolicyAttachment]:
        """The role RDS assumes to write Enhanced Monitoring metrics (to the account's
        ``RDSOSMetrics`` log group, which RDS creates with 30 days of retention), trusted only for
        this instance of this account (the RDS user guide's confused-deputy guard)."""
        caller = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self))
        partition = caller.arn.apply(lambda arn: arn.split(":")[1])
        instance_arn = pulumi.Output.concat(
            "arn:", partition, ":rds:", args.region, ":", caller.account_id, ":db:",
            args.identifier,
        )  # fmt: skip
        role = aws.iam.Role(
            f"{name}-monitoring",
            description="RDS Enhanced Monitoring: write OS metrics to CloudWatch Logs",
            assume_role_policy=pulumi.Output.json_dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": MONITORING_PRINCIPAL},
                            "Action": "sts:AssumeRole",
                            "Condition": {
                                "StringEquals": {"aws:SourceAccount": caller.account_id},
                                "ArnLike": {"aws:SourceArn": instance_arn},
                            },
                        }
                    ],
                }
            ),
            path=args.iam_path,
            permissions_boundary=args.permissions_boundary,
            opts=pulumi.ResourceOptions(parent=self),
        )
        attachment = aws.iam.RolePolicyAttachment(
            f"{name}-monitoring",
            role=role.name,
            policy_arn=MONITORING_POLICY,
            opts=pulumi.ResourceOptions(parent=self),
        )
        return role, attachment
