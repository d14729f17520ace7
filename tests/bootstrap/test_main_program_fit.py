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
