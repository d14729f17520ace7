"""Review stacks pr-<n>: configuration derived from staging's, disposable, small, named within
every AWS limit up to pr-999999; and the janitor's choice of stacks to destroy."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from infra import review
from infra.config import REVIEW_OVERRIDES, ConfigError, derive_review_config
from infra.tools import review as janitor
from infra.tools.mocks import mock_identity, physical_name
from infra.tools.plan import load_stack_config, plan
from tests.infra.conftest import run_stack

LIMITS = {  # type -> (name input, AWS limit)
    "aws:lb/loadBalancer:LoadBalancer": ("name", 32),
    "aws:lb/targetGroup:TargetGroup": ("name", 32),
    "aws:elasticache/replicationGroup:ReplicationGroup": ("replicationGroupId", 40),
    "aws:rds/instance:Instance": ("identifier", 63),
    "aws:iam/role:Role": ("name", 64),
}


def derived(stack: str = "pr-123", **own: str) -> dict[str, str]:
    return derive_review_config(stack, "service", own={f"service:{k}": v for k, v in own.items()})


def test_review_stack_names_are_pr_and_a_number_up_to_999999():
    assert review.review_number("pr-1") == 1
    assert review.review_number("org/service/pr-999999") == 999999
    for name in ("pr-0", "pr-1000000", "pr-01", "staging", "pr-", "prod"):
        assert review.review_number(name) is None, name


def test_review_config_follows_staging_file():
    staging = load_stack_config("staging")
    values = derived()
    assert values["aws:region"] == staging["aws:region"]
    assert json.loads(values["service:alarms"]) == staging["service:alarms"]
    assert values["service:enableExecuteCommand"] == "true"
    assert values["service:environment"] == "staging"


def test_review_config_forces_disposable_and_small_settings():
    values = derived(protect="true", ephemeral="false", taskCpu="4096", dbMultiAz="true")
    for key, value in REVIEW_OVERRIDES.items():
        expected = value if isinstance(value, str) else json.dumps(value)
        assert values[f"service:{key}"] == expected, key
    assert values["service:natGateways"] == "none"
    assert len(json.loads(values["service:availabilityZones"])) == 2


def test_review_config_keeps_the_stacks_own_image_tag():
    assert derived(imageTag="abc123")["service:imageTag"] == "abc123"


def test_review_config_tags_every_resource_with_the_review_stack():
    assert json.loads(derived("pr-7")["service:tags"])["review-stack"] == "pr-7"


def test_a_named_stack_is_not_derived():
    with pytest.raises(ConfigError, match="not a review stack"):
        derive_review_config("staging", "service", own={})


@pytest.mark.parametrize("stack", ["pr-1", "pr-999999"])
def test_review_stack_is_disposable(stack):
    run = run_stack(stack)
    assert not any(r.protect for r in run.resources)
    db = run.of_type("aws:rds/instance:Instance")[0].plain_inputs()
    assert db["skipFinalSnapshot"] is True and db["deletionProtection"] is False
    assert db["multiAz"] is False and db["instanceClass"] == "db.t4g.micro"
    (repo,) = run.of_type("aws:ecr/repository:Repository")
    assert repo.plain_inputs()["forceDelete"] is True
    for secret in run.of_type("aws:secretsmanager/secret:Secret"):
        assert secret.plain_inputs()["recoveryWindowInDays"] == 0, secret.name
    assert run.of_type("aws:ec2/natGateway:NatGateway") == []
    (provider,) = run.of_type("pulumi:providers:aws")
    tags = provider.plain_inputs()["defaultTags"]
    tags = json.loads(tags) if isinstance(tags, str) else tags
    assert tags["tags"]["review-stack"] == stack, tags


@pytest.mark.parametrize("stack", ["pr-1", "pr-999999"])
def test_review_stack_physical_names_fit_every_aws_limit(stack):
    run = run_stack(stack)
    seen = set()
    for resource in run.resources:
        if resource.type not in LIMITS:
            continue
        key, limit = LIMITS[resource.type]
        inputs = resource.redacted_inputs()
        name = inputs.get(key) or physical_name(
            resource.name,
            inputs,
            mock_identity(resource.type, resource.name, inputs),
            resource.type,
        )
        assert len(name) <= limit, f"{resource.type} {name!r}: {len(name)} > {limit}"
        seen.add(resource.type)
    assert seen == set(LIMITS), f"not checked: {set(LIMITS) - seen}"
    assert run.of_type("aws:rds/instance:Instance")[0].inputs["identifier"] == f"service-{stack}-db"


@pytest.mark.parametrize("stack", ["pr-1", "pr-999999"])
def test_offline_plan_of_a_review_stack_needs_no_stack_file(stack):
    resources = plan(stack)
    assert resources and not any(r["protect"] for r in resources)


# --- janitor ---------------------------------------------------------------------------------

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


def stack(name, *, age_days=None, state="OPEN", created=True):
    when = NOW - timedelta(days=age_days) if age_days is not None else None
    return janitor.ReviewStack(
        name=name,
        created=when if created else None,
        last_update=None if created else when,
        pr_state=state,
    )


def test_janitor_keeps_a_young_stack_of_an_open_pr():
    assert janitor.stacks_to_destroy([stack("pr-1", age_days=1)], NOW) == []


@pytest.mark.parametrize("state", ["CLOSED", "MERGED", None])
def test_janitor_destroys_the_stack_of_a_pr_that_is_not_open(state):
    assert janitor.stacks_to_destroy([stack("pr-2", age_days=0, state=state)], NOW) == ["pr-2"]


def test_janitor_destroys_a_stack_older_than_max_days_even_if_the_pr_is_open():
    stacks = [stack("pr-3", age_days=3.1), stack("pr-4", age_days=2.9)]
    assert janitor.stacks_to_destroy(stacks, NOW) == ["pr-3"]
    assert janitor.stacks_to_destroy(stacks, NOW, max_days=5) == []


def test_janitor_falls_back_to_the_last_update_without_a_created_tag():
    assert janitor.stacks_to_destroy([stack("pr-5", age_days=4, created=False)], NOW) == ["pr-5"]


def test_janitor_keeps_an_open_prs_stack_of_unknown_age():
    assert janitor.stacks_to_destroy([janitor.ReviewStack("pr-6", pr_state="OPEN")], NOW) == []


def test_janitor_never_chooses_a_named_stack():
    stacks = [stack(n, age_days=30, state=None) for n in ("dev", "staging", "prod", "pr-x")]
    assert janitor.stacks_to_destroy(stacks, NOW) == []


def test_janitor_cli_reads_the_inventory_and_the_max_days_variable(tmp_path, capsys, monkeypatch):
    inventory = tmp_path / "inventory.json"
    rows = [
        {"name": "organization/service/pr-9", "created": "2026-11-30T06:00:00Z",
         "lastUpdate": "", "prState": "OPEN"},
        {"name": "pr-10", "created": "", "lastUpdate": "2026-12-01T00:00:00Z", "prState": ""},
        {"name": "staging", "created": "", "lastUpdate": "", "prState": ""},
    ]  # fmt: skip
    inventory.write_text(json.dumps(rows))
    monkeypatch.setenv("REVIEW_STACK_MAX_DAYS", "")
    assert janitor.main(["janitor", "--inventory", str(inventory), "--now", NOW.isoformat()]) == 0
    assert capsys.readouterr().out.split() == ["pr-10"]
    monkeypatch.setenv("REVIEW_STACK_MAX_DAYS", "1")
    janitor.main(["janitor", "--inventory", str(inventory), "--now", NOW.isoformat()])
    assert capsys.readouterr().out.split() == ["organization/service/pr-9", "pr-10"]


def test_janitor_cli_refuses_a_bad_max_days(tmp_path, monkeypatch):
    inventory = tmp_path / "inventory.json"
    inventory.write_text("[]")
    monkeypatch.setenv("REVIEW_STACK_MAX_DAYS", "three")
    assert janitor.main(["janitor", "--inventory", str(inventory)]) == 2
