"""The configuration of a review stack (``pr-<n>``): derived from staging's, made small and
disposable. There is no ``Pulumi.pr-<n>.yaml``; the stack's reader reads these values instead."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pulumi.runtime.config import CONFIG, get_config_env

from infra import stackfiles
from infra.config.reader import REPO_ROOT, ConfigError
from infra.review import REVIEW_SOURCE_STACK, REVIEW_TAG, review_number

# What makes a review stack (pr-<n>) disposable and small, whatever staging's file says. NAT:
# none (the program then runs tasks in public subnets with a public IP, as dev does); nothing in
# the program needs a NAT gateway otherwise. The network keeps two AZs because an ALB and an RDS
# subnet group require subnets in two; the data tier is single-AZ (dbMultiAz false, one cache
# node, one task). No certificate or domain: staging's DNS name points at staging's ALB, and a
# review stack pages nobody.
REVIEW_OVERRIDES: dict[str, Any] = {
    "ephemeral": True,
    "protect": False,
    "natGateways": "none",
    "interfaceEndpoints": False,
    "desiredCount": 1,
    "minCount": 1,
    "maxCount": 1,
    "taskCpu": 256,
    "taskMemory": 512,
    "dbInstanceClass": "db.t4g.micro",
    "dbAllocatedStorage": 20,
    "dbMaxAllocatedStorage": 20,
    "dbMultiAz": False,
    "dbBackupRetentionDays": 1,
    "dbPerformanceInsights": False,
    "dbMonitoringInterval": 0,
    "cacheNodeType": "cache.t4g.micro",
    "cacheNodes": 1,
    "logRetentionDays": 3,
    "wafEnabled": False,
    "albAccessLogs": False,
    "certificateArn": "",
    "domainName": "",
    "requireHttps": False,
    "alarmEmail": "",
    "alarmTopicArn": "",
    # One task, no alarm recipients: a canary would only make each push wait for its bakes.
    "deploymentStrategy": "rolling",
}


def config_string(value: Any) -> str:
    """A config value as the engine hands it to the program: strings, objects as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)


def _full(key: str, project: str) -> str:
    return key if ":" in key else f"{project}:{key}"


def project_defaults(project: str, root: Path = REPO_ROOT) -> dict[str, str]:
    """Pulumi.yaml's defaults as the engine passes them (full keys, strings)."""
    declared = (stackfiles.load(root / "Pulumi.yaml") or {}).get("config") or {}
    values: dict[str, str] = {}
    for key, spec in declared.items():
        if isinstance(spec, dict) and ("default" in spec or "value" in spec):
            values[_full(key, project)] = config_string(spec.get("value", spec.get("default")))
        elif not isinstance(spec, dict):
            values[_full(key, project)] = config_string(spec)
    return values


def derive_review_config(
    stack: str,
    project: str,
    own: dict[str, str] | None = None,
    root: Path = REPO_ROOT,
) -> dict[str, str]:
    """The configuration of review stack ``stack`` (``pr-<n>``), derived from staging's.

    Layers, last wins: Pulumi.yaml's defaults; ``Pulumi.staging.yaml`` (its ``secure:`` values
    are skipped: they are encrypted for staging); the review stack's own values that differ from
    the defaults (``pulumi config set`` or the workflow's ``imageTag``); :data:`REVIEW_OVERRIDES`;
    ``environment`` (staging's), the first two of staging's availability zones and the
    ``review-stack`` tag. ``own`` defaults to the config the engine passed the program.
    """
    number = review_number(stack)
    if number is None:
        raise ConfigError(f"stack '{stack}' is not a review stack (pr-<1..999999>)")
    if own is None:
        own = {**get_config_env(), **CONFIG.get()}
    defaults = project_defaults(project, root)
    values = dict(defaults)
    source = root / f"Pulumi.{REVIEW_SOURCE_STACK}.yaml"
    staging = (stackfiles.load(source) or {}).get("config") or {}
    for key, value in staging.items():
        if isinstance(value, dict) and "secure" in value:
            continue
        values[_full(key, project)] = config_string(value)
    for key, value in own.items():
        ours = key.startswith((f"{project}:", "aws:"))
        if ours and value != defaults.get(key):
            values[key] = value
    for key, value in REVIEW_OVERRIDES.items():
        values[f"{project}:{key}"] = config_string(value)
    env_key = f"{project}:environment"
    values[env_key] = values.get(env_key) or REVIEW_SOURCE_STACK
    azs_key = f"{project}:availabilityZones"
    try:
        azs = json.loads(values.get(azs_key) or "[]")
    except ValueError:
        azs = None
    if isinstance(azs, list) and len(azs) > 2:
        values[azs_key] = json.dumps(azs[:2])
    tags_key = f"{project}:tags"
    try:
        tags = json.loads(values.get(tags_key) or "{}")
    except ValueError:
        tags = None
    if isinstance(tags, dict):
        values[tags_key] = json.dumps({**tags, REVIEW_TAG: stack})
    return values
