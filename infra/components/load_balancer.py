"""Application Load Balancer, target group, listeners, and optionally its access-log bucket and
the WAF web ACL (infra/components/waf.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.components.access_logs import AccessLogBucket, AccessLogsArgs
from infra.components.network import APP_PORT
from infra.components.waf import WafArgs, web_acl


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
    waf: WafArgs | None = None  # None = no web ACL
    access_logs: AccessLogsArgs | None = None  # None = no access logs


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
        self.access_logs: AccessLogBucket | None = None
        alb_opts = child
        if args.access_logs is not None:
            self.access_logs = AccessLogBucket(
                f"{name}-access-logs", args.access_logs, pulumi.ResourceOptions(parent=self)
            )
            # ELB checks that it may write to the bucket when access logs are turned on.
            alb_opts = pulumi.ResourceOptions(parent=self, depends_on=[self.access_logs.policy])
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
            access_logs=(
                aws.lb.LoadBalancerAccessLogsArgs(bucket=self.access_logs.bucket_name, enabled=True)
                if self.access_logs is not None
                else None
            ),
            opts=alb_opts,
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
        if args.waf is not None:
            self.web_acl = web_acl(self, name, self.alb.arn, args.waf)

        self.register_outputs({"dnsName": self.dns_name})
