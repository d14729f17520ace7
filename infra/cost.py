"""Offline monthly cost: ``python -m infra.cost --stack S [--json] [--prices FILE] [--config K=V]``.

Prices the offline plan (``infra.plan.plan``: mocks, no CLI, no credentials) with a dated,
region-keyed price table (``infra/prices.json``; ``--prices FILE`` overrides it), one line item
per billable resource: what, quantity, unit, unit price, monthly amount and the assumption behind
the quantity. What a plan cannot know (traffic, log volume, how long a worker run takes, the image
size) comes from documented assumptions (:data:`ASSUMPTIONS`), each overridable with
``--assume NAME=VALUE``. A billable type without a rule is listed under ``unpriced``, never
counted as zero; :data:`FREE` names the types that cost nothing themselves, and why.

Other entry points:

* ``--plan FILE`` prices an ``infra.plan --json`` file instead of running the program (the PR
  preview prices the base and head plans it already computed);
* ``python -m infra.cost diff BASE.json HEAD.json [--title S]``: markdown of two ``--json``
  estimates, the total before → after and the changed line items (the PR comment section);
* ``python -m infra.cost refresh-prices [--region R ...] [--output FILE]``: rebuild the table from
  the AWS Price List API (``pricing:GetProducts``), which needs AWS credentials.

JSON shape: ``{"stack", "region", "currency": "USD", "monthly_total", "items": [{"resource",
"type", "description", "quantity", "unit", "unit_price", "monthly", "assumption"}], "unpriced":
[types], "assumptions": {...}, "prices": {"source", "date", "verified"}, "warnings": [...]}``.
"""

from __future__ import annotations

import argparse
import calendar
import datetime
import json
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.config import PROJECT, ConfigError

PRICES_FILE = Path(__file__).with_name("prices.json")
CURRENCY = "USD"
TIMES = "\N{MULTIPLICATION SIGN}"

# ---- assumptions --------------------------------------------------------------------------

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
        values[name] = number
    return values


class CostError(ValueError):
    """Bad input to the cost tool (price table, plan, assumption, schedule expression)."""


# ---- price table ----------------------------------------------------------------------------

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class PriceTable:
    source: str
    date: str
    regions: dict[str, dict[str, Any]]
    path: str = ""

    def region(self, region: str) -> RegionPrices:
        if region not in self.regions:
            raise CostError(
                f"price table {self.path or '(given)'} has no prices for region {region!r}; "
                f"it has: {', '.join(sorted(self.regions))}"
            )
        return RegionPrices(region, self.regions[region])


def parse_prices(data: Any, source: str = "price table") -> PriceTable:
    """A price table, refused when it is not dated, not in USD or has no regions."""
    if not isinstance(data, dict):
        raise CostError(f"{source}: expected a JSON object")
    date = data.get("date")
    if not isinstance(date, str) or not _DATE.match(date):
        raise CostError(
            f"{source}: no 'date' (YYYY-MM-DD): a price table without the date its prices were "
            "read is refused (prices change; a figure without a date cannot be checked)"
        )
    if data.get("currency") != CURRENCY:
        raise CostError(f"{source}: 'currency' must be {CURRENCY!r}, got {data.get('currency')!r}")
    regions = data.get("regions")
    if not isinstance(regions, dict) or not regions:
        raise CostError(f"{source}: 'regions' must map region names to prices")
    return PriceTable(source=str(data.get("source") or ""), date=date, regions=regions, path=source)


def load_prices(path: str | Path | None = None) -> PriceTable:
    p = Path(path) if path else PRICES_FILE
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CostError(f"cannot read price table {p}: {exc}") from exc
    except ValueError as exc:
        raise CostError(f"price table {p} is not JSON: {exc}") from exc
    return parse_prices(data, str(p))


@dataclass(frozen=True)
class RegionPrices:
    region: str
    table: Mapping[str, Any]

    def get(self, *path: str) -> float | None:
        node: Any = self.table
        for part in path:
            if not isinstance(node, Mapping) or part not in node:
                return None
            node = node[part]
        return float(node) if isinstance(node, int | float) else None

    @property
    def verified(self) -> bool:
        return bool(self.table.get("verified", False))


# ---- schedules ------------------------------------------------------------------------------

_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\((.+)\)$")
_UNIT_MINUTES = {"minute": 1, "hour": 60, "day": 1440}
_MONTHS = {m.upper(): i for i, m in enumerate(calendar.month_abbr) if m}
_DAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
REFERENCE_YEAR = 2025  # a non-leap year: cron counts are averaged over its 12 months


def _cron_field(text: str, low: int, high: int, names: Mapping[str, int] | None = None) -> set:
    if text in ("*", "?"):
        return set(range(low, high + 1))
    values: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if any(c in base for c in "LW#"):
            raise CostError(f"cron field {text!r}: L, W and # are not supported by the estimate")
        if base in ("*", "?"):
            start, end = low, high
        elif "-" in base:
            a, b = base.split("-", 1)
            start, end = _cron_value(a, names), _cron_value(b, names)
        else:
            start = _cron_value(base, names)
            end = high if step_text else start
        values.update(range(start, end + 1, step))
    return {v for v in values if low <= v <= high}


def _cron_value(text: str, names: Mapping[str, int] | None) -> int:
    key = text.upper()
    if names and key in names:
        return names[key]
    try:
        return int(text)
    except ValueError:
        raise CostError(f"cron value {text!r} is not understood") from None


def runs_per_month(expression: str, hours_per_month: float = 730) -> float:
    """How often an EventBridge schedule fires in an average month.

    ``rate(N unit)``: ``hours_per_month`` * 60 / the interval in minutes. ``cron(min hour dom
    month dow year)`` (EventBridge fields, day-of-week 1-7 = SUN-SAT): the firings of one
    reference year, divided by 12. ``at(...)``: 0 (a one-time schedule is not a monthly cost).
    """
    expression = expression.strip()
    rate = _RATE.match(expression)
    if rate:
        minutes = int(rate.group(1)) * _UNIT_MINUTES[rate.group(2).rstrip("s")]
        return hours_per_month * 60 / minutes
    if expression.startswith("at("):
        return 0.0
    cron = _CRON.match(expression)
    if not cron:
        raise CostError(f"schedule expression {expression!r}: expected rate(...) or cron(...)")
    fields = cron.group(1).split()
    if len(fields) != 6:
        raise CostError(f"cron expression {expression!r}: expected 6 fields")
    minutes = _cron_field(fields[0], 0, 59)
    hours = _cron_field(fields[1], 0, 23)
    months = _cron_field(fields[3], 1, 12, _MONTHS)
    dom_any, dow_any = fields[2] in ("*", "?"), fields[4] in ("*", "?")
    days_of_month = _cron_field(fields[2], 1, 31)
    days_of_week = _cron_field(fields[4], 1, 7, _DAYS)
    fires_per_day = len(minutes) * len(hours)
    days = 0
    day = datetime.date(REFERENCE_YEAR, 1, 1)
    while day.year == REFERENCE_YEAR:
        dow = (day.isoweekday() % 7) + 1  # Sunday = 1
        if day.month in months:
            dom_ok, dow_ok = day.day in days_of_month, dow in days_of_week
            if (dom_ok and dow_ok) if (dom_any or dow_any) else (dom_ok or dow_ok):
                days += 1
        day += datetime.timedelta(days=1)
    return days * fires_per_day / 12


# ---- estimate -------------------------------------------------------------------------------


@dataclass
class Item:
    resource: str
    type: str
    description: str
    quantity: float
    unit: str
    unit_price: float
    assumption: str = ""

    @property
    def monthly(self) -> float:
        return self.quantity * self.unit_price

    def to_dict(self) -> dict[str, Any]:
        return {
            "resource": self.resource,
            "type": self.type,
            "description": self.description,
            "quantity": round(self.quantity, 6),
            "unit": self.unit,
            "unit_price": self.unit_price,
            "monthly": round(self.monthly, 4),
            "assumption": self.assumption,
        }


def _item(
    r: Mapping[str, Any],
    description: str,
    quantity: float,
    unit: str,
    price: float,
    assumption: str = "",
) -> Item:
    """A line item of resource ``r`` (a plan entry)."""
    return Item(r["name"], r["type"], description, quantity, unit, price, assumption)


class Unpriced(Exception):
    """The resource is billable but the table has no price for it (the reason says which)."""


@dataclass
class Context:
    resources: list[dict[str, Any]]
    prices: RegionPrices
    assumptions: dict[str, float]
    warnings: list[str] = field(default_factory=list)

    @property
    def hours(self) -> float:
        return self.assumptions["hours_per_month"]

    def price(self, *path: str) -> float:
        value = self.prices.get(*path)
        if value is None:
            raise Unpriced(f"no price {'.'.join(path)} for {self.prices.region}")
        return value

    def of_type(self, *types: str) -> list[dict[str, Any]]:
        return [r for r in self.resources if r["type"] in types]

    def task_definition(self, arn: Any) -> dict[str, Any] | None:
        match = re.search(r"task-definition/([^:/]+)", str(arn or ""))
        if not match:
            return None
        family = match.group(1)
        return next(
            (td for td in self.of_type(TASK_DEFINITION) if td["inputs"].get("family") == family),
            None,
        )

    def private_task_runs(self) -> tuple[list[dict], list[dict]]:
        """Services and worker schedules whose tasks sit in private subnets (behind NAT)."""
        services = [
            s
            for s in self.of_type(ECS_SERVICE)
            if not (s["inputs"].get("networkConfiguration") or {}).get("assignPublicIp")
        ]
        schedules = [
            s
            for s in self.of_type(SCHEDULE)
            if _ecs_parameters(s) is not None
            and not (_ecs_parameters(s).get("networkConfiguration") or {}).get("assignPublicIp")
        ]
        return services, schedules

    def has_endpoint(self, service_suffix: str, endpoint_type: str) -> bool:
        return any(
            str(e["inputs"].get("serviceName", "")).endswith(service_suffix)
            and str(e["inputs"].get("vpcEndpointType", "Gateway")) == endpoint_type
            for e in self.of_type(VPC_ENDPOINT)
        )


TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
ECS_SERVICE = "aws:ecs/service:Service"
SCHEDULE = "aws:scheduler/schedule:Schedule"
VPC_ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"


def _ecs_parameters(schedule: dict[str, Any]) -> dict[str, Any] | None:
    return ((schedule["inputs"].get("target") or {}).get("ecsParameters")) or None


def _fargate(ctx: Context, r: dict, td: dict, task_hours: float, why: str) -> list[Item]:
    inputs = td["inputs"]
    arch = (inputs.get("runtimePlatform") or {}).get("cpuArchitecture") or "X86_64"
    vcpu = int(inputs.get("cpu", 256)) / 1024
    gb = int(inputs.get("memory", 512)) / 1024
    label = f"{inputs.get('family', td['name'])}, {vcpu:g} vCPU / {gb:g} GB, {arch}"
    items = [
        _item(
            r,
            f"Fargate vCPU ({label})",
            task_hours * vcpu,
            "vCPU-hour",
            ctx.price("fargate", arch, "vcpu_hour"),
            why,
        ),
        _item(
            r,
            f"Fargate memory ({label})",
            task_hours * gb,
            "GB-hour",
            ctx.price("fargate", arch, "gb_hour"),
            why,
        ),
    ]
    extra = max(0, int((inputs.get("ephemeralStorage") or {}).get("sizeInGib", 20)) - 20)
    if extra:
        items.append(
            _item(
                r,
                "Fargate ephemeral storage beyond 20 GB",
                task_hours * extra,
                "GB-hour",
                ctx.price("fargate", "ephemeral_gb_hour"),
                why,
            )
        )
    return items


def _public_ip(ctx: Context, r: dict, hours: float, what: str, why: str) -> Item:
    return _item(
        r, f"public IPv4 address ({what})", hours, "IP-hour", ctx.price("public_ipv4", "hour"), why
    )


def rule_ecs_service(ctx: Context, r: dict) -> list[Item]:
    inputs = r["inputs"]
    if inputs.get("launchType", "FARGATE") != "FARGATE":
        raise Unpriced("only the FARGATE launch type is priced")
    td = ctx.task_definition(inputs.get("taskDefinition"))
    if td is None:
        raise Unpriced(f"task definition {inputs.get('taskDefinition')!r} not in the plan")
    desired = int(inputs.get("desiredCount", 1))
    task_hours = desired * ctx.hours
    why = f"desiredCount {desired} task(s) all month; autoscaling may run more"
    items = _fargate(ctx, r, td, task_hours, why)
    if (inputs.get("networkConfiguration") or {}).get("assignPublicIp"):
        items.append(_public_ip(ctx, r, task_hours, "each task's ENI", why))
    return items


def _worker_runs(ctx: Context, schedule: dict) -> float:
    inputs = schedule["inputs"]
    if inputs.get("state", "ENABLED") != "ENABLED":
        return 0.0
    expr = str(inputs.get("scheduleExpression", ""))
    ecs = _ecs_parameters(schedule) or {}
    return runs_per_month(expr, ctx.hours) * int(ecs.get("taskCount", 1))


def _run_seconds(ctx: Context) -> float:
    return max(60.0, ctx.assumptions["worker_run_seconds"])  # Fargate's one-minute minimum


def rule_schedule(ctx: Context, r: dict) -> list[Item]:
    inputs = r["inputs"]
    expr = inputs.get("scheduleExpression", "")
    if inputs.get("state", "ENABLED") != "ENABLED":
        return [
            _item(r, "schedule disabled: no runs", 0, "run", 0.0, f"state {inputs.get('state')}")
        ]
    runs = _worker_runs(ctx, r)
    runs_note = f"{expr}: {runs:,.0f} runs/month"
    items = [
        _item(
            r,
            "EventBridge Scheduler invocations",
            runs,
            "invocation",
            ctx.price("scheduler", "million_invocations") / 1e6,
            f"{runs_note}; the 14 million free invocations per account are not deducted",
        ),
    ]
    ecs = _ecs_parameters(r)
    if ecs is None:
        return items
    if ecs.get("launchType", "FARGATE") != "FARGATE":
        raise Unpriced("only FARGATE scheduled tasks are priced")
    td = ctx.task_definition(ecs.get("taskDefinitionArn"))
    if td is None:
        raise Unpriced(f"task definition {ecs.get('taskDefinitionArn')!r} not in the plan")
    seconds = _run_seconds(ctx)
    task_hours = runs * seconds / 3600
    why = f"{runs_note} {TIMES} {seconds:g} s billed per run (worker_run_seconds)"
    items += _fargate(ctx, r, td, task_hours, why)
    if (ecs.get("networkConfiguration") or {}).get("assignPublicIp"):
        items.append(_public_ip(ctx, r, task_hours, "each run's ENI", why))
    refs = sum(len(c.get("secrets") or []) for c in _containers(td))
    if refs:
        items.append(
            _item(
                r,
                "Secrets Manager API calls (secrets injected at start)",
                runs * refs,
                "API call",
                ctx.price("secrets_manager", "api_calls_10k") / 1e4,
                f"{runs_note} {TIMES} {refs} secret reference(s) per task start",
            )
        )
    return items


def _containers(td: dict) -> list[dict]:
    raw = td["inputs"].get("containerDefinitions")
    try:
        parsed = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return []
    return [c for c in parsed or [] if isinstance(c, dict)]


def _nat_traffic(ctx: Context) -> tuple[float, str]:
    """GB per month the NAT gateways process, and how that figure was reached."""
    services, schedules = ctx.private_task_runs()
    parts: list[str] = []
    gb = 0.0
    if schedules:
        runs = sum(_worker_runs(ctx, s) for s in schedules)
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
        _item(
            r,
            "NAT gateway hours",
            ctx.hours,
            "hour",
            ctx.price("nat_gateway", "hour"),
            "provisioned all month",
        ),
        _item(
            r,
            "NAT gateway data processed",
            share,
            "GB",
            ctx.price("nat_gateway", "gb"),
            how + split,
        ),
    ]


def rule_eip(ctx: Context, r: dict) -> list[Item]:
    return [_public_ip(ctx, r, ctx.hours, "Elastic IP", "allocated all month")]


def rule_load_balancer(ctx: Context, r: dict) -> list[Item]:
    inputs = r["inputs"]
    if inputs.get("loadBalancerType", "application") != "application":
        raise Unpriced(f"{inputs.get('loadBalancerType')} load balancers are not priced")
    rps = ctx.assumptions["requests_per_second"]
    gb_out = ctx.assumptions["gb_out_per_month"]
    processed_per_hour = gb_out / ctx.hours if ctx.hours else 0.0
    lcu = max(rps / 25, processed_per_hour / 1.0)
    items = [
        _item(r, "ALB hours", ctx.hours, "hour", ctx.price("alb", "hour"), "provisioned all month"),
        _item(
            r,
            "ALB capacity units",
            lcu * ctx.hours,
            "LCU-hour",
            ctx.price("alb", "lcu_hour"),
            f"max of {rps:g} new connections/s ÷ 25 and {processed_per_hour:.3f} GB/h ÷ 1 "
            f"({lcu:.3f} LCU)",
        ),
        _item(
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
            _public_ip(ctx, r, azs * ctx.hours, f"one per AZ, {azs} AZs", "internet-facing")
        )
    return items


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
        _item(
            r,
            f"RDS PostgreSQL {cls} ({deployment})",
            ctx.hours * copies,
            "instance-hour",
            hourly,
            f"running all month {TIMES} {copies}",
        ),
        _item(
            r,
            f"RDS {storage_type} storage",
            allocated * copies,
            "GB-month",
            ctx.price("rds_postgres", f"{storage_type}_gb_month"),
            f"allocatedStorage {allocated:g} GB {TIMES} {copies} (autoscaling may grow it)",
        ),
        _item(
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
            _item(
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
        _item(
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
        _item(
            r,
            "Secrets Manager secret",
            1,
            "secret-month",
            ctx.price("secrets_manager", "secret_month"),
            "",
        )
    ]


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
        _item(
            r,
            f"CloudWatch alarm ({what})",
            len(metrics) or 1,
            "alarm metric-month",
            ctx.price("cloudwatch", key),
            f"{len(metrics) or 1} metric(s) in the alarm",
        ),
    ]


def rule_log_group(ctx: Context, r: dict) -> list[Item]:
    groups = ctx.of_type(r["type"])
    gb = ctx.assumptions["log_gb_per_month"] / len(groups)
    retention = r["inputs"].get("retentionInDays")
    kept_days = float(retention) if retention else 365.0
    stored = gb * kept_days / (ctx.hours / 24)
    share = f", split over {len(groups)} log groups" if len(groups) > 1 else ""
    keep = f"{retention} days retention" if retention else "no retention: a year's logs assumed"
    return [
        _item(
            r,
            "CloudWatch Logs ingestion",
            gb,
            "GB",
            ctx.price("cloudwatch", "logs_ingest_gb"),
            f"log_gb_per_month{share}",
        ),
        _item(
            r,
            "CloudWatch Logs storage",
            stored,
            "GB-month",
            ctx.price("cloudwatch", "logs_storage_gb_month"),
            f"steady state with {keep} (uncompressed: an upper bound)",
        ),
    ]


def rule_web_acl(ctx: Context, r: dict) -> list[Item]:
    rules = len(r["inputs"].get("rules") or [])
    requests = ctx.assumptions["requests_per_second"] * 3600 * ctx.hours / 1e6
    return [
        Item(
            r["name"], r["type"], "WAF web ACL", 1, "ACL-month", ctx.price("waf", "web_acl_month")
        ),
        Item(
            r["name"], r["type"], "WAF rules", rules, "rule-month", ctx.price("waf", "rule_month")
        ),
        _item(
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
            _item(
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
        _item(
            r,
            f"interface endpoint ({inputs.get('serviceName')})",
            azs * ctx.hours,
            "ENI-hour",
            ctx.price("vpc_endpoint", "interface_az_hour"),
            f"one ENI per AZ, {azs} AZs; data processed ($/GB) not counted",
        ),
    ]


def rule_ecr_repository(ctx: Context, r: dict) -> list[Item]:
    kept = 20
    for policy in ctx.of_type("aws:ecr/lifecyclePolicy:LifecyclePolicy"):
        try:
            rules = json.loads(policy["inputs"].get("policy") or "{}").get("rules", [])
        except ValueError:
            continue
        counts = [
            int(rule["selection"]["countNumber"])
            for rule in rules
            if (rule.get("selection") or {}).get("countType") == "imageCountMoreThan"
        ]
        if counts:
            kept = min(counts)
    gb = ctx.assumptions["image_gb"] * (kept + 1)
    return [
        _item(
            r,
            "ECR storage",
            gb,
            "GB-month",
            ctx.price("ecr", "storage_gb_month"),
            f"{kept} images kept by the lifecycle policy + the build cache {TIMES} image_gb "
            "(upper bound: layers shared between images are stored once)",
        ),
    ]


def rule_ecs_cluster(ctx: Context, r: dict) -> list[Item]:
    settings = {s.get("name"): s.get("value") for s in r["inputs"].get("settings") or []}
    if settings.get("containerInsights") not in ("enabled", "enhanced"):
        return []
    services = len(ctx.of_type(ECS_SERVICE))
    families = len(
        {
            str(_ecs_parameters(s).get("taskDefinitionArn"))
            for s in ctx.of_type(SCHEDULE)
            if _ecs_parameters(s)
        }
    )
    sets = 1 + services + families
    per_set = ctx.assumptions["container_insights_metrics"]
    return [
        _item(
            r,
            "Container Insights metrics",
            sets * per_set,
            "metric-month",
            ctx.price("cloudwatch", "custom_metric_month"),
            f"{per_set:g} metrics {TIMES} {sets} dimension sets (cluster, {services} service(s), "
            f"{families} scheduled task famil(ies)); performance log events not counted",
        ),
    ]


Rule = Callable[[Context, dict], list[Item]]

RULES: dict[str, Rule] = {
    ECS_SERVICE: rule_ecs_service,
    SCHEDULE: rule_schedule,
    "aws:ec2/natGateway:NatGateway": rule_nat_gateway,
    "aws:ec2/eip:Eip": rule_eip,
    "aws:lb/loadBalancer:LoadBalancer": rule_load_balancer,
    "aws:alb/loadBalancer:LoadBalancer": rule_load_balancer,
    "aws:rds/instance:Instance": rule_rds_instance,
    "aws:elasticache/replicationGroup:ReplicationGroup": rule_replication_group,
    "aws:secretsmanager/secret:Secret": rule_secret,
    "aws:cloudwatch/metricAlarm:MetricAlarm": rule_metric_alarm,
    "aws:cloudwatch/logGroup:LogGroup": rule_log_group,
    "aws:wafv2/webAcl:WebAcl": rule_web_acl,
    VPC_ENDPOINT: rule_vpc_endpoint,
    "aws:ecr/repository:Repository": rule_ecr_repository,
    "aws:ecs/cluster:Cluster": rule_ecs_cluster,
}

# Types that cost nothing by themselves, and why (what they cause is priced elsewhere).
FREE: dict[str, str] = {
    "aws:ec2/vpc:Vpc": "no charge",
    "aws:ec2/subnet:Subnet": "no charge",
    "aws:ec2/routeTable:RouteTable": "no charge",
    "aws:ec2/route:Route": "no charge",
    "aws:ec2/routeTableAssociation:RouteTableAssociation": "no charge",
    "aws:ec2/internetGateway:InternetGateway": "no charge (data transfer priced on the ALB)",
    "aws:ec2/securityGroup:SecurityGroup": "no charge",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": "no charge",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": "no charge",
    "aws:ec2/securityGroupRule:SecurityGroupRule": "no charge",
    "aws:iam/role:Role": "no charge",
    "aws:iam/rolePolicy:RolePolicy": "no charge",
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": "no charge",
    TASK_DEFINITION: "no charge (the service and schedules that run it are priced)",
    "aws:appautoscaling/target:Target": "no charge",
    "aws:appautoscaling/policy:Policy": "no charge (its alarms are managed by AWS, free)",
    "aws:lb/listener:Listener": "no charge (the ALB is priced)",
    "aws:alb/listener:Listener": "no charge (the ALB is priced)",
    "aws:lb/targetGroup:TargetGroup": "no charge (the ALB is priced)",
    "aws:alb/targetGroup:TargetGroup": "no charge (the ALB is priced)",
    "aws:wafv2/webAclAssociation:WebAclAssociation": "no charge (the web ACL is priced)",
    "aws:rds/subnetGroup:SubnetGroup": "no charge",
    "aws:rds/parameterGroup:ParameterGroup": "no charge",
    "aws:elasticache/subnetGroup:SubnetGroup": "no charge",
    "aws:elasticache/parameterGroup:ParameterGroup": "no charge",
    "aws:secretsmanager/secretVersion:SecretVersion": "no charge (the secret is priced)",
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": "no charge",
    "aws:sns/topic:Topic": "no charge for a topic; the first million publishes a month are free",
    "aws:sns/topicSubscription:TopicSubscription": "the first 1,000 email notifications a month "
    "are free",
    "aws:acm/certificate:Certificate": "public certificates are free",
    "docker-build:index:Image": "built where `pulumi up` runs; storage priced on the repository",
    "random:index/randomPassword:RandomPassword": "local value, no cloud resource",
    "random:index/randomString:RandomString": "local value, no cloud resource",
    "random:index/randomId:RandomId": "local value, no cloud resource",
}


def is_free(rtype: str) -> bool:
    return rtype in FREE or rtype.startswith("pulumi:providers:")


def is_component(rtype: str) -> bool:
    """The program's own components (``service:infra:Network``) are groupings, not resources."""
    return rtype.startswith(f"{PROJECT}:")


def estimate(
    resources: list[dict[str, Any]],
    *,
    stack: str,
    region: str,
    prices: PriceTable,
    assumptions: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """Price ``resources`` (``infra.plan --json`` entries) with ``prices`` for ``region``."""
    values = default_assumptions()
    values.update(assumptions or {})
    region_prices = prices.region(region)
    ctx = Context(resources=resources, prices=region_prices, assumptions=values)
    if not region_prices.verified:
        ctx.warnings.append(
            f"prices for {region} are not cross-checked (infra/prices.json notes); "
            "refresh them with `python -m infra.cost refresh-prices`"
        )
    items: list[Item] = []
    unpriced: set[str] = set()
    for r in sorted(resources, key=lambda r: (r["type"], r["name"])):
        rtype = r["type"]
        rule = RULES.get(rtype)
        if rule is None:
            if not (is_free(rtype) or is_component(rtype)):
                unpriced.add(rtype)
                ctx.warnings.append(f"{r['name']} ({rtype}): billable type without a rule")
            continue
        try:
            items.extend(rule(ctx, r))
        except Unpriced as exc:
            unpriced.add(rtype)
            ctx.warnings.append(f"{r['name']} ({rtype}): not priced: {exc}")
    total = sum(i.monthly for i in items)
    return {
        "stack": stack,
        "region": region,
        "currency": CURRENCY,
        "monthly_total": round(total, 2),
        "items": [i.to_dict() for i in items],
        "unpriced": sorted(unpriced),
        "assumptions": values,
        "prices": {
            "source": prices.source,
            "date": prices.date,
            "verified": region_prices.verified,
        },
        "warnings": ctx.warnings,
    }


def plan_region(resources: list[dict[str, Any]]) -> str | None:
    """The region of the plan's explicit aws provider, if it has one."""
    for r in resources:
        if r.get("type") == "pulumi:providers:aws" and (r.get("inputs") or {}).get("region"):
            return str(r["inputs"]["region"])
    return None


# ---- rendering ------------------------------------------------------------------------------


def money(value: float) -> str:
    return f"${value:,.2f}"


def signed(value: float) -> str:
    sign = "+" if value > 0.004 else "-" if value < -0.004 else "±"
    return f"{sign}${abs(value):,.2f}"


def number(value: float) -> str:
    return f"{value:,.2f}".rstrip("0").rstrip(".") if value % 1 else f"{value:,.0f}"


def unit_price(value: float) -> str:
    whole, _, decimals = f"{value:.8f}".partition(".")
    decimals = decimals.rstrip("0").ljust(2, "0")
    return f"${whole}.{decimals}"


def item_line(item: Mapping[str, Any]) -> str:
    return (
        f"{item['description']}: {number(item['quantity'])} {item['unit']} {TIMES} "
        f"{unit_price(item['unit_price'])}"
    )


def render_text(report: Mapping[str, Any]) -> str:
    lines = [
        f"stack {report['stack']} ({report['region']}): {money(report['monthly_total'])}/month "
        f"(prices of {report['prices']['date']}, offline estimate)",
        "",
    ]
    width = max((len(i["resource"]) for i in report["items"]), default=8)
    for item in sorted(report["items"], key=lambda i: -i["monthly"]):
        lines.append(
            f"{money(item['monthly']):>11}  {item['resource']:<{width}}  {item_line(item)}"
            + (f"  [{item['assumption']}]" if item["assumption"] else "")
        )
    lines.append("")
    if report["unpriced"]:
        lines.append("unpriced (not counted): " + ", ".join(report["unpriced"]))
    for warning in report["warnings"]:
        lines.append(f"warning: {warning}")
    lines.append(
        "assumptions: "
        + ", ".join(f"{k}={v:g}" for k, v in sorted(report["assumptions"].items()))
        + " (override with --assume NAME=VALUE)"
    )
    verified = "" if report["prices"].get("verified", True) else ", not cross-checked for it"
    lines.append(f"prices: list prices of {report['prices']['date']}{verified} (--prices FILE)")
    return "\n".join(lines) + "\n"


def _item_key(item: Mapping[str, Any]) -> tuple[str, str, str]:
    return (item["resource"], item["type"], item["description"])


def render_diff(
    base: Mapping[str, Any] | None, head: Mapping[str, Any], title: str | None = None
) -> str:
    """Markdown: the monthly estimate before → after, and every line item that moved."""
    before_total = float(base["monthly_total"]) if base else 0.0
    after_total = float(head["monthly_total"])
    heading = f"#### Monthly cost estimate: {title}" if title else "#### Monthly cost estimate"
    prices = head["prices"]
    out = [
        heading,
        "",
        f"**{money(before_total)} → {money(after_total)} per month "
        f"({signed(after_total - before_total)})** · {head['region']} · list prices of "
        f"{prices['date']}"
        + ("" if prices.get("verified", True) else " (not cross-checked for this region)")
        + " · offline estimate from the plan and the assumptions below",
        "",
    ]
    old = {_item_key(i): i for i in (base or {}).get("items", [])}
    new = {_item_key(i): i for i in head.get("items", [])}
    rows = []
    for key in sorted(old.keys() | new.keys()):
        b, h = old.get(key), new.get(key)
        before = float(b["monthly"]) if b else 0.0
        after = float(h["monthly"]) if h else 0.0
        if b and h and round(before, 2) == round(after, 2):
            continue
        shown = h or b
        assert shown is not None
        rows.append(
            (
                after - before,
                f"| {signed(after - before)} | `{shown['resource']}` {_md(item_line(shown))} | "
                f"{money(before) if b else '—'} | {money(after) if h else '—'} |",
            )
        )
    if rows:
        out += ["| change | line item | before | after |", "|---|---|---|---|"]
        out += [row for _, row in sorted(rows, key=lambda r: (-abs(r[0]), r[1]))]
    else:
        out.append(f"No line item changed ({len(new)} line items).")
    out.append("")
    added_unpriced = sorted(set(head.get("unpriced", [])) - set((base or {}).get("unpriced", [])))
    if head.get("unpriced"):
        out.append(
            "**Unpriced (not in the total):** "
            + ", ".join(
                f"`{t}`" + (" (new)" if t in added_unpriced else "") for t in head["unpriced"]
            )
        )
        out.append("")
    assumptions = ", ".join(f"{k}={v:g}" for k, v in sorted(head["assumptions"].items()))
    out.append(f"<sub>Assumptions: {assumptions} (`python -m infra.cost --help`).</sub>")
    out.append("")
    return "\n".join(out)


def _md(text: str) -> str:
    return text.replace("|", "\\|")


# ---- refresh-prices (AWS Price List API) ----------------------------------------------------


@dataclass(frozen=True)
class PriceQuery:
    """Where one price of the table comes from in ``pricing:GetProducts``.

    ``filters`` are TERM_MATCH filters (``regionCode`` is added); a product is taken when its
    ``usagetype`` ends with ``usagetype`` (usage types carry a region prefix such as ``USE2-``,
    none in us-east-1 for some services). ``scale`` converts the API's unit to the table's
    (per request -> per million requests).
    """

    path: tuple[str, ...]
    service: str
    filters: tuple[tuple[str, str], ...] = ()
    usagetype: str = ""
    scale: float = 1.0


# Prices with one product per region: (table path, ServiceCode, productFamily or "", usagetype
# suffix). Usage types carry a region prefix (USW2-, EUC1-; none for some us-east-1 ones).
_FIXED_QUERIES: tuple[tuple[str, str, str, str], ...] = (
    ("fargate.X86_64.vcpu_hour", "AmazonECS", "", "Fargate-vCPU-Hours:perCPU"),
    ("fargate.X86_64.gb_hour", "AmazonECS", "", "Fargate-GB-Hours"),
    ("fargate.ARM64.vcpu_hour", "AmazonECS", "", "Fargate-ARM-vCPU-Hours:perCPU"),
    ("fargate.ARM64.gb_hour", "AmazonECS", "", "Fargate-ARM-GB-Hours"),
    ("nat_gateway.hour", "AmazonEC2", "NAT Gateway", "NatGateway-Hours"),
    ("nat_gateway.gb", "AmazonEC2", "NAT Gateway", "NatGateway-Bytes"),
    ("alb.hour", "AWSELB", "Load Balancer-Application", "LoadBalancerUsage"),
    ("alb.lcu_hour", "AWSELB", "Load Balancer-Application", "LCUUsage"),
    ("rds_postgres.gp3_gb_month", "AmazonRDS", "Database Storage", "RDS:GP3-Storage"),
    ("rds_postgres.gp2_gb_month", "AmazonRDS", "Database Storage", "RDS:GP2-Storage"),
    ("rds_postgres.backup_gb_month", "AmazonRDS", "", "RDS:ChargedBackupUsage"),
    ("public_ipv4.hour", "AmazonVPC", "", "PublicIPv4:InUseAddress"),
    ("vpc_endpoint.interface_az_hour", "AmazonVPC", "", "VpcEndpoint-Hours"),
    ("vpc_endpoint.gb", "AmazonVPC", "", "VpcEndpoint-Bytes"),
    ("secrets_manager.secret_month", "AWSSecretsManager", "", "AWSSecretsManager-Secrets"),
    ("cloudwatch.alarm_metric_month", "AmazonCloudWatch", "", "CW:AlarmMonitorUsage"),
    ("cloudwatch.logs_ingest_gb", "AmazonCloudWatch", "", "DataProcessing-Bytes"),
    ("cloudwatch.logs_storage_gb_month", "AmazonCloudWatch", "", "TimedStorage-ByteHrs"),
    ("ecr.storage_gb_month", "AmazonECR", "", "TimedStorage-ByteHrs"),
)


def price_queries(table_region: Mapping[str, Any]) -> list[PriceQuery]:
    """The queries for one region; instance and node classes follow the classes already in the
    table (add a class to the table to have it priced)."""
    queries = [
        PriceQuery(
            tuple(path.split(".")),
            service,
            (("productFamily", family),) if family else (),
            usagetype,
        )
        for path, service, family, usagetype in _FIXED_QUERIES
    ]
    rds = (table_region.get("rds_postgres") or {}).get("instance_hour") or {}
    for cls in sorted(rds):
        queries.append(
            PriceQuery(
                ("rds_postgres", "instance_hour", cls),
                "AmazonRDS",
                (
                    ("productFamily", "Database Instance"),
                    ("instanceType", cls),
                    ("databaseEngine", "PostgreSQL"),
                    ("deploymentOption", "Single-AZ"),
                ),
                "",
            )
        )
    cache = (table_region.get("elasticache") or {}).get("node_hour") or {}
    for node in sorted(cache):
        queries.append(
            PriceQuery(
                ("elasticache", "node_hour", node),
                "AmazonElastiCache",
                (
                    ("productFamily", "Cache Instance"),
                    ("instanceType", node),
                    ("cacheEngine", "Redis"),
                ),
                "",
            )
        )
    return queries


def _on_demand_price(product: Mapping[str, Any]) -> float | None:
    for term in (product.get("terms", {}).get("OnDemand") or {}).values():
        for dim in (term.get("priceDimensions") or {}).values():
            if str(dim.get("beginRange", "0")) in ("0", "0.0"):
                usd = (dim.get("pricePerUnit") or {}).get("USD")
                if usd is not None:
                    return float(usd)
    return None


def fetch_price(client: Any, region: str, query: PriceQuery) -> float | None:
    """The on-demand price of ``query`` in ``region`` (first tier), or None if not found or
    ambiguous (several products with different prices)."""
    filters = [{"Type": "TERM_MATCH", "Field": "regionCode", "Value": region}]
    filters += [{"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in query.filters]
    found: set[float] = set()
    token = None
    while True:
        params: dict[str, Any] = {
            "ServiceCode": query.service,
            "Filters": filters,
            "FormatVersion": "aws_v1",
            "MaxResults": 100,
        }
        if token:
            params["NextToken"] = token
        page = client.get_products(**params)
        for raw in page.get("PriceList", []):
            product = json.loads(raw) if isinstance(raw, str) else raw
            usage = str(product.get("product", {}).get("attributes", {}).get("usagetype", ""))
            if query.usagetype and not (
                usage == query.usagetype or usage.endswith("-" + query.usagetype)
            ):
                continue
            price = _on_demand_price(product)
            if price is not None and price > 0:
                found.add(round(price * query.scale, 10))
        token = page.get("NextToken")
        if not token:
            break
    return found.pop() if len(found) == 1 else None


def refresh_prices(
    table: PriceTable, regions: Iterable[str], client: Any, today: str
) -> tuple[dict[str, Any], list[str]]:
    """A new price table (as JSON data) with every price ``price_queries`` can find replaced by
    the Price List API's; prices it cannot find are kept and reported."""
    data_regions = json.loads(json.dumps(table.regions))
    report: list[str] = []
    for region in regions:
        current = data_regions.setdefault(region, {})
        kept = []
        for query in price_queries(current or table.regions.get("us-east-1", {})):
            value = fetch_price(client, region, query)
            if value is None:
                kept.append(".".join(query.path))
                continue
            node = current
            for part in query.path[:-1]:
                node = node.setdefault(part, {})
            node[query.path[-1]] = value
        current["verified"] = True
        current["notes"] = f"refreshed from the AWS Price List API on {today}" + (
            f"; kept from the previous table: {', '.join(kept)}" if kept else ""
        )
        report.append(f"{region}: {len(kept)} price(s) kept from the previous table")
    data = {
        "source": "AWS Price List API (pricing:GetProducts, on-demand, first tier); kept values: "
        + table.source,
        "date": today,
        "currency": CURRENCY,
        "regions": data_regions,
    }
    return data, report


def _pricing_client() -> Any:
    import boto3

    session = boto3.Session()
    if session.get_credentials() is None:
        raise CostError(
            "refresh-prices needs AWS credentials (pricing:GetProducts); none found. The "
            "estimate itself never needs them."
        )
    # The Price List API answers from us-east-1 (and eu-central-1, ap-south-1) only.
    return session.client("pricing", region_name="us-east-1")


# ---- CLI ------------------------------------------------------------------------------------


def _estimate_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m infra.cost",
        description="Offline monthly cost estimate of a stack (subcommands: diff, "
        "refresh-prices; see the module docstring).",
        epilog="assumptions: "
        + "; ".join(f"{k} (default {v:g}): {d}" for k, (v, d) in ASSUMPTIONS.items()),
    )
    parser.add_argument("--stack", required=True, help="dev, staging, prod, ...")
    parser.add_argument("--json", action="store_true", help="print the estimate as JSON")
    parser.add_argument("--prices", help="price table (default: infra/prices.json)")
    parser.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a stack config value for this run (as infra.plan --config)",
    )
    parser.add_argument("--plan", help="price this `infra.plan --json` file instead of the program")
    parser.add_argument("--region", help="region of the plan (default: its aws provider's)")
    parser.add_argument(
        "--assume", action="append", default=[], metavar="NAME=VALUE", help="override an assumption"
    )
    return parser


def _resources(args: argparse.Namespace) -> list[dict[str, Any]]:
    if args.plan:
        text = Path(args.plan).read_text(encoding="utf-8").strip()
        data = json.loads(text) if text else []
        if not isinstance(data, list):
            raise CostError(f"{args.plan}: expected the JSON list `infra.plan --json` prints")
        return data
    from infra import plan

    return plan.plan(args.stack, plan.parse_overrides(args.config))


def _main_estimate(argv: list[str]) -> int:
    args = _estimate_parser().parse_args(argv)
    from infra import stackfiles

    try:
        prices = load_prices(args.prices)
        assumptions = parse_assumptions(args.assume)
        resources = _resources(args)
        region = args.region or plan_region(resources)
        if region is None:
            from infra.plan import load_stack_config

            region = str(load_stack_config(args.stack).get("aws:region") or "")
        if not region:
            raise CostError("no region: the plan has no aws provider; pass --region")
        report = estimate(
            resources, stack=args.stack, region=region, prices=prices, assumptions=assumptions
        )
    except (CostError, ConfigError, stackfiles.StackFileError, OSError, ValueError) as exc:
        print(f"cost: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report, indent=2, sort_keys=True))
    else:
        sys.stdout.write(render_text(report))
    return 0


def _main_diff(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.cost diff",
        description="Markdown: monthly estimate of BASE -> HEAD (`infra.cost --json` outputs).",
    )
    parser.add_argument("base", help="estimate JSON of the base (empty file: nothing deployed)")
    parser.add_argument("head", help="estimate JSON of the head")
    parser.add_argument("--title", help="heading, e.g. the stack name")
    args = parser.parse_args(argv)
    try:
        base_text = Path(args.base).read_text(encoding="utf-8").strip()
        base = json.loads(base_text) if base_text else None
        head = json.loads(Path(args.head).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        print(f"cost diff: {exc}", file=sys.stderr)
        return 1
    sys.stdout.write(render_diff(base, head, args.title))
    return 0


def _main_refresh(argv: list[str], client: Any = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.cost refresh-prices",
        description="Rebuild the price table from the AWS Price List API (needs credentials).",
    )
    parser.add_argument("--prices", help="table to start from (default: infra/prices.json)")
    parser.add_argument("--output", help="where to write (default: the --prices table)")
    parser.add_argument(
        "--region", action="append", default=[], help="region to refresh (default: all)"
    )
    args = parser.parse_args(argv)
    try:
        table = load_prices(args.prices)
        regions = args.region or sorted(table.regions)
        client = client or _pricing_client()
        data, report = refresh_prices(
            table, regions, client, today=datetime.date.today().isoformat()
        )
    except CostError as exc:
        print(f"refresh-prices: {exc}", file=sys.stderr)
        return 2
    output = Path(args.output or args.prices or PRICES_FILE)
    output.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    for line in report:
        print(line)
    print(f"wrote {output}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["diff"]:
        return _main_diff(argv[1:])
    if argv[:1] == ["refresh-prices"]:
        return _main_refresh(argv[1:])
    return _main_estimate(argv)


if __name__ == "__main__":
    sys.exit(main())
