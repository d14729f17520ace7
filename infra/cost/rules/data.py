"""Data: the PostgreSQL instance, the Redis replication group and Secrets Manager secrets."""

from __future__ import annotations

from infra.cost.context import TIMES, Context, Item, Unpriced, line_item


def rule_rds_instance(ctx: Context, r: dict) -> list[Item]:
    inputs = r["inputs"]
    if inputs.get("engine", "postgres") != "postgres":
        raise Unpriced(f"engine {inputs.get('engine')!r} is not priced")
    cls = str(inputs.get("instanceClass"))
    multi = bool(inputs.get("multiAz"))
    copies = 2 if multi else 1
    deployment = "Multi-AZ: primary + standby" if multi else "Single-AZ"
    hourly = ctx.price("rds_postgres", "instance_hour", cls)
    storage_type = str(inputs.get("storageType", "gp2"))
    if storage_type not in ("gp2", "gp3"):
        raise Unpriced(f"storage type {storage_type!r} is not priced")
    allocated = float(inputs.get("allocatedStorage", 20))
    retention = int(inputs.get("backupRetentionPeriod", 1) or 0)
    change = ctx.assumptions["db_daily_change_percent"] / 100
    backups = allocated * (1 + change * retention) if retention else 0.0
    billable_backup = max(0.0, backups - allocated)
    items = [
        line_item(
            r,
            f"RDS PostgreSQL {cls} ({deployment})",
            ctx.hours * copies,
            "instance-hour",
            hourly,
            f"running all month {TIMES} {copies}",
        ),
        line_item(
            r,
            f"RDS {storage_type} storage",
            allocated * copies,
            "GB-month",
            ctx.price("rds_postgres", f"{storage_type}_gb_month"),
            f"allocatedStorage {allocated:g} GB {TIMES} {copies} (autoscaling may grow it)",
        ),
        line_item(
            r,
            "RDS backup storage beyond the free allowance",
            billable_backup,
            "GB-month",
            ctx.price("rds_postgres", "backup_gb_month"),
            f"{retention} day(s) {TIMES} {change:.0%} daily change on {allocated:g} GB = "
            f"{backups:g} GB, of which {allocated:g} GB (the provisioned size) are free",
        ),
    ]
    if inputs.get("manageMasterUserPassword"):
        items.append(
            line_item(
                r,
                "Secrets Manager secret (RDS-managed master password)",
                1,
                "secret-month",
                ctx.price("secrets_manager", "secret_month"),
                "created by RDS, not in the plan",
            )
        )
    return items


def rule_replication_group(ctx: Context, r: dict) -> list[Item]:
    inputs = r["inputs"]
    node_type = str(inputs.get("nodeType"))
    nodes = int(inputs.get("numCacheClusters", 1))
    return [
        line_item(
            r,
            f"ElastiCache {node_type} nodes",
            nodes * ctx.hours,
            "node-hour",
            ctx.price("elasticache", "node_hour", node_type),
            f"{nodes} node(s) all month; snapshots beyond the free one are not counted",
        ),
    ]


def rule_secret(ctx: Context, r: dict) -> list[Item]:
    return [
        line_item(
            r,
            "Secrets Manager secret",
            1,
            "secret-month",
            ctx.price("secrets_manager", "secret_month"),
            "",
        )
    ]
