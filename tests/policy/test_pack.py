"""The Pulumi policy pack wraps every rule as a mandatory ResourceValidationPolicy, and the
offline plan passes the pack for every stack."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pulumi_policy = pytest.importorskip("pulumi_policy")

from policy import rules  # noqa: E402
from policy.__main__ import POLICIES, stack_from_urn, to_resource  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
STACKS = ["dev", "staging", "prod"]


def args(type_, props, *, urn_stack="prod", protect=False, provider_tags=None):
    provider = None
    if provider_tags is not None:
        provider = pulumi_policy.policy.PolicyProviderResource(
            "pulumi:providers:aws", {"defaultTags": {"tags": provider_tags}},
            f"urn:pulumi:{urn_stack}::service::pulumi:providers:aws::aws", "aws",
        )  # fmt: skip
    opts = pulumi_policy.policy.PolicyResourceOptions(
        protect, [], None, [], pulumi_policy.policy.PolicyCustomTimeouts(0, 0, 0), [], None
    )
    return pulumi_policy.ResourceValidationArgs(
        type_, props, f"urn:pulumi:{urn_stack}::service::{type_}::thing", "thing", opts, provider
    )


def violations(policy_name, validation_args):
    policy = next(p for p in POLICIES if p.name == policy_name)
    found = []
    policy.validate(validation_args, lambda message, urn=None: found.append(message))
    return found


def test_pack_has_one_mandatory_policy_per_rule():
    assert [p.name for p in POLICIES] == list(rules.RULES)
    assert all(p.enforcement_level == pulumi_policy.EnforcementLevel.MANDATORY for p in POLICIES)
    assert all(isinstance(p, pulumi_policy.ResourceValidationPolicy) for p in POLICIES)


def test_pulumi_policy_yaml_points_at_a_python_runtime():
    spec = yaml.safe_load((ROOT / "policy" / "PulumiPolicy.yaml").read_text())
    assert spec["runtime"]["name"] == "python"


def test_stack_comes_from_the_urn():
    assert stack_from_urn("urn:pulumi:prod::service::aws:rds/instance:Instance::db") == "prod"


def test_protect_flag_and_provider_default_tags_reach_the_rules():
    a = args(rules.RDS_INSTANCE, {}, protect=True, provider_tags={"project": "p"})
    r = to_resource(a)
    assert r.protect is True and r.stack == "prod" and r.default_tags == {"project": "p"}


def test_policy_reports_a_violation_through_pulumi_policy():
    a = args(rules.RDS_INSTANCE, {"deletionProtection": False, "storageEncrypted": True})
    found = violations("prod-data-protected", a)
    assert any("deletionProtection" in m for m in found)
    assert any("protect=True" in m for m in found)


def test_policy_passes_a_compliant_resource():
    a = args(rules.RDS_INSTANCE, {"deletionProtection": True}, protect=True)
    assert violations("prod-data-protected", a) == []


def test_unknown_preview_values_propagate_as_unknown_not_as_a_pass():
    from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError, unknown_checking_proxy

    props = unknown_checking_proxy({"containerDefinitions": UNKNOWN_STRING_VALUE})
    with pytest.raises(UnknownValueError):
        violations("no-plaintext-secrets-in-environment", args(rules.TASK_DEFINITION, props))


def test_list_proxies_from_pulumi_policy_are_read_as_lists():
    from pulumi_policy.proxy import unknown_checking_proxy

    props = unknown_checking_proxy(
        {"ingress": [{"protocol": "tcp", "fromPort": 22, "toPort": 22,
                      "cidrBlocks": ["0.0.0.0/0"]}], "description": "bastion"}
    )  # fmt: skip
    assert violations("security-group-no-open-ingress", args(rules.SG, props)) != []


@pytest.fixture(scope="module")
def plans():
    plan_mod = pytest.importorskip("infra.tools.plan")
    return {stack: plan_mod.plan(stack) for stack in STACKS}


@pytest.mark.parametrize("stack", STACKS)
def test_stack_passes_every_rule(plans, stack):
    found = rules.check(rules.resources_from_plan(plans[stack], stack))
    assert found == [], f"{stack}: " + "\n".join(found)


def test_prod_plan_exercises_the_rules_that_matter(plans):
    types = {r["type"] for r in plans["prod"]}
    for t in (rules.RDS_INSTANCE, rules.REDIS_GROUP, rules.ECR_REPO, rules.TASK_DEFINITION,
              rules.LOG_GROUP, rules.SG_INGRESS, "aws:lb/loadBalancer:LoadBalancer"):  # fmt: skip
        assert t in types, f"prod plan has no {t}: the pack would check nothing there"


def test_a_broken_prod_plan_fails_the_pack(plans):
    broken = json.loads(json.dumps(plans["prod"]))
    db = next(r for r in broken if r["type"] == rules.RDS_INSTANCE)
    db["protect"] = False
    db["inputs"]["publiclyAccessible"] = True
    found = rules.check(rules.resources_from_plan(broken, "prod"))
    assert any(line.startswith("prod-data-protected:") for line in found)
    assert any(line.startswith("rds-encrypted-and-private:") for line in found)


def analyzer():
    """The gRPC servicer PolicyPack serves to the CLI (private API of pulumi_policy)."""
    servicer = getattr(pulumi_policy.policy, "_PolicyAnalyzerServicer", None)
    if servicer is None:
        pytest.fail("pulumi_policy.policy._PolicyAnalyzerServicer is gone: adapt analyzer()")
    mandatory = pulumi_policy.EnforcementLevel.MANDATORY
    return servicer("service-guardrails", "0.0.1", POLICIES, mandatory, *([None] * 7))


def analyze(servicer, stack, entry, provider=None):
    from google.protobuf import struct_pb2
    from pulumi.runtime import proto

    def struct(value):
        out = struct_pb2.Struct()
        out.update(json.loads(json.dumps(value)))
        return out

    urn = f"urn:pulumi:{stack}::service::{entry['type']}::{entry['name']}"
    request = proto.AnalyzeRequest(
        type=entry["type"], properties=struct(entry["inputs"]), urn=urn, name=entry["name"],
        options=proto.AnalyzerResourceOptions(protect=entry["protect"]),
        provider=None if provider is None else proto.AnalyzerProviderResource(
            type=provider["type"], properties=struct(provider["inputs"]),
            urn=f"urn:pulumi:{stack}::service::pulumi:providers:aws::aws", name="aws",
        ),
    )  # fmt: skip
    return [f"{d.policyName}: {d.message}" for d in servicer.Analyze(request, None).diagnostics]


@pytest.mark.parametrize("stack", STACKS)
def test_stack_passes_the_pack_as_the_cli_would_run_it(plans, stack):
    servicer = analyzer()
    provider = next(r for r in plans[stack] if r["type"] == "pulumi:providers:aws")
    found = [
        line
        for entry in plans[stack]
        if not entry["type"].startswith("pulumi:")
        for line in analyze(servicer, stack, entry, provider)
    ]
    assert found == [], f"{stack}: " + "\n".join(found)


def test_pack_reports_a_public_unprotected_prod_database_as_the_cli_would(plans):
    db = next(r for r in plans["prod"] if r["type"] == rules.RDS_INSTANCE)
    bad = {**db, "protect": False, "inputs": {**db["inputs"], "publiclyAccessible": True}}
    found = analyze(analyzer(), "prod", bad)
    assert any(x.startswith("rds-encrypted-and-private:") for x in found), found
    assert any(x.startswith("prod-data-protected:") for x in found), found
    assert any(x.startswith("required-tags:") for x in found), "no provider, so no default tags"


def test_plan_cli_policy_flag_exits_zero_for_prod():
    result = subprocess.run(
        [sys.executable, "-m", "infra.plan", "--stack", "prod", "--policy"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 violations" in result.stdout
