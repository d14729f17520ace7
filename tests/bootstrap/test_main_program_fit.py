"""Does the main program fit the deploy roles? Checked against its real (mocked) prod stack."""

import json

from tests.bootstrap.conftest import ACCOUNT
from tests.bootstrap.iam_eval import ALLOW, evaluate
from tests.infra.conftest import run_stack

BOUNDARY = f"arn:aws:iam::{ACCOUNT}:policy/service-ci/service-workload-boundary"


def test_every_resource_of_the_stack_carries_the_stack_tag_the_guards_use():
    provider = run_stack("prod").named("aws", "pulumi:providers:aws").plain_inputs()
    tags = json.loads(provider["defaultTags"])["tags"]
    assert tags["stack"] == "prod"


def test_the_programs_roles_can_be_created_by_the_prod_deploy_role(role_policies):
    """Roles under /service-prod/ with the bootstrap's boundary: what the deploy role allows."""
    docs = [role_policies["deploy-prod"]]
    for role in run_stack("prod", permissionsBoundaryArn=BOUNDARY).of_type("aws:iam/role:Role"):
        inputs = role.plain_inputs()
        path = inputs.get("path") or "/"
        arn = f"arn:aws:iam::{ACCOUNT}:role{path}{inputs.get('name') or role.name + '-abc1234'}"
        context = {"iam:PermissionsBoundary": inputs.get("permissionsBoundary") or ""}
        assert evaluate(docs, "iam:CreateRole", arn, context) == ALLOW, (role.name, arn)
        assert inputs.get("permissionsBoundary") == BOUNDARY


def test_the_programs_log_groups_and_endpoints_can_be_created_by_the_deploy_role(role_policies):
    """Every log group the prod plan creates (tasks, RDS export, Container Insights) and its VPC
    endpoints are within what the prod deploy role may create."""
    docs = [role_policies["deploy-prod"]]
    run = run_stack("prod")
    groups = [g.plain_inputs()["name"] for g in run.of_type("aws:cloudwatch/logGroup:LogGroup")]
    assert len(groups) == 3, groups
    for name in groups:
        arn = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{name}"
        assert evaluate(docs, "logs:CreateLogGroup", arn, {}) == ALLOW, name
        assert evaluate(docs, "logs:PutRetentionPolicy", arn, {}) == ALLOW, name
    assert run.of_type("aws:ec2/vpcEndpoint:VpcEndpoint"), "prod has endpoints"
    endpoint = f"arn:aws:ec2:us-east-1:{ACCOUNT}:vpc-endpoint/*"
    for action in ("ec2:CreateVpcEndpoint", "ec2:ModifyVpcEndpoint", "ec2:DeleteVpcEndpoints"):
        assert evaluate(docs, action, endpoint, {}) == ALLOW, action
