"""infra.plandiff on crafted plans: add, remove, change, replacement, protected replacement."""

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from infra.tools import plandiff
from infra.tools.mocks import resource_id
from infra.tools.replacement import identity_hash

ROOT = Path(__file__).resolve().parents[2]

VPC = {
    "type": "aws:ec2/vpc:Vpc",
    "name": "network-vpc",
    "parent": "network",
    "protect": False,
    "inputs": {"cidrBlock": "10.0.0.0/16", "tags": {"Name": "network", "stack": "dev"}},
}
DB = {
    "type": "aws:rds/instance:Instance",
    "name": "database-db",
    "parent": "database",
    "protect": True,
    "inputs": {
        "engine": "postgres",
        "instanceClass": "db.t4g.micro",
        "storageEncrypted": True,
        "password": "[secret]",
    },
}
LOGS = {
    "type": "aws:cloudwatch/logGroup:LogGroup",
    "name": "service-logs",
    "parent": "service",
    "protect": False,
    "inputs": {"retentionInDays": 30},
}
BASE = [VPC, DB, LOGS]


def variant(*resources, **changes):
    """A deep copy of `resources`; changes maps a resource name to an inputs update."""
    out = copy.deepcopy(list(resources))
    for r in out:
        r["inputs"].update(changes.get(r["name"].replace("-", "_"), {}))
    return out


def diff(base, head):
    return plandiff.diff_plans(plandiff.parse_plan(base), plandiff.parse_plan(head))


def test_identical_plans_have_no_changes():
    d = diff(BASE, copy.deepcopy(BASE))
    assert d.empty and d.unchanged == 3
    md = plandiff.render_markdown(d, "dev")
    assert "No changes." in md
    assert "0 to add, 0 to change, 0 to remove, 3 unchanged" in md


def test_added_resource_is_listed():
    queue = {"type": "aws:sqs/queue:Queue", "name": "jobs", "parent": None, "protect": False,
             "inputs": {}}  # fmt: skip
    d = diff(BASE, [*copy.deepcopy(BASE), queue])
    assert [r.name for r in d.added] == ["jobs"]
    md = plandiff.render_markdown(d)
    assert "#### Added" in md and "`jobs`" in md
    assert "1 to add" in md


def test_removed_resource_is_listed():
    d = diff(BASE, copy.deepcopy([VPC, DB]))
    assert [r.name for r in d.removed] == ["service-logs"]
    md = plandiff.render_markdown(d)
    assert "#### Removed" in md and "1 to remove" in md
    assert "dangerous" not in md


def test_in_place_change_names_the_changed_keys_with_values():
    head = variant(*BASE, service_logs={"retentionInDays": 90})
    d = diff(BASE, head)
    (change,) = d.changed
    assert change.keys == ["retentionInDays"] and not change.replace
    md = plandiff.render_markdown(d)
    assert "| update |" in md
    assert "`retentionInDays`: `30` → `90`" in md


def test_nested_tag_change_is_reported_by_dotted_path():
    head = variant(*BASE, network_vpc={"tags": {"Name": "network", "stack": "staging"}})
    (change,) = diff(BASE, head).changed
    assert change.keys == ["tags.stack"]
    assert not change.replace


def test_replace_on_change_key_marks_a_replacement():
    head = variant(*BASE, network_vpc={"cidrBlock": "10.1.0.0/16"})
    d = diff(BASE, head)
    (change,) = d.changed
    assert change.replace and change.replace_keys == ["cidrBlock"]
    md = plandiff.render_markdown(d)
    assert "| replace |" in md and "(forces replacement)" in md
    assert "1 to change (1 replaced)" in md
    assert "dangerous" not in md, "the VPC is not protected"


def test_protected_replacement_is_a_bold_dangerous_line():
    head = variant(*BASE, database_db={"engine": "mysql"})
    d = diff(BASE, head)
    assert len(d.dangerous) == 1
    md = plandiff.render_markdown(d)
    line = next(x for x in md.splitlines() if "dangerous" in x)
    assert line.startswith("- **") and line.endswith("**"), line
    assert "`database-db`" in line and "`engine`" in line and "replaced" in line
    assert "**replace (protected)**" in md


def test_protected_update_in_place_is_not_dangerous():
    head = variant(*BASE, database_db={"instanceClass": "db.t4g.small"})
    d = diff(BASE, head)
    assert d.changed and not d.dangerous


def test_protected_removal_is_dangerous():
    d = diff(BASE, copy.deepcopy([VPC, LOGS]))
    assert any("removed" in line and "database-db" in line for line in d.dangerous)
    assert "| `database-db` | `aws:rds:Instance` | **yes** |" in plandiff.render_markdown(d)


def test_dropping_protect_is_flagged():
    head = copy.deepcopy(BASE)
    head[1]["protect"] = False
    d = diff(BASE, head)
    (change,) = d.changed
    assert change.protect_changed and change.keys == []
    assert any("lose its `protect` flag" in line for line in d.dangerous)


def test_secret_values_never_appear_in_the_markdown():
    base = variant(*BASE, database_db={"password": "[secret]", "masterPassword": "hunter2-old"})
    head = variant(*BASE, database_db={"password": "[secret]", "masterPassword": "hunter2-new"})
    md = plandiff.render_markdown(diff(base, head))
    assert "hunter2" not in md
    assert "| `masterPassword` |" in md, "the key is named, its values are not"


def test_reparented_resource_is_a_removal_plus_an_addition():
    head = copy.deepcopy(BASE)
    head[2]["parent"] = "observability"
    d = diff(BASE, head)
    assert [r.name for r in d.added] == ["service-logs"]
    assert [r.name for r in d.removed] == ["service-logs"]


def test_task_definition_change_is_always_a_replacement():
    td = {"type": "aws:ecs/taskDefinition:TaskDefinition", "name": "svc-task", "parent": None,
          "protect": False, "inputs": {"cpu": "256"}}  # fmt: skip
    head = copy.deepcopy([td])
    head[0]["inputs"]["cpu"] = "512"
    (change,) = diff([td], head).changed
    assert change.replace_keys == ["cpu"]


def test_replace_table_only_names_known_types():
    assert all(":" in t for t in plandiff.REPLACE_ON_CHANGE)
    assert "storageEncrypted" in plandiff.REPLACE_ON_CHANGE["aws:rds/instance:Instance"]
    assert "name" in plandiff.REPLACE_ON_CHANGE["aws:ecr/repository:Repository"]


def test_not_a_plan_is_a_clear_error():
    with pytest.raises(plandiff.PlanError, match="expected a JSON list"):
        plandiff.parse_plan({"type": "x"})


def run_cli(*args, cwd=ROOT):
    return subprocess.run(
        [sys.executable, "-m", "infra.plandiff", *args],
        cwd=cwd, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_cli_renders_markdown_from_files(tmp_path):
    base, head = tmp_path / "base.json", tmp_path / "head.json"
    base.write_text(json.dumps(BASE))
    head.write_text(json.dumps(variant(*BASE, database_db={"storageEncrypted": False})))
    result = run_cli(str(base), str(head), "--title", "prod")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("### Plan diff: prod")
    assert "dangerous" in result.stdout
    strict = run_cli(str(base), str(head), "--fail-on-dangerous")
    assert strict.returncode == 3


def test_cli_treats_an_empty_base_file_as_no_resources(tmp_path):
    base, head = tmp_path / "base.json", tmp_path / "head.json"
    base.write_text("")
    head.write_text(json.dumps(BASE))
    result = run_cli(str(base), str(head))
    assert result.returncode == 0, result.stderr
    assert "3 to add" in result.stdout


def test_cli_reports_a_bad_file_without_a_traceback(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    result = run_cli(str(bad), str(bad))
    assert result.returncode == 1
    assert "not JSON" in result.stderr and "Traceback" not in result.stderr


# --- nested JSON documents, cascades, golden markdown ------------------------------------------

GOLDEN = Path(__file__).parent / "golden"


def assert_golden(name: str, text: str) -> None:
    """Compare with tests/delivery/golden/<name>; UPDATE_GOLDEN=1 rewrites the file."""
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    expected = path.read_text(encoding="utf-8")
    assert text == expected, f"{name} differs (UPDATE_GOLDEN=1 to accept):\n{text}"


IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/registry-repo-1a2b3c4d@sha256:"
JWT_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:service-dev/jwt-secret-AbCdEf"


def task_definition(log_level="INFO", digest="aa" * 32, jwt_arn=JWT_ARN):
    def container(name, **extra):
        return {
            "name": name,
            "image": IMAGE + digest,
            "environment": [
                {"name": "ENVIRONMENT", "value": "dev"},
                {"name": "LOG_LEVEL", "value": log_level},
            ],
            "secrets": [{"name": "JWT_SECRET", "valueFrom": jwt_arn}],
            **extra,
        }

    containers = [container("migrate", essential=False), container("app", essential=True)]
    return {
        "type": "aws:ecs/taskDefinition:TaskDefinition",
        "name": "app-app",
        "parent": "app",
        "protect": False,
        "inputs": {"family": "service-dev-app", "containerDefinitions": json.dumps(containers)},
    }


def role_policy(resources):
    statements = [
        {"Sid": "ReadAppSecrets", "Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"],
         "Resource": resources},
        {"Sid": "EcsExec", "Effect": "Allow", "Action": ["ssmmessages:OpenDataChannel"],
         "Resource": "*"},
    ]  # fmt: skip
    return {
        "type": "aws:iam/rolePolicy:RolePolicy",
        "name": "app-execution-secrets",
        "parent": "app",
        "protect": False,
        "inputs": {
            "role": "app-execution-1a2b3c4d",
            "policy": json.dumps({"Version": "2012-10-17", "Statement": statements}),
        },
    }


def web_acl(limit):
    rule = {
        "name": "rate-limit-per-ip",
        "priority": 1,
        "action": {"block": {}},
        "statement": {"rateBasedStatement": {"limit": limit, "aggregateKeyType": "IP"}},
    }
    return {
        "type": "aws:wafv2/webAcl:WebAcl",
        "name": "web-waf",
        "parent": "web",
        "protect": False,
        "inputs": {"scope": "REGIONAL", "rules": [rule]},
    }


def listener(certificate):
    return {
        "type": "aws:lb/listener:Listener",
        "name": "web-https",
        "parent": "web",
        "protect": False,
        "inputs": {"port": 443, "certificateArn": certificate},
    }


def secret_version(value):
    return {
        "type": "aws:secretsmanager/secretVersion:SecretVersion",
        "name": "secrets-jwt",
        "parent": "secrets",
        "protect": False,
        "inputs": {"secretId": JWT_ARN, "secretString": value},
    }


CERT = "arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555"
NESTED_BASE = [
    task_definition(),
    role_policy([JWT_ARN]),
    web_acl(2000),
    listener(CERT),
    secret_version("[secret]"),
]
NESTED_HEAD = [
    task_definition(log_level="DEBUG", digest="bb" * 32),
    role_policy([JWT_ARN, JWT_ARN.replace("jwt-secret", "redis-url")]),
    web_acl(1000),
    listener("[unknown]"),
    secret_version("[secret]"),
]


def test_container_definitions_are_diffed_by_container_name_and_variable():
    (change,) = diff([task_definition()], [task_definition(log_level="DEBUG")]).changed
    assert change.keys == [
        "containerDefinitions[migrate].environment.LOG_LEVEL",
        "containerDefinitions[app].environment.LOG_LEVEL",
    ]
    assert change.replace_keys == ["containerDefinitions"], "a new task definition revision"
    md = plandiff.render_markdown(diff([task_definition()], [task_definition(log_level="DEBUG")]))
    assert '`containerDefinitions[app].environment.LOG_LEVEL`: `"INFO"` → `"DEBUG"`' in md


def test_an_image_change_shows_where_the_reference_differs():
    d = diff([task_definition()], [task_definition(digest="bb" * 32)])
    md = plandiff.render_markdown(d)
    line = next(x for x in md.splitlines() if "app-app" in x)
    assert "`containerDefinitions[app].image`: `…" in line
    assert "sha256:bbbb" in line and "sha256:aaaa" in line


def test_container_secret_references_are_never_shown():
    d = diff([task_definition()], [task_definition(jwt_arn=JWT_ARN + "-rotated")])
    (change,) = d.changed
    assert change.keys == [
        "containerDefinitions[migrate].secrets.JWT_SECRET",
        "containerDefinitions[app].secrets.JWT_SECRET",
    ]
    md = plandiff.render_markdown(d)
    assert "rotated" not in md and "`containerDefinitions[app].secrets.JWT_SECRET`" in md


def test_iam_policies_are_diffed_by_statement_sid():
    d = diff([role_policy([JWT_ARN])], [role_policy([JWT_ARN, "arn:aws:secretsmanager:x"])])
    (change,) = d.changed
    assert change.keys == ["policy.Statement[ReadAppSecrets].Resource"]
    assert not change.replace, "an inline policy document updates in place"
    md = plandiff.render_markdown(d)
    assert '`policy.Statement[ReadAppSecrets].Resource`: added `"arn:aws:secretsmanager:x"`' in md


def test_waf_rules_are_diffed_by_rule_name():
    (change,) = diff([web_acl(2000)], [web_acl(1000)]).changed
    assert change.keys == ["rules[rate-limit-per-ip].statement.rateBasedStatement.limit"]


def test_unknown_values_are_shown_as_unknown():
    md = plandiff.render_markdown(diff([listener(CERT)], [listener("[unknown]")]))
    assert "→ `[unknown]`" in md


def test_nested_diff_markdown_matches_the_golden_file():
    md = plandiff.render_markdown(diff(NESTED_BASE, NESTED_HEAD), "dev")
    assert_golden("plandiff_nested.md", md)


def cascade_plan(cidr):
    """A VPC, a subnet in it and a subnet group over the subnet, wired with the mock ids the
    offline plan would give them (AWS prefix + identity hash, infra.tools.mocks.resource_id)."""

    def entry(type_, name, parent, **inputs):
        return {"type": type_, "name": name, "parent": parent, "protect": False, "inputs": inputs}

    def mock_id(e):
        return resource_id(e["type"], e["name"], identity_hash(e["type"], e["name"], e["inputs"]))

    vpc = entry("aws:ec2/vpc:Vpc", "network-vpc", "network", cidrBlock=cidr)
    subnet = entry(
        "aws:ec2/subnet:Subnet", "network-private-0", "network",
        vpcId=mock_id(vpc), cidrBlock="10.0.128.0/20", availabilityZone="us-east-1a",
    )  # fmt: skip
    group = entry(
        "aws:rds/subnetGroup:SubnetGroup", "database-subnets", "database",
        subnetIds=[mock_id(subnet)], description="service-dev database subnets (private)",
    )  # fmt: skip
    cache = entry(
        "aws:elasticache/subnetGroup:SubnetGroup", "cache-subnets", "cache",
        subnetIds=[mock_id(subnet)], description="service-dev cache subnets (private)",
    )  # fmt: skip
    return [vpc, subnet, group, cache]


def test_a_replaced_parent_replaces_dependents_through_replace_on_change_inputs_only():
    d = diff(cascade_plan("10.0.0.0/16"), cascade_plan("10.1.0.0/16"))
    by_name = {c.head.name: c for c in d.changed}
    subnet = by_name["network-private-0"]
    assert subnet.replace and subnet.replace_reasons == ["vpcId ← network-vpc replaced"]
    assert subnet.cascaded
    # subnet_ids of a DB / cache subnet group update in place: updated, with the cause named
    group = by_name["database-subnets"]
    assert not group.replace and group.causes == {"subnetIds": ["network-private-0"]}


def test_cascade_markdown_matches_the_golden_file():
    md = plandiff.render_markdown(
        diff(cascade_plan("10.0.0.0/16"), cascade_plan("10.1.0.0/16")), "dev"
    )
    assert_golden("plandiff_cascade.md", md)
