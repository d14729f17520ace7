"""Replacement cascades offline: a replaced resource hands its dependents a new id, and the plan
diff replaces exactly the dependents whose replace-on-change inputs received it, naming why."""

from __future__ import annotations

import json

import pytest

from infra.tools import plandiff
from infra.tools.mocks import Run, mock_id, mock_identity
from infra.tools.plan import to_dict
from infra.tools.replacement import REPLACE_ON_CHANGE, identity_hash
from tests.infra.conftest import run_stack


def plan_of(run: Run) -> list[plandiff.Resource]:
    """The run as `infra.plan --json` prints it and `infra.plandiff` reads it (JSON round trip)."""
    entries = sorted((to_dict(r) for r in run.resources), key=lambda r: (r["type"], r["name"]))
    return plandiff.parse_plan(json.loads(json.dumps(entries)))


def diff(base: Run, head: Run) -> plandiff.PlanDiff:
    return plandiff.diff_plans(plan_of(base), plan_of(head))


def replaced(d: plandiff.PlanDiff) -> dict[tuple[str, str], list[str]]:
    """(short type, name) -> replacement reasons."""
    return {(plandiff._short_type(c.head.type), c.head.name): c.replace_reasons for c in d.replaced}


# dev: 2 AZs, no NAT (so no private default routes).
VPC_CIDR_REPLACEMENTS = {
    ("aws:ec2:Vpc", "network-vpc"): ["cidrBlock"],
    **{
        ("aws:ec2:Subnet", f"network-{tier}-{i}"): ["cidrBlock", "vpcId ← network-vpc replaced"]
        for tier in ("public", "private")
        for i in (0, 1)
    },
    ("aws:ec2:RouteTable", "network-public"): ["vpcId ← network-vpc replaced"],
    ("aws:ec2:RouteTable", "network-private-0"): ["vpcId ← network-vpc replaced"],
    ("aws:ec2:RouteTable", "network-private-1"): ["vpcId ← network-vpc replaced"],
    ("aws:ec2:Route", "network-public-default"): ["routeTableId ← network-public replaced"],
    # the S3 gateway endpoint (its route table ids update in place)
    ("aws:ec2:VpcEndpoint", "network-s3"): ["vpcId ← network-vpc replaced"],
    **{
        ("aws:ec2:RouteTableAssociation", f"network-{tier}-{i}"): [
            f"subnetId ← network-{tier}-{i} replaced"
        ]
        for tier in ("public", "private")
        for i in (0, 1)
    },
    **{
        ("aws:ec2:SecurityGroup", f"network-{g}"): ["vpcId ← network-vpc replaced"]
        for g in ("alb", "tasks", "database", "cache")
    },
    **{
        ("aws:vpc:SecurityGroupIngressRule", f"network-{rule}"): [
            f"securityGroupId ← network-{group} replaced"
        ]
        for rule, group in [
            ("alb-http-in", "alb"),
            ("alb-https-in", "alb"),
            ("tasks-from-alb", "tasks"),
            ("db-from-tasks", "database"),
            ("cache-from-tasks", "cache"),
        ]
    },
    **{
        ("aws:vpc:SecurityGroupEgressRule", f"network-{rule}"): [
            f"securityGroupId ← network-{group} replaced"
        ]
        for rule, group in [
            ("alb-to-tasks", "alb"),
            ("tasks-https-out", "tasks"),
            ("tasks-to-db", "tasks"),
            ("tasks-to-cache", "tasks"),
        ]
    },
    ("aws:lb:TargetGroup", "web-tg"): ["vpcId ← network-vpc replaced"],
    # FORWARDED_ALLOW_IPS is the VPC CIDR: a new revision of both task definitions
    ("aws:ecs:TaskDefinition", "app-app"): ["containerDefinitions"],
    ("aws:ecs:TaskDefinition", "worker-worker"): ["containerDefinitions"],
}


@pytest.fixture(scope="module")
def vpc_cidr_diff() -> plandiff.PlanDiff:
    return diff(run_stack("dev"), run_stack("dev", vpcCidr="10.1.0.0/16"))


def test_changing_the_vpc_cidr_replaces_exactly_the_network_and_its_dependents(vpc_cidr_diff):
    got = replaced(vpc_cidr_diff)
    assert got == VPC_CIDR_REPLACEMENTS, {
        "unexpected": {k: v for k, v in got.items() if VPC_CIDR_REPLACEMENTS.get(k) != v},
        "missing": sorted(set(VPC_CIDR_REPLACEMENTS) - set(got)),
    }


def test_dependents_with_updatable_inputs_are_updated_in_place_naming_the_cause(vpc_cidr_diff):
    updated = {c.head.name: c.causes for c in vpc_cidr_diff.changed if not c.replace}
    # ALB subnets and security groups update in place (SetSubnets / SetSecurityGroups)
    assert updated["web-alb"] == {
        "securityGroups": ["network-alb"],
        "subnets": ["network-public-0", "network-public-1"],
    }
    # RDS: vpc_security_group_ids and the subnet group's subnet_ids are not ForceNew
    assert updated["database-instance"] == {"vpcSecurityGroupIds": ["network-database"]}
    assert updated["database-subnets"] == {"subnetIds": ["network-private-0", "network-private-1"]}
    assert updated["cache-redis"] == {"securityGroupIds": ["network-cache"]}
    # the service takes the new target group and task definition revision in place
    assert updated["app-service"]["taskDefinition"] == ["app-app"]
    assert updated["app-service"]["loadBalancers"] == ["web-tg"]
    assert updated["network-igw"] == {"vpcId": ["network-vpc"]}


def test_the_summary_counts_cascaded_replacements(vpc_cidr_diff):
    line = plandiff.summary_line(vpc_cidr_diff)
    cascaded = sum(1 for c in vpc_cidr_diff.replaced if c.cascaded)
    assert f"({len(VPC_CIDR_REPLACEMENTS)} replaced, {cascaded} of them by cascade)" in line
    # not cascades: the VPC, the four subnets (their own CIDRs change too), two task definitions
    assert cascaded == len(VPC_CIDR_REPLACEMENTS) - 7


def test_the_markdown_names_the_replaced_parent(vpc_cidr_diff):
    md = plandiff.render_markdown(vpc_cidr_diff, "dev")
    row = next(line for line in md.splitlines() if line.startswith("| `web-tg` |"))
    assert "| replace |" in row
    assert "(forces replacement: ← `network-vpc` replaced)" in row


def test_changing_only_a_tag_replaces_nothing():
    d = diff(run_stack("dev"), run_stack("dev", tags={"cost-center": "42"}))
    assert d.replaced == []
    (change,) = d.changed
    assert change.head.type == "pulumi:providers:aws"
    assert change.keys == ["defaultTags.tags.cost-center"]


def test_a_replaced_parent_hands_its_dependents_a_new_id_and_others_keep_theirs():
    base, head = run_stack("dev"), run_stack("dev", vpcCidr="10.1.0.0/16")
    subnet = "aws:ec2/subnet:Subnet"
    assert mock_id(base.named("network-public-0", subnet)) != mock_id(
        head.named("network-public-0", subnet)
    )
    alb_base, alb_head = base.named("web-alb"), head.named("web-alb")
    assert mock_id(alb_base) == mock_id(alb_head), "an ALB updates in place: same identity"
    assert alb_head.inputs["subnets"] == [
        mock_id(head.named(f"network-public-{i}", subnet)) for i in (0, 1)
    ]


def test_a_task_definition_change_reaches_the_service_as_an_update():
    d = diff(run_stack("dev"), run_stack("dev", taskCpu=512, taskMemory=1024))
    by_name = {c.head.name: c for c in d.changed}
    assert by_name["app-app"].replace and by_name["app-app"].replace_keys == ["cpu", "memory"]
    service = by_name["app-service"]
    assert not service.replace and service.causes == {"taskDefinition": ["app-app"]}
    assert by_name["worker-schedule"].causes == {"target": ["worker-worker"]}


def test_the_plan_file_reproduces_every_mock_identity(any_stack):
    """infra.plandiff recomputes the mocks' hashes from the plan JSON: they must agree."""
    _, run = any_stack
    by_key = {(r.type, r.parent or "", r.name): r for r in run.resources}
    for entry in plan_of(run):
        rec = by_key[entry.key]
        assert identity_hash(entry.type, entry.name, entry.inputs) == mock_identity(
            rec.type, rec.name, rec.inputs
        ), entry.name


def test_every_replace_rule_names_a_type_token():
    assert all(t.count(":") == 2 for t in REPLACE_ON_CHANGE), "type tokens are pkg:mod:Name"
