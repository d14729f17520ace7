"""Monitoring: CloudWatch alarms, the dashboard (and the app's metrics it reads) and log
groups."""

from __future__ import annotations

from infra.tools.cost.context import Context, Item, line_item


def rule_metric_alarm(ctx: Context, r: dict) -> list[Item]:
    inputs = r["inputs"]
    queries = inputs.get("metricQueries") or []
    metrics = [q for q in queries if q.get("metric")] if queries else [inputs]
    periods = (
        [(q.get("metric") or q).get("period", 60) for q in metrics]
        if queries
        else [inputs.get("period", 60)]
    )
    high_res = any(int(p or 60) < 60 for p in periods)
    key = "alarm_high_resolution_metric_month" if high_res else "alarm_metric_month"
    what = "high-resolution" if high_res else "standard"
    return [
        line_item(
            r,
            f"CloudWatch alarm ({what})",
            len(metrics) or 1,
            "alarm metric-month",
            ctx.price("cloudwatch", key),
            f"{len(metrics) or 1} metric(s) in the alarm",
        ),
    ]


def rule_dashboard(ctx: Context, r: dict) -> list[Item]:
    metrics = ctx.assumptions["app_custom_metrics"]
    return [
        line_item(
            r,
            "CloudWatch dashboard",
            1,
            "dashboard-month",
            ctx.price("cloudwatch", "dashboard_month"),
            "an account's first three dashboards (up to 50 metrics each) are free: not deducted",
        ),
        line_item(
            r,
            "the app's own metrics (EMF, METRICS_NAMESPACE) the dashboard reads",
            metrics,
            "metric-month",
            ctx.price("cloudwatch", "custom_metric_month"),
            f"app_custom_metrics {metrics:g}, each billed for the hours it is published: an "
            "upper bound",
        ),
    ]


# WAF only writes to log groups named so (infra/components/waf.py).
WAF_LOG_PREFIX = "aws-waf-logs-"


def _is_waf(group: dict) -> bool:
    return str(group["inputs"].get("name") or "").startswith(WAF_LOG_PREFIX)


def rule_log_group(ctx: Context, r: dict) -> list[Item]:
    if _is_waf(r):
        gb = ctx.assumptions["waf_log_gb_per_month"]
        share = "waf_log_gb_per_month (requests WAF blocked or counted)"
    else:
        groups = [g for g in ctx.of_type(r["type"]) if not _is_waf(g)]
        gb = ctx.assumptions["log_gb_per_month"] / len(groups)
        split = f", split over {len(groups)} log groups" if len(groups) > 1 else ""
        share = f"log_gb_per_month{split}"
    retention = r["inputs"].get("retentionInDays")
    kept_days = float(retention) if retention else 365.0
    stored = gb * kept_days / (ctx.hours / 24)
    keep = f"{retention} days retention" if retention else "no retention: a year's logs assumed"
    return [
        line_item(
            r,
            "CloudWatch Logs ingestion",
            gb,
            "GB",
            ctx.price("cloudwatch", "logs_ingest_gb"),
            share,
        ),
        line_item(
            r,
            "CloudWatch Logs storage",
            stored,
            "GB-month",
            ctx.price("cloudwatch", "logs_storage_gb_month"),
            f"steady state with {keep} (uncompressed: an upper bound)",
        ),
    ]
