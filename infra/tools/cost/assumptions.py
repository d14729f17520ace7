"""What a plan cannot know (traffic, log volume, run time, image size): documented defaults,
each overridable with ``--assume NAME=VALUE``."""

from __future__ import annotations

from collections.abc import Iterable

from infra.tools.cost.errors import CostError

# name -> (default, what it means). Override with --assume NAME=VALUE.
ASSUMPTIONS: dict[str, tuple[float, str]] = {
    "hours_per_month": (730, "hours in a month (the AWS pricing convention)"),
    "requests_per_second": (
        5.0,
        "average HTTP requests per second at the load balancer (ALB LCUs at one new connection "
        "per request; WAF requests)",
    ),
    "gb_out_per_month": (
        20.0,
        "GB of responses sent to clients per month (internet data transfer out; ALB processed "
        "bytes)",
    ),
    "log_gb_per_month": (
        5.0,
        "GB of logs the tasks write per month (CloudWatch Logs ingestion; through NAT from "
        "private subnets)",
    ),
    "worker_run_seconds": (
        60.0,
        "billed seconds per scheduled worker run: image pull, start-up and the run itself "
        "(Fargate bills at least 60 s)",
    ),
    "image_gb": (
        0.2,
        "compressed size of the service image: pulled in full at every Fargate task start (no "
        "image cache) and stored per image in ECR",
    ),
    "db_daily_change_percent": (
        5.0,
        "share of the database's allocated storage changed per day (automated backups grow by it "
        "for each retained day)",
    ),
    "waf_log_gb_per_month": (
        0.5,
        "GB a month WAF logs: only the requests it blocked or counted are logged (scanners, "
        "floods)",
    ),
    "alb_log_bytes_per_request": (
        60.0,
        "gzipped bytes of ALB access log per request (an entry is ~500 bytes before gzip)",
    ),
    "rds_enhanced_monitoring_kb_per_sample": (
        10.0,
        "KB per RDS Enhanced Monitoring sample (OS metrics and the process list)",
    ),
    "dead_letters_per_month": (
        10.0,
        "worker runs EventBridge Scheduler could not start, a month (each a dead letter)",
    ),
    "app_custom_metrics": (
        21,
        "custom metrics the app publishes through EMF (METRICS_NAMESPACE): rate-limit refusals "
        "per limit (11) and in total, limiter and database failures, webhook deliveries by 3 "
        "outcomes, worker runs and run durations by 2 outcomes",
    ),
    "container_insights_metrics": (
        10,
        "Container Insights metrics per dimension set (the cluster, each service, each task "
        "family run on the cluster), billed as custom metrics",
    ),
}


def default_assumptions() -> dict[str, float]:
    return {name: value for name, (value, _) in ASSUMPTIONS.items()}


def parse_assumptions(pairs: Iterable[str]) -> dict[str, float]:
    values = default_assumptions()
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep or name not in ASSUMPTIONS:
            raise CostError(
                f"--assume {pair!r}: expected NAME=NUMBER with NAME one of "
                + ", ".join(sorted(ASSUMPTIONS))
            )
        try:
            number = float(raw)
        except ValueError:
            raise CostError(f"--assume {pair!r}: {raw!r} is not a number") from None
        if number < 0:
            raise CostError(f"--assume {pair!r}: must not be negative")
        if name == "hours_per_month" and number == 0:
            raise CostError(f"--assume {pair!r}: a month has hours (rates are divided by it)")
        values[name] = number
    return values
