"""Storage and queues: the ALB's access-log bucket and the worker's dead-letter queue."""

from __future__ import annotations

from infra.tools.cost.context import TIMES, Context, Item, Unpriced, line_item

LOAD_BALANCERS = ("aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer")
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
# An ALB node delivers one access-log object every 5 minutes.
LOG_OBJECTS_PER_NODE_HOUR = 12


def _expiry_days(ctx: Context, bucket: str) -> float | None:
    days = [
        rule["expiration"]["days"]
        for lc in ctx.of_type(LIFECYCLE)
        if lc["inputs"].get("bucket") == bucket
        for rule in lc["inputs"].get("rules") or []
        if rule.get("status") == "Enabled" and (rule.get("expiration") or {}).get("days")
    ]
    return float(min(days)) if days else None


def rule_s3_bucket(ctx: Context, r: dict) -> list[Item]:
    name = r["inputs"].get("bucket")
    albs = [
        a
        for a in ctx.of_type(*LOAD_BALANCERS)
        if (a["inputs"].get("accessLogs") or {}).get("bucket") == name
        and (a["inputs"].get("accessLogs") or {}).get("enabled")
    ]
    if not albs:
        raise Unpriced("only ALB access-log buckets are priced (no load balancer writes here)")
    days = _expiry_days(ctx, name)
    kept = days if days is not None else 365.0
    rps = ctx.assumptions["requests_per_second"]
    per_request = ctx.assumptions["alb_log_bytes_per_request"]
    gb_written = rps * 3600 * ctx.hours * per_request / 1e9
    stored = gb_written * kept / (ctx.hours / 24)
    nodes = sum(len(a["inputs"].get("subnets") or []) or 1 for a in albs)
    objects = nodes * LOG_OBJECTS_PER_NODE_HOUR * ctx.hours
    keep = f"expired after {kept:g} days" if days is not None else "no expiry: a year assumed"
    return [
        line_item(
            r,
            "S3 Standard storage (ALB access logs)",
            stored,
            "GB-month",
            ctx.price("s3", "standard_gb_month"),
            f"{rps:g} requests/s {TIMES} {per_request:g} gzipped bytes = {gb_written:.2f} GB a "
            f"month, {keep} (steady state)",
        ),
        line_item(
            r,
            "S3 PUT requests (ALB access-log objects)",
            objects / 1000,
            "1,000 requests",
            ctx.price("s3", "put_requests_1k"),
            f"one object per ALB node every 5 minutes, {nodes} node(s) (at least one per AZ)",
        ),
    ]


def rule_sqs_queue(ctx: Context, r: dict) -> list[Item]:
    messages = ctx.assumptions["dead_letters_per_month"]
    # A dead letter is sent once, then read and deleted by whoever looks at it.
    requests = messages * 3
    return [
        line_item(
            r,
            "SQS requests (dead letters: send, receive, delete)",
            requests / 1e6,
            "million requests",
            ctx.price("sqs", "million_requests"),
            f"dead_letters_per_month {messages:g} {TIMES} 3; the first million requests a month "
            "per account are free (not deducted); SSE-SQS costs nothing",
        )
    ]
