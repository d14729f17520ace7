"""Network: NAT gateways, public IPv4 addresses, the load balancer, WAF and VPC endpoints."""

from __future__ import annotations

from infra.tools.cost.context import TIMES, Context, Item, Unpriced, line_item


def public_ip(ctx: Context, r: dict, hours: float, what: str, why: str) -> Item:
    return line_item(
        r, f"public IPv4 address ({what})", hours, "IP-hour", ctx.price("public_ipv4", "hour"), why
    )


def _nat_traffic(ctx: Context) -> tuple[float, str]:
    """GB per month the NAT gateways process, and how that figure was reached."""
    services, schedules = ctx.private_task_runs()
    parts: list[str] = []
    gb = 0.0
    if schedules:
        runs = sum(ctx.worker_runs(s) for s in schedules)
        if ctx.has_endpoint(".s3", "Gateway"):
            parts.append("worker image layers come through the S3 gateway endpoint (not NAT)")
        else:
            pulls = runs * ctx.assumptions["image_gb"]
            gb += pulls
            parts.append(
                f"worker image pulls {runs:,.0f} runs {TIMES} {ctx.assumptions['image_gb']:g} GB "
                f"= {pulls:,.1f} GB (no S3 gateway endpoint)"
            )
    if services or schedules:
        if ctx.has_endpoint(".logs", "Interface"):
            parts.append("logs go through the CloudWatch Logs interface endpoint")
        else:
            gb += ctx.assumptions["log_gb_per_month"]
            parts.append(f"logs {ctx.assumptions['log_gb_per_month']:g} GB")
    if not parts:
        parts.append("no tasks in private subnets")
    return gb, "; ".join(parts)


def rule_nat_gateway(ctx: Context, r: dict) -> list[Item]:
    nats = ctx.of_type(r["type"])
    gb, how = _nat_traffic(ctx)
    share = gb / len(nats)
    split = f", split over {len(nats)} NAT gateways" if len(nats) > 1 else ""
    return [
        line_item(
            r,
            "NAT gateway hours",
            ctx.hours,
            "hour",
            ctx.price("nat_gateway", "hour"),
            "provisioned all month",
        ),
        line_item(
            r,
            "NAT gateway data processed",
            share,
            "GB",
            ctx.price("nat_gateway", "gb"),
            how + split,
        ),
    ]


def rule_eip(ctx: Context, r: dict) -> list[Item]:
    return [public_ip(ctx, r, ctx.hours, "Elastic IP", "allocated all month")]


def rule_load_balancer(ctx: Context, r: dict) -> list[Item]:
    inputs = r["inputs"]
    if inputs.get("loadBalancerType", "application") != "application":
        raise Unpriced(f"{inputs.get('loadBalancerType')} load balancers are not priced")
    rps = ctx.assumptions["requests_per_second"]
    gb_out = ctx.assumptions["gb_out_per_month"]
    processed_per_hour = gb_out / ctx.hours if ctx.hours else 0.0
    lcu = max(rps / 25, processed_per_hour / 1.0)
    items = [
        line_item(
            r, "ALB hours", ctx.hours, "hour", ctx.price("alb", "hour"), "provisioned all month"
        ),
        line_item(
            r,
            "ALB capacity units",
            lcu * ctx.hours,
            "LCU-hour",
            ctx.price("alb", "lcu_hour"),
            f"max of {rps:g} new connections/s ÷ 25 and {processed_per_hour:.3f} GB/h ÷ 1 "
            f"({lcu:.3f} LCU)",
        ),
        line_item(
            r,
            "data transfer out to the internet",
            gb_out,
            "GB",
            ctx.price("data_transfer", "internet_out_gb"),
            "gb_out_per_month; the 100 GB free per account are not deducted",
        ),
    ]
    if not inputs.get("internal"):
        azs = len(inputs.get("subnets") or inputs.get("subnetMappings") or []) or 1
        items.append(
            public_ip(ctx, r, azs * ctx.hours, f"one per AZ, {azs} AZs", "internet-facing")
        )
    return items


# AWS managed rule groups with a subscription fee and per-request charges of their own.
PAID_MANAGED_GROUPS = frozenset(
    {
        "AWSManagedRulesBotControlRuleSet",
        "AWSManagedRulesATPRuleSet",
        "AWSManagedRulesACFPRuleSet",
        "AWSManagedRulesAntiDDoSRuleSet",
    }
)


def rule_web_acl(ctx: Context, r: dict) -> list[Item]:
    rules = r["inputs"].get("rules") or []
    managed = [
        (rule.get("statement") or {}).get("managedRuleGroupStatement") or {} for rule in rules
    ]
    paid = sorted({m.get("name") for m in managed if m.get("name") in PAID_MANAGED_GROUPS})
    if paid:
        raise Unpriced(f"paid managed rule groups are not priced: {', '.join(paid)}")
    groups = sum(1 for m in managed if m)
    requests = ctx.assumptions["requests_per_second"] * 3600 * ctx.hours / 1e6
    return [
        Item(
            r["name"], r["type"], "WAF web ACL", 1, "ACL-month", ctx.price("waf", "web_acl_month")
        ),
        line_item(
            r,
            "WAF rules",
            len(rules),
            "rule-month",
            ctx.price("waf", "rule_month"),
            f"{groups} of them AWS managed rule groups, billed as one rule each" if groups else "",
        ),
        line_item(
            r,
            "WAF requests",
            requests,
            "million requests",
            ctx.price("waf", "million_requests"),
            f"{ctx.assumptions['requests_per_second']:g} requests/s all month",
        ),
    ]


def rule_vpc_endpoint(ctx: Context, r: dict) -> list[Item]:
    inputs = r["inputs"]
    kind = str(inputs.get("vpcEndpointType", "Gateway"))
    if kind == "Gateway":
        return [
            line_item(
                r,
                f"gateway endpoint ({inputs.get('serviceName')})",
                1,
                "endpoint-month",
                0.0,
                "gateway endpoints (S3, DynamoDB) cost nothing",
            )
        ]
    if kind != "Interface":
        raise Unpriced(f"{kind} endpoints are not priced")
    azs = len(inputs.get("subnetIds") or []) or 1
    return [
        line_item(
            r,
            f"interface endpoint ({inputs.get('serviceName')})",
            azs * ctx.hours,
            "ENI-hour",
            ctx.price("vpc_endpoint", "interface_az_hour"),
            f"one ENI per AZ, {azs} AZs; data processed ($/GB) not counted",
        ),
    ]
