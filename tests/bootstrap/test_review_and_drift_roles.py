"""The review stacks' deploy role (``pr-*``, environment ``review``) and the drift workflow's
roles: who may assume them, what the review role may and may not touch."""

from pathlib import Path

import pytest
import yaml

from infra.bootstrap import policies
from infra.review import review_stack
from tests.bootstrap.conftest import ACCOUNT, BUCKET_ARN, REPOSITORY, state_object
from tests.bootstrap.iam_eval import ALLOW, EXPLICIT_DENY, conditions_hold, evaluate, is_allowed

WORKFLOWS = Path(__file__).resolve().parents[2] / ".github" / "workflows"
REGION_ACCOUNT = f"us-east-1:{ACCOUNT}"
BOUNDARY = f"arn:aws:iam::{ACCOUNT}:policy/service-ci/service-workload-boundary"
REPO = f"arn:aws:ecr:{REGION_ACCOUNT}:repository/registry-repo-abc1234"
ALB = f"arn:aws:elasticloadbalancing:{REGION_ACCOUNT}:loadbalancer/app/web-alb-1/abc"
ALLOW_EVERYTHING = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}
CANDIDATE_SUBJECTS = [
    f"repo:{REPOSITORY}:pull_request",
    *(
        f"repo:{REPOSITORY}:environment:{env}"
        for env in ("review", "drift", "staging", "production-preview", "production", "dev")
    ),
    f"repo:{REPOSITORY}:ref:refs/heads/main",
    "repo:example-org/other:environment:review",
    "repo:example-org/service-fork:environment:review",
]


def trusted(trust_policy: dict) -> set[str]:
    """The candidate subjects a token (audience STS) may present to assume the role."""
    (only,) = trust_policy["Statement"]
    return {
        sub
        for sub in CANDIDATE_SUBJECTS
        if conditions_hold(
            only["Condition"],
            {
                "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
                "token.actions.githubusercontent.com:sub": sub,
            },
        )
    }


def env(name: str) -> str:
    return f"repo:{REPOSITORY}:environment:{name}"


def tagged(stack: str) -> dict:
    return {"aws:ResourceTag/stack": stack}


def arn(service: str, resource: str) -> str:
    return f"arn:aws:{service}:{REGION_ACCOUNT}:{resource}"


# ---- trust ----------------------------------------------------------------------------------
def test_the_review_role_trusts_only_the_review_environment(trust_policies):
    assert trusted(trust_policies["deploy-review"]) == {env("review")}


def test_the_preview_role_gains_the_drift_environment_and_nothing_else(trust_policies):
    assert trusted(trust_policies["preview"]) == {
        f"repo:{REPOSITORY}:pull_request",
        env("drift"),
    }
    assert trusted(trust_policies["preview-prod"]) == {env("production-preview")}
    for kind in ("deploy-staging", "deploy-prod"):
        assert env("drift") not in trusted(trust_policies[kind])
        assert env("review") not in trusted(trust_policies[kind])


def test_drift_keeps_the_preview_roles_permissions(role_policies, key_arns):
    """Only the trust changed: the drift environment gets exactly the PR preview's policy."""
    scope = policies.AccountScope(
        partition="aws",
        account_id=ACCOUNT,
        region="us-east-1",
        project="service",
        github_repository=REPOSITORY,
        dev_stack="dev",
        staging_stack="staging",
        prod_stack="prod",
        bucket=BUCKET_ARN.removeprefix("arn:aws:s3:::"),
        oidc_provider_arn="unused",
    )
    assert role_policies["preview"] == policies.preview_policy(scope, key_arns)


def _workflow_assumptions():
    """(workflow:job, environment or None, role variable) for every configure-aws-credentials
    step, matrix entries expanded."""
    found = []
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for name, job in (yaml.safe_load(path.read_text())["jobs"] or {}).items():
            for step in job.get("steps", []):
                if not step.get("uses", "").startswith("aws-actions/configure-aws-credentials@"):
                    continue
                role = step["with"]["role-to-assume"]
                environment = job.get("environment")
                if isinstance(environment, dict):
                    environment = environment.get("name")
                entries = job.get("strategy", {}).get("matrix", {}).get("include") or [{}]
                for entry in entries:
                    variable = role.removeprefix("${{ vars.").removesuffix(" }}")
                    if role == "${{ vars[matrix.role] }}":
                        variable = entry["role"]
                    where = environment
                    if environment == "${{ matrix.environment }}":
                        where = entry["environment"]
                    found.append((f"{path.name}:{name}", where, variable))
    return found


def test_every_workflow_job_is_trusted_by_the_role_it_assumes(trust_policies):
    """drift.yml's entries included: dev/staging use the preview role in `drift`, prod the prod
    preview role in `production-preview`; the review workflows the review role in `review`."""
    kinds = {variable: kind for kind, variable in policies.ROLE_VARIABLES.items()}
    seen = set()
    for job, environment, variable in _workflow_assumptions():
        subject = env(environment) if environment else f"repo:{REPOSITORY}:pull_request"
        assert subject in trusted(trust_policies[kinds[variable]]), (job, environment, variable)
        seen.add((job.split(":")[0], environment, variable))
    assert {
        ("drift.yml", "drift", "AWS_PREVIEW_ROLE_ARN"),
        ("drift.yml", "production-preview", "AWS_PREVIEW_PROD_ROLE_ARN"),
        ("review-stack.yml", "review", "AWS_DEPLOY_REVIEW_ROLE_ARN"),
        ("review-stack-janitor.yml", "review", "AWS_DEPLOY_REVIEW_ROLE_ARN"),
    } <= seen


# ---- the review deploy role: pr-* only --------------------------------------------------------
@pytest.mark.parametrize("number", [1, 123, 999999])
def test_review_role_manages_a_review_stacks_resources(role_policies, key_arns, number):
    docs = [role_policies["deploy-review"]]
    stack = review_stack(number)
    prefix = f"service-{stack}"
    with_boundary = {"iam:PermissionsBoundary": BOUNDARY}
    role = f"arn:aws:iam::{ACCOUNT}:role/{prefix}/app-task-abc"
    allowed = [
        (
            "elasticache:CreateReplicationGroup",
            arn("elasticache", f"replicationgroup:{prefix}-redis"),
            {},
        ),
        (
            "secretsmanager:CreateSecret",
            arn("secretsmanager", f"secret:{prefix}/jwt-secret-abc"),
            {},
        ),
        ("logs:CreateLogGroup", arn("logs", f"log-group:/ecs/{prefix}"), {}),
        ("ecs:RegisterTaskDefinition", arn("ecs", f"task-definition/{prefix}-app:1"), {}),
        ("sqs:CreateQueue", arn("sqs", f"{prefix}-worker-dlq"), {}),
        ("rds:DeleteDBInstance", arn("rds", f"db:{prefix}-db"), tagged(stack)),
        ("elasticloadbalancing:DeleteLoadBalancer", ALB, tagged(stack)),
        ("ecr:PutImage", REPO, tagged(stack)),
        ("ecr:BatchGetImage", REPO, tagged(stack)),
        ("iam:CreateRole", role, with_boundary),
        ("iam:PutRolePolicy", role, {}),
        ("iam:PassRole", role, {"iam:PassedToService": "ecs-tasks.amazonaws.com"}),
        ("kms:Decrypt", key_arns.nonprod, {}),
        ("kms:Encrypt", key_arns.nonprod, {}),
    ]
    for action, resource, context in allowed:
        assert evaluate(docs, action, resource, context) == ALLOW, (action, resource)
    for obj in (
        state_object(stack),
        state_object(stack, "{stack}.json.bak"),
        state_object(stack, "{stack}.pulumi-tags"),
        f"{BUCKET_ARN}/.pulumi/locks/organization/service/{stack}/abc.json",
        f"{BUCKET_ARN}/.pulumi/history/service/{stack}/{stack}-1.history.json",
        f"{BUCKET_ARN}/.pulumi/backups/service/{stack}/{stack}.1.json",
    ):
        for action in ("s3:GetObject", "s3:PutObject", "s3:DeleteObject"):
            assert evaluate(docs, action, obj) == ALLOW, (action, obj)


@pytest.mark.parametrize("other", ["dev", "staging", "prod"])
def test_review_role_cannot_touch_the_named_stacks(role_policies, key_arns, other):
    docs = [role_policies["deploy-review"]]
    prefix = f"service-{other}"
    for action, resource in (
        (
            "elasticache:DeleteReplicationGroup",
            arn("elasticache", f"replicationgroup:{prefix}-redis"),
        ),
        ("secretsmanager:GetSecretValue", arn("secretsmanager", f"secret:{prefix}/jwt-secret-abc")),
        ("logs:DeleteLogGroup", arn("logs", f"log-group:/ecs/{prefix}")),
        ("ecs:RegisterTaskDefinition", arn("ecs", f"task-definition/{prefix}-app:1")),
        ("sqs:DeleteQueue", arn("sqs", f"{prefix}-worker-dlq")),
        ("s3:PutBucketPolicy", f"arn:aws:s3:::{prefix}-alb-logs-{ACCOUNT}"),
        ("iam:CreateRole", f"arn:aws:iam::{ACCOUNT}:role/{prefix}/app-task-abc"),
        ("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/{prefix}/app-task-abc"),
        ("iam:PutRolePolicy", f"arn:aws:iam::{ACCOUNT}:role/service-ci/service-gha-deploy-prod"),
    ):
        assert not is_allowed(docs, action, resource), (action, resource)
    # autonamed resources carry only their tag: another stack's is explicitly denied
    for action, resource in (
        ("elasticloadbalancing:DeleteLoadBalancer", ALB),
        ("rds:DeleteDBInstance", arn("rds", "db:anything")),
        ("ecr:PutImage", REPO),
        ("ec2:DeleteVpc", arn("ec2", "vpc/vpc-123")),
    ):
        assert evaluate(docs, action, resource, tagged(other)) == EXPLICIT_DENY, action
    request = {"aws:RequestTag/stack": other}
    assert evaluate(docs, "ecr:CreateRepository", REPO, request) == EXPLICIT_DENY
    assert evaluate(docs, "ecr:BatchGetImage", REPO, tagged(other)) != ALLOW
    # state: neither read nor written
    for obj in (
        state_object(other),
        f"{BUCKET_ARN}/.pulumi/locks/organization/service/{other}/abc.json",
        f"{BUCKET_ARN}/.pulumi/history/service/{other}/{other}-1.history.json",
    ):
        for action in ("s3:GetObject", "s3:PutObject", "s3:DeleteObject"):
            assert not is_allowed(docs, action, obj), (action, obj)


def test_review_role_never_uses_the_prod_key(role_policies, key_arns):
    docs = [role_policies["deploy-review"]]
    for action in ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:ReEncryptFrom"):
        assert not is_allowed(docs, action, key_arns.prod), action


def test_review_role_creates_roles_only_with_the_boundary(role_policies):
    docs = [role_policies["deploy-review"]]
    own = f"arn:aws:iam::{ACCOUNT}:role/service-pr-42/app-task-abc"
    assert evaluate(docs, "iam:CreateRole", own, {}) == EXPLICIT_DENY
    other = {"iam:PermissionsBoundary": BOUNDARY + "x"}
    assert evaluate(docs, "iam:CreateRole", own, other) == EXPLICIT_DENY
    assert evaluate(docs, "iam:DeleteRolePermissionsBoundary", own) == EXPLICIT_DENY
    admin = {"iam:PolicyARN": "arn:aws:iam::aws:policy/AdministratorAccess"}
    assert evaluate(docs, "iam:AttachRolePolicy", own, admin) != ALLOW


def test_the_boundary_admits_the_review_stacks_paths(boundary):
    """A review stack's scheduler role passes its task roles (under /service-pr-<n>/)."""
    passed = {"iam:PassedToService": "ecs-tasks.amazonaws.com"}
    role = f"arn:aws:iam::{ACCOUNT}:role/service-pr-42/app-task-abc"
    assert evaluate([boundary], "iam:PassRole", role, passed) == ALLOW
    outside = f"arn:aws:iam::{ACCOUNT}:role/other-pr-42/app-task-abc"
    assert evaluate([boundary, ALLOW_EVERYTHING], "iam:PassRole", outside, passed) == EXPLICIT_DENY


def test_other_roles_gain_nothing_on_review_stacks(role_policies):
    """The preview roles read no review stack's state (nor does staging's deploy role write it)."""
    obj = state_object("pr-42")
    for kind in ("preview", "preview-prod", "deploy-staging", "deploy-prod"):
        assert not is_allowed([role_policies[kind]], "s3:PutObject", obj), kind
    for kind in ("preview", "preview-prod", "deploy-prod"):
        assert not is_allowed([role_policies[kind]], "s3:GetObject", obj), kind
