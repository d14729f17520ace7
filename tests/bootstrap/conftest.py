"""Fixtures: the bootstrap program run under mocks (its committed stack file), and its policy
documents as the provider would receive them."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from infra.bootstrap import policies
from infra.bootstrap.plan import run
from infra.tools.mocks import Recorded, Run

_cache: dict[str, Run] = {}


def run_bootstrap(**overrides: Any) -> Run:
    """The bootstrap's ``account`` stack with ``overrides`` (short keys are the bootstrap
    project's, ``aws:region`` style keys are taken as they are; ``None`` removes a key)."""
    config = {(k if ":" in k else f"service-bootstrap:{k}"): v for k, v in overrides.items()}
    key = json.dumps(config, sort_keys=True)
    if key not in _cache:
        _cache[key] = run("account", config)
    return _cache[key]


@pytest.fixture(scope="session")
def bootstrap() -> Run:
    return run_bootstrap()


@pytest.fixture(scope="session")
def bootstrap_run() -> Callable[..., Run]:
    return run_bootstrap


def document(resource: Recorded, key: str = "policy") -> dict:
    return json.loads(resource.plain_inputs()[key])


@pytest.fixture(scope="session")
def role_policies(bootstrap) -> dict[str, dict]:
    """Each CI role's inline policy by kind (preview, deploy-staging, ...)."""
    return {
        kind: document(bootstrap.named(f"github-{kind}-policy")) for kind in policies.ROLE_KINDS
    }


@pytest.fixture(scope="session")
def trust_policies(bootstrap) -> dict[str, dict]:
    return {
        kind: document(bootstrap.named(f"github-{kind}", "aws:iam/role:Role"), "assumeRolePolicy")
        for kind in policies.ROLE_KINDS
    }


@pytest.fixture(scope="session")
def boundary(bootstrap) -> dict:
    return document(bootstrap.named("github-boundary"))


def statement(doc: dict, sid: str) -> dict:
    found = [s for s in doc["Statement"] if s.get("Sid") == sid]
    assert len(found) == 1, f"expected one statement {sid!r}, found {len(found)}"
    return found[0]


@pytest.fixture(scope="session")
def key_arns(role_policies) -> policies.KeyArns:
    """The three KMS key ARNs as the mocks answered them (``.../key/<logical name>...``)."""
    prod = statement(role_policies["preview-prod"], "DecryptProdStackSecrets")["Resource"]
    nonprod = statement(role_policies["preview"], "DecryptNonProdStackSecrets")["Resource"]
    state = statement(role_policies["preview"], "StateBucketEncryption")["Resource"]
    for arn, logical in (
        (prod, "secrets-prod"),
        (nonprod, "secrets-nonprod"),
        (state, "state-key"),
    ):
        assert arn.split(":key/")[1].startswith(logical), (arn, logical)
    assert len({prod, nonprod, state}) == 3
    return policies.KeyArns(state=state, nonprod=nonprod, prod=prod)


ACCOUNT = "123456789012"
REGION = "us-east-1"
BUCKET = f"service-pulumi-state-{ACCOUNT}-{REGION}"
BUCKET_ARN = f"arn:aws:s3:::{BUCKET}"
REPOSITORY = "example-org/service"  # Pulumi.account.yaml


def state_object(stack: str, name: str = "{stack}.json") -> str:
    return f"{BUCKET_ARN}/.pulumi/stacks/service/{name.format(stack=stack)}"


def role_arn(kind: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/service-ci/service-gha-{kind}"
