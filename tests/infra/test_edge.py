"""Edge protection in the offline plans: the WAF's managed rule groups and logs, the ALB's access
logs and the bucket policy ELB log delivery needs (issue 20)."""

from __future__ import annotations

import json

import pytest

from infra import catalog
from infra.components.waf import MANAGED_RULE_GROUPS
from infra.tools.mocks import ACCOUNT, InfraMocks, mock_id, mock_physical_name
from service.config import Settings
from tests.infra.conftest import run_stack

WEB_ACL = "aws:wafv2/webAcl:WebAcl"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
# WAF on an ALB inspects at most the first 8 KB of a body; the CommonRuleSet blocks bodies over it.
WAF_BODY_LIMIT = 8 * 1024
ZURICH = {
    "aws:region": "eu-central-2",
    "availabilityZones": ["eu-central-2a", "eu-central-2b"],
    "albAccessLogs": True,
}


def rules(run) -> dict[str, dict]:
    return {r["name"]: r for r in run.named("web-waf", WEB_ACL).plain_inputs()["rules"]}


def bucket_policy(run) -> dict[str, dict]:
    document = json.loads(run.named("web-access-logs-policy").plain_inputs()["policy"])
    return {s["Sid"]: s for s in document["Statement"]}


# ---- WAF -------------------------------------------------------------------------------------
def test_prod_waf_runs_the_three_aws_managed_rule_groups_after_the_rate_limit(prod):
    by_name = rules(prod)
    assert set(by_name) == {"rate-limit-per-ip", *MANAGED_RULE_GROUPS}
    assert set(MANAGED_RULE_GROUPS) == {
        "AWSManagedRulesCommonRuleSet",
        "AWSManagedRulesKnownBadInputsRuleSet",
        "AWSManagedRulesAmazonIpReputationList",
    }
    priorities = [r["priority"] for r in by_name.values()]
    assert len(set(priorities)) == len(priorities), priorities
    assert by_name["rate-limit-per-ip"]["priority"] == min(priorities)
    for group in MANAGED_RULE_GROUPS:
        rule = by_name[group]
        statement = rule["statement"]["managedRuleGroupStatement"]
        assert (statement["vendorName"], statement["name"]) == ("AWS", group)
        assert rule["overrideAction"] == {"none": {}}, "the group's own block actions apply"
        assert "action" not in rule, "a rule-group rule takes overrideAction, not action"
    metrics = [r["visibilityConfig"]["metricName"] for r in by_name.values()]
    assert len(set(metrics)) == len(metrics)
    assert all(r["visibilityConfig"]["cloudwatchMetricsEnabled"] for r in by_name.values())


def test_the_body_size_rule_only_counts_because_the_service_accepts_larger_bodies(prod):
    """The service answers 413 above MAX_BODY_BYTES (1 MiB); a valid item can pass 8 KB, so the
    CommonRuleSet's SizeRestrictions_BODY must not block (its other rules still do)."""
    assert Settings.model_fields["max_body_bytes"].default > WAF_BODY_LIMIT
    statement = rules(prod)["AWSManagedRulesCommonRuleSet"]["statement"]
    overrides = statement["managedRuleGroupStatement"]["ruleActionOverrides"]
    assert overrides == [{"name": "SizeRestrictions_BODY", "actionToUse": {"count": {}}}]


def test_the_authorization_header_never_reaches_waf_logs_or_sampled_requests(prod):
    acl = prod.named("web-waf", WEB_ACL).plain_inputs()
    (protection,) = acl["dataProtectionConfig"]["dataProtections"]
    assert protection["action"] == "SUBSTITUTION"
    assert protection["field"] == {"fieldType": "SINGLE_HEADER", "fieldKeys": ["authorization"]}
    logging = prod.named(
        "web-waf", "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration"
    )
    assert logging.plain_inputs()["redactedFields"] == [{"singleHeader": {"name": "authorization"}}]


def test_waf_logs_what_it_blocked_or_counted_to_its_own_expiring_log_group(prod):
    group = prod.named("web-waf-logs", LOG_GROUP).plain_inputs()
    assert group["name"] == "aws-waf-logs-service-prod", "WAF requires the aws-waf-logs- prefix"
    assert group["retentionInDays"] == 90, "the stack's logRetentionDays"
    logging = prod.named(
        "web-waf", "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration"
    )
    inputs = logging.plain_inputs()
    arn = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:aws-waf-logs-service-prod"
    assert inputs["logDestinationConfigs"] == [arn]
    assert inputs["resourceArn"].startswith(f"arn:aws:wafv2:us-east-1:{ACCOUNT}:regional/webacl/")
    log_filter = inputs["loggingFilter"]
    assert log_filter["defaultBehavior"] == "DROP"
    (keep,) = log_filter["filters"]
    assert keep["behavior"] == "KEEP" and keep["requirement"] == "MEETS_ANY"
    actions = {c["actionCondition"]["action"] for c in keep["conditions"]}
    assert actions == {"BLOCK", "COUNT"}
    policy = prod.named("web-waf-logs", "aws:cloudwatch/logResourcePolicy:LogResourcePolicy")
    assert policy.urn in logging.dependencies


def test_the_log_resource_policy_admits_waf_delivery_to_that_group_for_this_account_only(prod):
    policy = prod.named("web-waf-logs", "aws:cloudwatch/logResourcePolicy:LogResourcePolicy")
    inputs = policy.plain_inputs()
    assert inputs["policyName"] == "service-prod-waf-logs"
    (statement,) = json.loads(inputs["policyDocument"])["Statement"]
    assert statement["Principal"] == {"Service": "delivery.logs.amazonaws.com"}
    assert statement["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert statement["Resource"] == (
        f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:aws-waf-logs-service-prod:*"
    )
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        "ArnLike": {"aws:SourceArn": f"arn:aws:logs:us-east-1:{ACCOUNT}:*"},
    }


def test_waf_in_another_stack_logs_with_that_stacks_retention():
    run = run_stack("staging", wafEnabled=True)
    group = run.named("web-waf-logs", LOG_GROUP).plain_inputs()
    assert (group["name"], group["retentionInDays"]) == ("aws-waf-logs-service-staging", 7)


# ---- ALB access logs -------------------------------------------------------------------------
@pytest.mark.parametrize(("stack", "on"), [("dev", False), ("staging", False), ("prod", True)])
def test_access_logs_by_stack(stack, on):
    run = run_stack(stack)
    assert bool(run.of_type("aws:s3/bucket:Bucket")) is on
    assert ("accessLogs" in run.named("web-alb").inputs) is on


def test_prod_alb_writes_access_logs_to_its_bucket_once_the_policy_exists(prod):
    alb = prod.named("web-alb")
    bucket = prod.named("web-access-logs-bucket").plain_inputs()
    assert bucket["bucket"] == f"service-prod-alb-logs-{ACCOUNT}"
    assert alb.plain_inputs()["accessLogs"] == {"bucket": bucket["bucket"], "enabled": True}
    # Turning access logs on fails with Access Denied until ELB may write to the bucket.
    assert prod.named("web-access-logs-policy").urn in alb.dependencies


def test_prod_log_bucket_is_protected_and_kept_staging_can_destroy_its_own(prod):
    kept = prod.named("web-access-logs-bucket")
    assert kept.protect and kept.plain_inputs()["forceDestroy"] is False
    staging = run_stack("staging", albAccessLogs=True).named("web-access-logs-bucket")
    assert not staging.protect and staging.plain_inputs()["forceDestroy"] is True


def test_the_log_bucket_is_private_sse_s3_owner_enforced_and_expires(prod):
    bucket = mock_id(prod.named("web-access-logs-bucket"))
    encryption = prod.named("web-access-logs-encryption").plain_inputs()
    assert encryption["bucket"] == bucket
    (rule,) = encryption["rules"]
    # ALB access logs support SSE-S3 only: SSE-KMS would stop the delivery.
    assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "AES256"}
    block = prod.named("web-access-logs-public-access").plain_inputs()
    assert {k: v for k, v in block.items() if k != "bucket"} == {
        "blockPublicAcls": True,
        "blockPublicPolicy": True,
        "ignorePublicAcls": True,
        "restrictPublicBuckets": True,
    }
    ownership = prod.named("web-access-logs-ownership").plain_inputs()
    assert ownership["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
    (expiry,) = prod.named("web-access-logs-expiry").plain_inputs()["rules"]
    assert expiry["status"] == "Enabled" and expiry["expiration"] == {"days": 90}


def test_the_expiry_follows_the_config_key():
    run = run_stack("staging", albAccessLogs=True, albAccessLogsExpireDays=14)
    (expiry,) = run.named("web-access-logs-expiry").plain_inputs()["rules"]
    assert expiry["expiration"] == {"days": 14}


def test_older_regions_admit_their_elb_account_to_write_under_awslogs_only(prod):
    statements = bucket_policy(prod)
    delivery = statements["ElbAccessLogDelivery"]
    # us-east-1's Elastic Load Balancing account, as aws.elb.get_service_account answers it
    assert delivery["Principal"] == {"AWS": "arn:aws:iam::127311923021:root"}
    assert delivery["Action"] == "s3:PutObject"
    assert delivery["Resource"] == (
        f"arn:aws:s3:::service-prod-alb-logs-{ACCOUNT}/AWSLogs/{ACCOUNT}/*"
    )
    deny = statements["DenyInsecureTransport"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {
        "Bool": {"aws:SecureTransport": "false"}
    }


def test_regions_launched_since_august_2022_admit_the_log_delivery_service():
    run = run_stack("staging", **ZURICH)
    delivery = bucket_policy(run)["ElbAccessLogDelivery"]
    assert delivery["Principal"] == {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}
    assert delivery["Resource"].endswith(f"/AWSLogs/{ACCOUNT}/*")


def test_the_region_rule_and_the_providers_answers_agree():
    mocks = InfraMocks("us-east-1")
    answer, failures = mocks._elb_service_account({"region": "eu-west-1"})
    assert answer["arn"] == "arn:aws:iam::156460612806:root" and not failures
    _, failures = mocks._elb_service_account({"region": "eu-central-2"})
    assert failures, "the provider has no ELB account for a region launched after August 2022"
    assert catalog.elb_logs_use_account_principal("eu-west-1")
    assert not catalog.elb_logs_use_account_principal("eu-central-2")


def test_the_bucket_is_named_by_the_stack_so_the_deploy_roles_can_scope_it(prod):
    assert mock_physical_name(prod.named("web-access-logs-bucket")).startswith(
        "service-prod-alb-logs-"
    )
