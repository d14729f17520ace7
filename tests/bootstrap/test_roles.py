"""The CI roles, evaluated: trust pinned to this repository, what each role can and cannot do."""

import pytest

from infra.bootstrap import policies
from tests.bootstrap.conftest import ACCOUNT, BUCKET_ARN, REPOSITORY, role_arn, state_object
from tests.bootstrap.iam_eval import ALLOW, EXPLICIT_DENY, evaluate, is_allowed

OIDC = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
SUBJECTS = {
    # PR previews, and drift.yml's dev and staging entries (environment `drift`)
    "preview": [f"repo:{REPOSITORY}:pull_request", f"repo:{REPOSITORY}:environment:drift"],
    "deploy-staging": f"repo:{REPOSITORY}:environment:staging",
    "deploy-review": f"repo:{REPOSITORY}:environment:review",
    "preview-prod": f"repo:{REPOSITORY}:environment:production-preview",
    "deploy-prod": f"repo:{REPOSITORY}:environment:production",
}
REPO = "arn:aws:ecr:us-east-1:123456789012:repository/registry-repo-abc1234"
PUSH = ("ecr:PutImage", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload")


def tagged(stack):
    return {"aws:ResourceTag/stack": stack}


# ---- trust ----------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", policies.ROLE_KINDS)
def test_trust_pins_audience_and_exact_subject(trust_policies, kind):
    (only,) = trust_policies[kind]["Statement"]
    assert only["Effect"] == "Allow"
    assert only["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert only["Principal"] == {"Federated": OIDC}
    assert only["Condition"] == {
        "StringEquals": {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": SUBJECTS[kind],
        }
    }, "trust must be StringEquals on exactly aud and sub (no StringLike, no wildcard)"


def test_roles_live_on_the_ci_path_with_the_names_the_variables_get(bootstrap):
    for kind in policies.ROLE_KINDS:
        role = bootstrap.named(f"github-{kind}", "aws:iam/role:Role").plain_inputs()
        assert (role["path"], role["name"]) == ("/service-ci/", f"service-gha-{kind}")
        assert role_arn(kind) in bootstrap.outputs["githubVariables"]


# ---- the PR preview role: dev and staging only ----------------------------------------------
def test_preview_reads_dev_and_staging_state_and_decrypts_with_the_nonprod_key(
    role_policies, key_arns
):
    preview = [role_policies["preview"]]
    for stack in ("dev", "staging"):
        assert evaluate(preview, "s3:GetObject", state_object(stack)) == ALLOW
    assert evaluate(preview, "kms:Decrypt", key_arns.nonprod) == ALLOW
    s3_context = {
        "kms:ViaService": "s3.us-east-1.amazonaws.com",
        "kms:EncryptionContext:aws:s3:arn": BUCKET_ARN,
    }
    assert evaluate(preview, "kms:Decrypt", key_arns.state, s3_context) == ALLOW


@pytest.mark.parametrize(
    "obj",
    [
        state_object("prod"),
        state_object("prod", "{stack}.json.gz"),
        state_object("prod", "{stack}.json.bak"),
        f"{BUCKET_ARN}/.pulumi/history/service/prod/prod-1.history.json",
        f"{BUCKET_ARN}/.pulumi/backups/service/prod/prod.1.json",
    ],
)
def test_preview_cannot_read_prod_state(role_policies, obj):
    assert not is_allowed([role_policies["preview"]], "s3:GetObject", obj)


def test_preview_cannot_use_the_prod_key_in_any_way(role_policies, key_arns):
    preview = [role_policies["preview"]]
    for action in ("kms:Decrypt", "kms:Encrypt", "kms:ReEncryptFrom", "kms:GenerateDataKey"):
        assert not is_allowed(preview, action, key_arns.prod), action
    # explicit, so a broader policy attached to the role later cannot grant it
    assert evaluate([*preview, ALLOW_EVERYTHING], "kms:Decrypt", key_arns.prod) == EXPLICIT_DENY


ALLOW_EVERYTHING = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}


@pytest.mark.parametrize("kind", ["preview", "preview-prod"])
def test_previews_cannot_push_images_or_pass_roles(role_policies, kind):
    docs = [role_policies[kind]]
    for action in (*PUSH, "ecr:BatchDeleteImage"):
        assert not is_allowed(docs, action, REPO), action
        assert evaluate([*docs, ALLOW_EVERYTHING], action, REPO) == EXPLICIT_DENY
    role = "arn:aws:iam::123456789012:role/service-prod/app-task-abc"
    assert not is_allowed(docs, "iam:PassRole", role)
    assert evaluate([*docs, ALLOW_EVERYTHING], "iam:PassRole", role) == EXPLICIT_DENY


def test_preview_prod_reads_prod_and_staging_images_and_writes_no_state(role_policies, key_arns):
    docs = [role_policies["preview-prod"]]
    assert evaluate(docs, "s3:GetObject", state_object("prod")) == ALLOW
    assert evaluate(docs, "kms:Decrypt", key_arns.prod) == ALLOW
    assert not is_allowed(docs, "kms:Decrypt", key_arns.nonprod)
    assert not is_allowed(docs, "s3:GetObject", state_object("staging"))
    for action in ("ecr:DescribeImages", "ecr:BatchGetImage"):
        assert evaluate(docs, action, REPO, tagged("staging")) == ALLOW
        assert evaluate(docs, action, REPO, tagged("dev")) != ALLOW
    lock = f"{BUCKET_ARN}/.pulumi/locks/organization/service/prod/abc.json"
    for action in ("s3:PutObject", "s3:DeleteObject"):
        assert not is_allowed(docs, action, lock)
        assert not is_allowed(docs, action, state_object("prod"))


# ---- deploy roles ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "stack", "other"),
    [("deploy-staging", "staging", "prod"), ("deploy-prod", "prod", "staging")],
)
def test_deploy_roles_write_their_own_state_only(role_policies, key_arns, kind, stack, other):
    docs = [role_policies[kind]]
    for obj in (
        state_object(stack),
        f"{BUCKET_ARN}/.pulumi/locks/organization/service/{stack}/abc.json",
        f"{BUCKET_ARN}/.pulumi/history/service/{stack}/{stack}-1.history.json",
    ):
        for action in ("s3:GetObject", "s3:PutObject", "s3:DeleteObject"):
            assert evaluate(docs, action, obj) == ALLOW, (action, obj)
    for action in ("s3:GetObject", "s3:PutObject"):
        assert not is_allowed(docs, action, state_object(other))
    own, foreign = (
        (key_arns.prod, key_arns.nonprod) if stack == "prod" else (key_arns.nonprod, key_arns.prod)
    )
    assert evaluate(docs, "kms:Decrypt", own) == ALLOW
    assert not is_allowed(docs, "kms:Decrypt", foreign)


def test_staging_deploy_never_changes_resources_tagged_for_another_stack(role_policies):
    docs = [role_policies["deploy-staging"]]
    alb = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web-alb-1/abc"
    assert (
        evaluate(docs, "elasticloadbalancing:DeleteLoadBalancer", alb, tagged("staging")) == ALLOW
    )
    assert (
        evaluate(docs, "elasticloadbalancing:DeleteLoadBalancer", alb, tagged("prod"))
        == EXPLICIT_DENY
    )
    assert evaluate(docs, "ecr:PutImage", REPO, tagged("prod")) == EXPLICIT_DENY
    assert (
        evaluate(docs, "ecr:CreateRepository", REPO, {"aws:RequestTag/stack": "prod"})
        == EXPLICIT_DENY
    )


def test_prod_deploy_pushes_to_its_repositories_and_pulls_stagings(role_policies):
    docs = [role_policies["deploy-prod"]]
    for action in PUSH:
        assert evaluate(docs, action, REPO, tagged("prod")) == ALLOW
        assert evaluate(docs, action, REPO, tagged("staging")) == EXPLICIT_DENY
    for action in ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"):
        assert evaluate(docs, action, REPO, tagged("staging")) == ALLOW


def test_staging_deploy_cannot_pull_prod_images(role_policies):
    docs = [role_policies["deploy-staging"]]
    assert evaluate(docs, "ecr:BatchGetImage", REPO, tagged("prod")) != ALLOW


@pytest.mark.parametrize(
    ("kind", "stack"), [("deploy-staging", "staging"), ("deploy-prod", "prod")]
)
def test_roles_are_created_only_on_the_stack_path_with_the_boundary(role_policies, kind, stack):
    docs = [role_policies[kind]]
    boundary = f"arn:aws:iam::{ACCOUNT}:policy/service-ci/service-workload-boundary"
    own = f"arn:aws:iam::{ACCOUNT}:role/service-{stack}/app-task-abc"
    other = "prod" if stack == "staging" else "staging"
    with_boundary = {"iam:PermissionsBoundary": boundary}
    assert evaluate(docs, "iam:CreateRole", own, with_boundary) == ALLOW
    assert evaluate(docs, "iam:CreateRole", own, {}) == EXPLICIT_DENY
    assert (
        evaluate(docs, "iam:CreateRole", own, {"iam:PermissionsBoundary": boundary + "x"})
        == EXPLICIT_DENY
    )
    assert evaluate(docs, "iam:DeleteRolePermissionsBoundary", own) == EXPLICIT_DENY
    for elsewhere in (
        f"arn:aws:iam::{ACCOUNT}:role/app-task-abc",
        f"arn:aws:iam::{ACCOUNT}:role/service-ci/service-gha-deploy-prod",
        f"arn:aws:iam::{ACCOUNT}:role/service-{other}/app-task-abc",
    ):
        for action in (
            "iam:CreateRole",
            "iam:PutRolePolicy",
            "iam:AttachRolePolicy",
            "iam:PassRole",
        ):
            assert not is_allowed(docs, action, elsewhere), (action, elsewhere)


@pytest.mark.parametrize("kind", ["deploy-staging", "deploy-prod"])
def test_pass_role_only_to_ecs_tasks_and_the_scheduler(role_policies, kind):
    docs = [role_policies[kind]]
    stack = kind.removeprefix("deploy-")
    role = f"arn:aws:iam::{ACCOUNT}:role/service-{stack}/app-task-abc"
    for service in ("ecs-tasks.amazonaws.com", "scheduler.amazonaws.com"):
        assert evaluate(docs, "iam:PassRole", role, {"iam:PassedToService": service}) == ALLOW
    for service in ("ec2.amazonaws.com", "lambda.amazonaws.com"):
        assert evaluate(docs, "iam:PassRole", role, {"iam:PassedToService": service}) != ALLOW


def test_only_the_ecs_execution_policy_may_be_attached(role_policies):
    docs = [role_policies["deploy-staging"]]
    role = f"arn:aws:iam::{ACCOUNT}:role/service-staging/app-execution-abc"
    ok = {"iam:PolicyARN": "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"}
    assert evaluate(docs, "iam:AttachRolePolicy", role, ok) == ALLOW
    admin = {"iam:PolicyARN": "arn:aws:iam::aws:policy/AdministratorAccess"}
    assert evaluate(docs, "iam:AttachRolePolicy", role, admin) != ALLOW


# ---- the boundary ---------------------------------------------------------------------------
def test_boundary_denies_iam_changes_outside_the_stack_paths(boundary):
    docs = [boundary, ALLOW_EVERYTHING]  # whatever a workload role were given
    for target in (
        f"arn:aws:iam::{ACCOUNT}:role/service-ci/service-gha-deploy-prod",
        f"arn:aws:iam::{ACCOUNT}:role/Administrator",
        f"arn:aws:iam::{ACCOUNT}:policy/service-ci/service-workload-boundary",
        f"arn:aws:iam::{ACCOUNT}:user/alice",
    ):
        for action in (
            "iam:PutRolePolicy",
            "iam:CreatePolicyVersion",
            "iam:AttachUserPolicy",
            "iam:PassRole",
        ):
            assert evaluate(docs, action, target) == EXPLICIT_DENY, (action, target)


def test_boundary_denies_removing_or_replacing_itself(boundary):
    docs = [boundary, ALLOW_EVERYTHING]
    role = f"arn:aws:iam::{ACCOUNT}:role/service-staging/app-task-abc"
    assert evaluate(docs, "iam:DeleteRolePermissionsBoundary", role) == EXPLICIT_DENY
    other = {"iam:PermissionsBoundary": f"arn:aws:iam::{ACCOUNT}:policy/other"}
    assert evaluate(docs, "iam:PutRolePermissionsBoundary", role, other) == EXPLICIT_DENY


def test_boundary_allows_what_the_workload_roles_need(boundary):
    docs = [boundary]
    secret = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:service-prod/jwt-secret-abc"
    assert evaluate(docs, "secretsmanager:GetSecretValue", secret) == ALLOW
    log = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/ecs/service-prod:log-stream:app/app/1"
    assert evaluate(docs, "logs:PutLogEvents", log) == ALLOW
    task_definition = f"arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/service-prod-worker:3"
    assert evaluate(docs, "ecs:RunTask", task_definition) == ALLOW
    assert evaluate(docs, "s3:GetObject", state_object("prod")) != ALLOW


def test_access_log_bucket_configuration_is_readable_by_the_roles_that_preview_its_stack(
    role_policies,
):
    def bucket(stack):
        return f"arn:aws:s3:::service-{stack}-alb-logs-{ACCOUNT}"

    assert evaluate([role_policies["preview"]], "s3:GetBucketPolicy", bucket("staging")) == ALLOW
    assert not is_allowed([role_policies["preview"]], "s3:GetBucketPolicy", bucket("prod"))
    assert evaluate([role_policies["preview-prod"]], "s3:GetBucketPolicy", bucket("prod")) == ALLOW
    for kind in ("preview", "preview-prod"):
        log = f"{bucket('prod')}/AWSLogs/{ACCOUNT}/elasticloadbalancing/x.log.gz"
        assert not is_allowed([role_policies[kind]], "s3:GetObject", log), kind
