"""Containers: ECS services and scheduled worker runs on Fargate, the cluster's Container
Insights, and the image repository."""

from __future__ import annotations

import json

from infra.tools.cost.context import (
    ECS_SERVICE,
    SCHEDULE,
    TIMES,
    Context,
    Item,
    Unpriced,
    ecs_parameters,
    line_item,
)
from infra.tools.cost.rules.network import public_ip


def _fargate(ctx: Context, r: dict, td: dict, task_hours: float, why: str) -> list[Item]:
    inputs = td["inputs"]
    arch = (inputs.get("runtimePlatform") or {}).get("cpuArchitecture") or "X86_64"
    vcpu = int(inputs.get("cpu", 256)) / 1024
    gb = int(inputs.get("memory", 512)) / 1024
    label = f"{inputs.get('family', td['name'])}, {vcpu:g} vCPU / {gb:g} GB, {arch}"
    items = [
        line_item(
            r,
            f"Fargate vCPU ({label})",
            task_hours * vcpu,
            "vCPU-hour",
            ctx.price("fargate", arch, "vcpu_hour"),
            why,
        ),
        line_item(
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
            line_item(
                r,
                "Fargate ephemeral storage beyond 20 GB",
                task_hours * extra,
                "GB-hour",
                ctx.price("fargate", "ephemeral_gb_hour"),
                why,
            )
        )
    return items


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
        items.append(public_ip(ctx, r, task_hours, "each task's ENI", why))
    return items


def _run_seconds(ctx: Context) -> float:
    return max(60.0, ctx.assumptions["worker_run_seconds"])  # Fargate's one-minute minimum


def rule_schedule(ctx: Context, r: dict) -> list[Item]:
    inputs = r["inputs"]
    expr = inputs.get("scheduleExpression", "")
    if inputs.get("state", "ENABLED") != "ENABLED":
        return [
            line_item(
                r, "schedule disabled: no runs", 0, "run", 0.0, f"state {inputs.get('state')}"
            )
        ]
    runs = ctx.worker_runs(r)
    runs_note = f"{expr}: {runs:,.0f} runs/month"
    items = [
        line_item(
            r,
            "EventBridge Scheduler invocations",
            runs,
            "invocation",
            ctx.price("scheduler", "million_invocations") / 1e6,
            f"{runs_note}; the 14 million free invocations per account are not deducted",
        ),
    ]
    ecs = ecs_parameters(r)
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
        items.append(public_ip(ctx, r, task_hours, "each run's ENI", why))
    refs = sum(len(c.get("secrets") or []) for c in _containers(td))
    if refs:
        items.append(
            line_item(
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
        line_item(
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
            str(ecs_parameters(s).get("taskDefinitionArn"))
            for s in ctx.of_type(SCHEDULE)
            if ecs_parameters(s)
        }
    )
    sets = 1 + services + families
    per_set = ctx.assumptions["container_insights_metrics"]
    return [
        line_item(
            r,
            "Container Insights metrics",
            sets * per_set,
            "metric-month",
            ctx.price("cloudwatch", "custom_metric_month"),
            f"{per_set:g} metrics {TIMES} {sets} dimension sets (cluster, {services} service(s), "
            f"{families} scheduled task famil(ies)); performance log events not counted",
        ),
    ]
