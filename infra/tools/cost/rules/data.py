"""Data: the PostgreSQL instance, the Redis replication group and Secrets Manager secrets."""

from __future__ import annotations

from infra.tools.cost.context import TIMES, Context, Item, Unpriced, line_item


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
    items += _insights(ctx, r)
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


# RDS keeps Enhanced Monitoring records in its RDSOSMetrics log group for 30 days by default.
ENHANCED_MONITORING_RETENTION_DAYS = 30


def _insights(ctx: Context, r: dict) -> list[Item]:
    """Performance Insights (free at 7 days of history in standard mode) and Enhanced
    Monitoring (its records are CloudWatch Logs ingestion and storage)."""
    inputs = r["inputs"]
    items: list[Item] = []
    if inputs.get("performanceInsightsEnabled"):
        days = int(inputs.get("performanceInsightsRetentionPeriod") or 7)
        if days != 7 or inputs.get("databaseInsightsMode") == "advanced":
            raise Unpriced(
                f"Performance Insights with {days} days or advanced mode is billed per vCPU "
                "(only the free 7-day standard tier is priced)"
            )
        items.append(
            line_item(
                r,
                "Performance Insights (7 days, standard mode)",
                1,
                "instance-month",
                0.0,
                "the free tier: 7 days of history",
            )
        )
    interval = int(inputs.get("monitoringInterval") or 0)
    if interval:
        samples = ctx.hours * 3600 / interval
        kb = ctx.assumptions["rds_enhanced_monitoring_kb_per_sample"]
        gb = samples * kb / 1e6
        kept = gb * ENHANCED_MONITORING_RETENTION_DAYS / (ctx.hours / 24)
        why = f"a sample every {interval} s {TIMES} {kb:g} KB = {gb:.2f} GB a month"
        items += [
            line_item(
                r,
                "RDS Enhanced Monitoring (CloudWatch Logs ingestion)",
                gb,
                "GB",
                ctx.price("cloudwatch", "logs_ingest_gb"),
                why,
            ),
            line_item(
                r,
                "RDS Enhanced Monitoring (CloudWatch Logs storage)",
                kept,
                "GB-month",
                ctx.price("cloudwatch", "logs_storage_gb_month"),
                f"RDSOSMetrics keeps {ENHANCED_MONITORING_RETENTION_DAYS} days",
            ),
        ]
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
