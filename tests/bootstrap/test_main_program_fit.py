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
    """Every log group the prod plan creates (tasks, RDS export, Container Insights, WAF) and its
    VPC endpoints are within what the prod deploy role may create."""
    docs = [role_policies["deploy-prod"]]
    run = run_stack("prod")
    groups = [g.plain_inputs()["name"] for g in run.of_type("aws:cloudwatch/logGroup:LogGroup")]
    assert len(groups) == 4, groups
    for name in groups:
        arn = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{name}"
        assert evaluate(docs, "logs:CreateLogGroup", arn, {}) == ALLOW, name
        assert evaluate(docs, "logs:PutRetentionPolicy", arn, {}) == ALLOW, name
    assert run.of_type("aws:ec2/vpcEndpoint:VpcEndpoint"), "prod has endpoints"
    endpoint = f"arn:aws:ec2:us-east-1:{ACCOUNT}:vpc-endpoint/*"
    for action in ("ec2:CreateVpcEndpoint", "ec2:ModifyVpcEndpoint", "ec2:DeleteVpcEndpoints"):
        assert evaluate(docs, action, endpoint, {}) == ALLOW, action


def test_the_access_log_bucket_is_within_the_deploy_roles_and_only_staging_may_empty_it(
    role_policies,
):
    for stack in ("staging", "prod"):
        docs = [role_policies[f"deploy-{stack}"]]
        run = run_stack(stack, albAccessLogs=True)
        bucket = run.named("web-access-logs-bucket").plain_inputs()["bucket"]
        arn = f"arn:aws:s3:::{bucket}"
        for action in (
            "s3:CreateBucket",
            "s3:PutBucketPolicy",
            "s3:PutEncryptionConfiguration",
            "s3:PutLifecycleConfiguration",
            "s3:PutBucketPublicAccessBlock",
            "s3:PutBucketOwnershipControls",
            "s3:GetBucketPolicy",
            "s3:ListBucket",
            "s3:DeleteBucket",
        ):
            assert evaluate(docs, action, arn, {}) == ALLOW, (stack, action)
        other = "prod" if stack == "staging" else "staging"
        foreign = f"arn:aws:s3:::service-{other}-alb-logs-{ACCOUNT}"
        assert evaluate(docs, "s3:PutBucketPolicy", foreign, {}) != ALLOW, stack
        emptied = evaluate(docs, "s3:DeleteObject", f"{arn}/AWSLogs/{ACCOUNT}/x.log.gz", {})
        assert (emptied == ALLOW) is (stack == "staging"), (stack, emptied)


def test_waf_logging_dead_letters_and_monitoring_fit_the_prod_deploy_role(role_policies):
    docs = [role_policies["deploy-prod"]]
    run = run_stack("prod")
    acl = f"arn:aws:wafv2:us-east-1:{ACCOUNT}:regional/webacl/web-waf/abc"
    for action in ("wafv2:PutLoggingConfiguration", "wafv2:DeleteLoggingConfiguration"):
        assert evaluate(docs, action, acl, {}) == ALLOW, action
    for action in ("logs:CreateLogDelivery", "logs:PutResourcePolicy"):
        assert evaluate(docs, action, "*", {}) == ALLOW, action
    queue = run.named("worker-dlq").plain_inputs()["name"]
    queue_arn = f"arn:aws:sqs:us-east-1:{ACCOUNT}:{queue}"
    for action in ("sqs:CreateQueue", "sqs:SetQueueAttributes", "sqs:DeleteQueue"):
        assert evaluate(docs, action, queue_arn, {}) == ALLOW, action
    role = run.named("database-monitoring", "aws:iam/role:Role").plain_inputs()
    role_arn = f"arn:aws:iam::{ACCOUNT}:role{role['path']}database-monitoring-abc1234"
    policy = run.named(
        "database-monitoring", "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
    ).plain_inputs()["policyArn"]
    attach = {"iam:PolicyARN": policy}
    assert evaluate(docs, "iam:AttachRolePolicy", role_arn, attach) == ALLOW
    passed = {"iam:PassedToService": "monitoring.rds.amazonaws.com"}
    assert evaluate(docs, "iam:PassRole", role_arn, passed) == ALLOW


def test_the_boundary_lets_the_workload_roles_do_what_the_program_grants(boundary):
    """The scheduler role sends dead letters and the monitoring role writes RDSOSMetrics: the
    boundary caps both, so it must allow exactly that much."""
    docs = [boundary]
    run = run_stack("prod")
    queue = run.named("worker-dlq").plain_inputs()["name"]
    assert evaluate(docs, "sqs:SendMessage", f"arn:aws:sqs:us-east-1:{ACCOUNT}:{queue}") == ALLOW
    group = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:RDSOSMetrics"
    assert evaluate(docs, "logs:CreateLogGroup", group) == ALLOW
    assert evaluate(docs, "logs:PutLogEvents", f"{group}:log-stream:db-ABC") == ALLOW
    elsewhere = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/ecs/other-app"
    assert evaluate(docs, "logs:CreateLogGroup", elsewhere) != ALLOW


def test_prods_canary_fits_the_prod_deploy_role(role_policies):
    """The production listener rule, the dashboard and ECS's infrastructure role (its managed
    policy attached, the role passed to ECS) are within what the prod deploy role may do."""
    docs = [role_policies["deploy-prod"]]
    run = run_stack("prod", permissionsBoundaryArn=BOUNDARY)
    (lb,) = run.named("app-service").plain_inputs()["loadBalancers"]
    rule = lb["advancedConfiguration"]["productionListenerRule"]
    listener = run.named("web-production").plain_inputs()["listenerArn"]
    assert evaluate(docs, "elasticloadbalancing:CreateRule", listener, {}) == ALLOW
    for action in ("ModifyRule", "DeleteRule", "AddTags"):
        assert evaluate(docs, f"elasticloadbalancing:{action}", rule, {}) == ALLOW, action

    dashboard = run.named("dashboard-dashboard").plain_inputs()["dashboardName"]
    arn = f"arn:aws:cloudwatch::{ACCOUNT}:dashboard/{dashboard}"
    for action in ("cloudwatch:PutDashboard", "cloudwatch:DeleteDashboards"):
        assert evaluate(docs, action, arn, {}) == ALLOW, action
    staging = f"arn:aws:cloudwatch::{ACCOUNT}:dashboard/service-staging"
    assert evaluate(docs, "cloudwatch:PutDashboard", staging, {}) != ALLOW
    assert evaluate(docs, "cloudwatch:GetDashboard", arn, {}) == ALLOW  # refresh

    role = run.named("app-ecs-infrastructure", "aws:iam/role:Role").plain_inputs()
    role_arn = f"arn:aws:iam::{ACCOUNT}:role{role['path']}app-ecs-infrastructure-abc1234"
    policy = run.named(
        "app-ecs-infrastructure-managed", "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
    ).plain_inputs()["policyArn"]
    assert evaluate(docs, "iam:AttachRolePolicy", role_arn, {"iam:PolicyARN": policy}) == ALLOW
    passed = {"iam:PassedToService": "ecs.amazonaws.com"}
    assert evaluate(docs, "iam:PassRole", role_arn, passed) == ALLOW
    assert lb["advancedConfiguration"]["roleArn"].startswith(
        f"arn:aws:iam::{ACCOUNT}:role/service-prod/app-ecs-infrastructure"
    )


def test_the_boundary_lets_ecs_shift_traffic_and_nothing_more(boundary):
    """ECS's infrastructure role is created with the boundary, which caps its managed policy:
    the boundary must allow the target registrations and the rule changes of a deployment."""
    docs = [boundary]
    run = run_stack("prod")
    (lb,) = run.named("app-service").plain_inputs()["loadBalancers"]
    rule = lb["advancedConfiguration"]["productionListenerRule"]
    listener = run.named("web-production").plain_inputs()["listenerArn"]
    for group in (lb["targetGroupArn"], lb["advancedConfiguration"]["alternateTargetGroupArn"]):
        for action in ("RegisterTargets", "DeregisterTargets"):
            assert evaluate(docs, f"elasticloadbalancing:{action}", group) == ALLOW, action
    assert evaluate(docs, "elasticloadbalancing:ModifyRule", rule) == ALLOW
    assert evaluate(docs, "elasticloadbalancing:ModifyListener", listener) == ALLOW
    assert evaluate(docs, "elasticloadbalancing:DescribeRules", "*") == ALLOW
    alb = run.named("web-production").plain_inputs()["listenerArn"].rsplit("/", 1)[0]
    alb = alb.replace(":listener/app/", ":loadbalancer/app/")
    for action in ("DeleteLoadBalancer", "DeleteRule", "CreateListener"):
        assert evaluate(docs, f"elasticloadbalancing:{action}", alb) != ALLOW, action
