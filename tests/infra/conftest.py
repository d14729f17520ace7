"""Fixtures: the Pulumi program run under mocks, once per stack (and per config variant)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from infra.tools.mocks import Recorded, Run, mock_id, run_program
from infra.tools.plan import load_stack_config

TEST_IMAGE_TAG = "0123456789ab"
STACKS = ("dev", "staging", "prod")

_cache: dict[str, Run] = {}


def run_stack(stack: str, **overrides: Any) -> Run:
    """The program for ``stack`` with its real stack file plus ``overrides`` (short keys).

    ``overrides`` use project keys without the namespace (``taskCpu=512``) or full keys via
    ``**{"aws:region": ...}``; a value of ``None`` removes the key. Runs are cached per arguments.
    """
    config = load_stack_config(stack)
    config["service:imageTag"] = TEST_IMAGE_TAG
    for name, value in overrides.items():
        full = name if ":" in name else f"service:{name}"
        if value is None:
            config.pop(full, None)
        else:
            config[full] = value
    key = json.dumps([stack, config], sort_keys=True, default=str)
    if key not in _cache:
        _cache[key] = run_program(stack, config)
    return _cache[key]


@pytest.fixture(scope="session")
def stack_run() -> Callable[..., Run]:
    return run_stack


@pytest.fixture(scope="session", params=STACKS)
def any_stack(request) -> tuple[str, Run]:
    return request.param, run_stack(request.param)


@pytest.fixture(scope="session")
def dev() -> Run:
    return run_stack("dev")


@pytest.fixture(scope="session")
def staging() -> Run:
    return run_stack("staging")


@pytest.fixture(scope="session")
def prod() -> Run:
    return run_stack("prod")


# One run of dev with every optional setting changed, shared by the tests of those settings.
CUSTOM = {
    "cpuArchitecture": "ARM64",
    "rateLimits": {"RATE_LIMIT_AUTH_TOKEN": "5/minute"},
    "tags": {"cost-center": "42"},
    "workerSchedule": "rate(5 minutes)",
    "alarmEmail": "oncall@example.com",
}


@pytest.fixture(scope="session")
def custom() -> Run:
    return run_stack("dev", **CUSTOM)


def subnet_ids(run: Run, tier: str) -> list[str]:
    """The mock ids (``subnet-<hash>``) of the stack's ``public`` or ``private`` subnets."""
    subnets = [
        s for s in run.of_type("aws:ec2/subnet:Subnet") if s.name.startswith(f"network-{tier}-")
    ]
    return [mock_id(s) for s in sorted(subnets, key=lambda s: int(s.name.rsplit("-", 1)[1]))]


def containers(task_definition: Recorded) -> dict[str, dict]:
    """The task definition's containers by name."""
    return {
        c["name"]: c for c in json.loads(task_definition.plain_inputs()["containerDefinitions"])
    }


def policy_statements(role_policy: Recorded) -> list[dict]:
    return json.loads(role_policy.plain_inputs()["policy"])["Statement"]
