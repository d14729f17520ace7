"""The WAFv2 web ACL in front of the ALB: a per-IP rate limit, AWS managed rule groups, and logs
of what it blocked or counted, with the Authorization header redacted.

The resources are children of the load balancer component (their URNs predate this module).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

VENDOR = "AWS"
# AWS managed rule groups, in evaluation order after the rate limit (priority 1). They cost $1 a
# month each like any rule (no subscription: Bot Control, ATP and ACFP would be extra) and use
# 25 + 200 + 700 of the 1,500 WCUs a web ACL has without extra charge.
MANAGED_RULE_GROUPS: tuple[str, ...] = (
    "AWSManagedRulesAmazonIpReputationList",  # sources AWS threat intelligence saw attacking
    "AWSManagedRulesKnownBadInputsRuleSet",  # Log4j, Java deserialisation, localhost Host header
    "AWSManagedRulesCommonRuleSet",  # OWASP-style core rules (XSS, LFI, SSRF, size limits)
)
# Rules of a managed group that only count. SizeRestrictions_BODY blocks bodies over 8 KB, but the
# service accepts up to MAX_BODY_BYTES (1 MiB, answered 413 above) and a valid item (a 2,000
# character description, up to 4 bytes per character in UTF-8 and up to 12 when JSON-escaped)
# can pass 8 KB: blocking there would refuse valid requests. The service's own limit decides.
COUNT_ONLY_RULES: dict[str, tuple[str, ...]] = {
    "AWSManagedRulesCommonRuleSet": ("SizeRestrictions_BODY",),
}
# WAF refuses a CloudWatch Logs destination whose name does not start with this.
LOG_GROUP_PREFIX = "aws-waf-logs-"
# Never in a log or a sampled request: the bearer token (JWT) of every authenticated call.
REDACTED_HEADERS: tuple[str, ...] = ("authorization",)
LOG_DELIVERY = "delivery.logs.amazonaws.com"


@dataclass(frozen=True)
class WafArgs:
    rate_limit: int  # requests per 5 minutes per client IP
    prefix: str  # the stack's physical-name prefix: the log group is aws-waf-logs-<prefix>
    log_retention_days: int
    region: str = "us-east-1"  # of the log group's ARN in the resource policy

    @property
    def log_group_name(self) -> str:
        return f"{LOG_GROUP_PREFIX}{self.prefix}"


def _visibility(metric: str) -> dict:
    return {
        "cloudwatch_metrics_enabled": True,
        "metric_name": metric,
        "sampled_requests_enabled": True,
    }


def _managed_rule(name: str, group: str, priority: int) -> aws.wafv2.WebAclRuleArgs:
    overrides = [
        aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementRuleActionOverrideArgs(
            name=rule,
            action_to_use=aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementRuleActionOverrideActionToUseArgs(
                count=aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementRuleActionOverrideActionToUseCountArgs()
            ),
        )
        for rule in COUNT_ONLY_RULES.get(group, ())
    ]
    return aws.wafv2.WebAclRuleArgs(
        name=group,
        priority=priority,
        # "none": the group's own actions (block) apply; "count" would disarm the whole group.
        override_action=aws.wafv2.WebAclRuleOverrideActionArgs(
            none=aws.wafv2.WebAclRuleOverrideActionNoneArgs()
        ),
        statement=aws.wafv2.WebAclRuleStatementArgs(
            managed_rule_group_statement=aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementArgs(
                vendor_name=VENDOR,
                name=group,
                rule_action_overrides=overrides or None,
            )
        ),
        visibility_config=aws.wafv2.WebAclRuleVisibilityConfigArgs(
            **_visibility(f"{name}-{group}")
        ),
    )


def _rate_rule(name: str, limit: int) -> aws.wafv2.WebAclRuleArgs:
    return aws.wafv2.WebAclRuleArgs(
        name="rate-limit-per-ip",
        priority=1,
        action=aws.wafv2.WebAclRuleActionArgs(block=aws.wafv2.WebAclRuleActionBlockArgs()),
        statement=aws.wafv2.WebAclRuleStatementArgs(
            rate_based_statement=aws.wafv2.WebAclRuleStatementRateBasedStatementArgs(
                limit=limit,
                aggregate_key_type="IP",
                evaluation_window_sec=300,
            )
        ),
        visibility_config=aws.wafv2.WebAclRuleVisibilityConfigArgs(
            **_visibility(f"{name}-rate-limit")
        ),
    )


def web_acl(
    parent: pulumi.Resource, name: str, alb_arn: pulumi.Input[str], args: WafArgs
) -> aws.wafv2.WebAcl:
    """The web ACL, its association with the ALB and its logging."""
    child = pulumi.ResourceOptions(parent=parent)
    rules = [_rate_rule(name, args.rate_limit)] + [
        _managed_rule(name, group, priority)
        for priority, group in enumerate(MANAGED_RULE_GROUPS, start=2)
    ]
    acl = aws.wafv2.WebAcl(
        f"{name}-waf",
        scope="REGIONAL",
        description="Per-IP rate limit and AWS managed rules in front of the service",
        default_action=aws.wafv2.WebAclDefaultActionArgs(
            allow=aws.wafv2.WebAclDefaultActionAllowArgs()
        ),
        rules=rules,
        # Redaction in the logging configuration does not reach sampled requests (console):
        # web-ACL-level data protection replaces the header's value everywhere WAF stores it.
        data_protection_config=aws.wafv2.WebAclDataProtectionConfigArgs(
            data_protections=[
                aws.wafv2.WebAclDataProtectionConfigDataProtectionArgs(
                    action="SUBSTITUTION",
                    field=aws.wafv2.WebAclDataProtectionConfigDataProtectionFieldArgs(
                        field_type="SINGLE_HEADER", field_keys=list(REDACTED_HEADERS)
                    ),
                )
            ]
        ),
        visibility_config=aws.wafv2.WebAclVisibilityConfigArgs(**_visibility(f"{name}-waf")),
        opts=child,
    )
    aws.wafv2.WebAclAssociation(
        f"{name}-waf", resource_arn=alb_arn, web_acl_arn=acl.arn, opts=child
    )
    _logging(parent, name, acl, args)
    return acl


def _logging(parent: pulumi.Resource, name: str, acl: aws.wafv2.WebAcl, args: WafArgs) -> None:
    child = pulumi.ResourceOptions(parent=parent)
    group = aws.cloudwatch.LogGroup(
        f"{name}-waf-logs",
        name=args.log_group_name,
        retention_in_days=args.log_retention_days,
        opts=child,
    )
    # Without a policy of our own, WAF adds this group to the account-wide AWSWAF-LOGS resource
    # policy, which outgrows its size limit in busy accounts (pulumi_aws docs). Ours admits the
    # log delivery service for this group only, and only on behalf of this account. Its ARNs are
    # built from the caller's identity, so a preview shows the document before anything exists.
    caller = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=parent))
    logs = pulumi.Output.concat(
        "arn:", caller.arn.apply(lambda arn: arn.split(":")[1]), ":logs:", args.region, ":",
        caller.account_id,
    )  # fmt: skip
    policy = aws.cloudwatch.LogResourcePolicy(
        f"{name}-waf-logs",
        policy_name=f"{args.prefix}-waf-logs",
        policy_document=pulumi.Output.json_dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "WafLogDelivery",
                        "Effect": "Allow",
                        "Principal": {"Service": LOG_DELIVERY},
                        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                        "Resource": pulumi.Output.concat(
                            logs, ":log-group:", args.log_group_name, ":*"
                        ),
                        "Condition": {
                            "StringEquals": {"aws:SourceAccount": caller.account_id},
                            "ArnLike": {"aws:SourceArn": pulumi.Output.concat(logs, ":*")},
                        },
                    }
                ],
            }
        ),
        opts=child,
    )
    aws.wafv2.WebAclLoggingConfiguration(
        f"{name}-waf",
        resource_arn=acl.arn,
        log_destination_configs=[group.arn],
        redacted_fields=[
            aws.wafv2.WebAclLoggingConfigurationRedactedFieldArgs(
                single_header=aws.wafv2.WebAclLoggingConfigurationRedactedFieldSingleHeaderArgs(
                    name=header
                )
            )
            for header in REDACTED_HEADERS
        ],
        # What WAF blocked or counted, not every allowed request: the ALB's access logs (where
        # on) hold those, and logging all of them would cost more than the WAF itself.
        logging_filter=aws.wafv2.WebAclLoggingConfigurationLoggingFilterArgs(
            default_behavior="DROP",
            filters=[
                aws.wafv2.WebAclLoggingConfigurationLoggingFilterFilterArgs(
                    behavior="KEEP",
                    requirement="MEETS_ANY",
                    conditions=[
                        aws.wafv2.WebAclLoggingConfigurationLoggingFilterFilterConditionArgs(
                            action_condition=aws.wafv2.WebAclLoggingConfigurationLoggingFilterFilterConditionActionConditionArgs(
                                action=action
                            )
                        )
                        for action in ("BLOCK", "COUNT")
                    ],
                )
            ],
        ),
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[policy]),
    )
