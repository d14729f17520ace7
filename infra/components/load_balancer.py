"""Application Load Balancer, target group, listeners and the optional WAF web ACL."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.components.network import APP_PORT


@dataclass(frozen=True)
class LoadBalancerArgs:
    vpc_id: pulumi.Input[str]
    subnet_ids: Sequence[pulumi.Input[str]]
    security_group_id: pulumi.Input[str]
    certificate_arn: str | None
    ssl_policy: str
    idle_timeout_seconds: int
    deletion_protection: bool
    health_check_path: str = "/health"
    waf_rate_limit: int | None = None  # requests per 5 minutes per client IP; None = no WAF


class LoadBalancer(pulumi.ComponentResource):
    """Public ALB in front of the tasks.

    With a certificate: HTTP redirects to HTTPS (301) and HTTPS (TLS 1.3 policy) forwards. Without
    one: HTTP forwards. ``listener`` is the one the service must wait for before registering.
    """

    def __init__(
        self, name: str, args: LoadBalancerArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("service:infra:LoadBalancer", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.alb = aws.lb.LoadBalancer(
            f"{name}-alb",
            load_balancer_type="application",
            internal=False,
            subnets=list(args.subnet_ids),
            security_groups=[args.security_group_id],
            drop_invalid_header_fields=True,
            desync_mitigation_mode="defensive",
            idle_timeout=args.idle_timeout_seconds,
            enable_http2=True,
            enable_deletion_protection=args.deletion_protection,
            opts=child,
        )
        self.target_group = aws.lb.TargetGroup(
            f"{name}-tg",
            port=APP_PORT,
            protocol="HTTP",
            target_type="ip",
            vpc_id=args.vpc_id,
            deregistration_delay=30,
            health_check=aws.lb.TargetGroupHealthCheckArgs(
                enabled=True,
                path=args.health_check_path,
                protocol="HTTP",
                port="traffic-port",
                matcher="200",
                interval=15,
                timeout=5,
                healthy_threshold=2,
                unhealthy_threshold=3,
            ),
            opts=child,
        )
        forward = aws.lb.ListenerDefaultActionArgs(
            type="forward", target_group_arn=self.target_group.arn
        )
        if args.certificate_arn:
            self.https_listener: aws.lb.Listener | None = aws.lb.Listener(
                f"{name}-https",
                load_balancer_arn=self.alb.arn,
                port=443,
                protocol="HTTPS",
                ssl_policy=args.ssl_policy,
                certificate_arn=args.certificate_arn,
                default_actions=[forward],
                opts=child,
            )
            http_action = aws.lb.ListenerDefaultActionArgs(
                type="redirect",
                redirect=aws.lb.ListenerDefaultActionRedirectArgs(
                    port="443", protocol="HTTPS", status_code="HTTP_301"
                ),
            )
        else:
            self.https_listener = None
            http_action = forward
        self.http_listener = aws.lb.Listener(
            f"{name}-http",
            load_balancer_arn=self.alb.arn,
            port=80,
            protocol="HTTP",
            default_actions=[http_action],
            opts=child,
        )
        self.listener = self.https_listener or self.http_listener
        self.scheme = "https" if args.certificate_arn else "http"
        self.dns_name = self.alb.dns_name
        self.arn_suffix = self.alb.arn_suffix
        self.target_group_arn_suffix = self.target_group.arn_suffix

        self.web_acl: aws.wafv2.WebAcl | None = None
        if args.waf_rate_limit is not None:
            self.web_acl = self._waf(name, args.waf_rate_limit)

        self.register_outputs({"dnsName": self.dns_name})

    def _waf(self, name: str, limit: int) -> aws.wafv2.WebAcl:
        """A coarse per-IP rate limit in front of the application limiter."""

        def visibility(metric: str):
            return {
                "cloudwatch_metrics_enabled": True,
                "metric_name": metric,
                "sampled_requests_enabled": True,
            }

        acl = aws.wafv2.WebAcl(
            f"{name}-waf",
            scope="REGIONAL",
            description="Per-IP rate limit in front of the service",
            default_action=aws.wafv2.WebAclDefaultActionArgs(
                allow=aws.wafv2.WebAclDefaultActionAllowArgs()
            ),
            rules=[
                aws.wafv2.WebAclRuleArgs(
                    name="rate-limit-per-ip",
                    priority=1,
                    action=aws.wafv2.WebAclRuleActionArgs(
                        block=aws.wafv2.WebAclRuleActionBlockArgs()
                    ),
                    statement=aws.wafv2.WebAclRuleStatementArgs(
                        rate_based_statement=aws.wafv2.WebAclRuleStatementRateBasedStatementArgs(
                            limit=limit,
                            aggregate_key_type="IP",
                            evaluation_window_sec=300,
                        )
                    ),
                    visibility_config=aws.wafv2.WebAclRuleVisibilityConfigArgs(
                        **visibility(f"{name}-rate-limit")
                    ),
                )
            ],
            visibility_config=aws.wafv2.WebAclVisibilityConfigArgs(**visibility(f"{name}-waf")),
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.wafv2.WebAclAssociation(
            f"{name}-waf",
            resource_arn=self.alb.arn,
            web_acl_arn=acl.arn,
            opts=pulumi.ResourceOptions(parent=self),
        )
        return acl
