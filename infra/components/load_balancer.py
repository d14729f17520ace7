"""Application Load Balancer, target group, listeners, and optionally its access-log bucket, the
WAF web ACL (infra/components/waf.py) and what an ECS blue/green or canary deployment shifts: a
second target group and the production listener rule."""

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
    blue_green: bool = False  # an alternate target group and a production listener rule


class LoadBalancer(pulumi.ComponentResource):
    """Public ALB in front of the tasks.

    With a certificate: HTTP redirects to HTTPS (301) and HTTPS (TLS 1.3 policy) forwards. Without
    one: HTTP forwards. ``listener`` is the one the service must wait for before registering.

    With ``blue_green`` the production listener also gets ``production_rule`` (every path,
    forwarding to ``target_group`` at weight 100 and ``alternate_target_group`` at 0): during a
    blue/green or canary deployment ECS registers the new tasks in the idle group and moves the
    weights; the listener's default action is then never reached.
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
        self.target_group = self._target_group(f"{name}-tg", args)
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
        self.alternate_target_group: aws.lb.TargetGroup | None = None
        self.production_rule: aws.lb.ListenerRule | None = None
        if args.blue_green:
            self.alternate_target_group = self._target_group(f"{name}-tg-alt", args)
            self.production_rule = self._production_rule(name, self.alternate_target_group)
        self.scheme = "https" if args.certificate_arn else "http"
        self.dns_name = self.alb.dns_name
        self.arn_suffix = self.alb.arn_suffix
        self.target_group_arn_suffix = self.target_group.arn_suffix
        # Every group that can hold the serving tasks (alarms, dashboard): with blue/green, which
        # of the two is live alternates from one deployment to the next.
        self.target_group_arn_suffixes = [
            g.arn_suffix for g in (self.target_group, self.alternate_target_group) if g is not None
        ]

        self.web_acl: aws.wafv2.WebAcl | None = None
        if args.waf is not None:
            self.web_acl = web_acl(self, name, self.alb.arn, args.waf)

        self.register_outputs({"dnsName": self.dns_name})

    def _target_group(self, resource_name: str, args: LoadBalancerArgs) -> aws.lb.TargetGroup:
        """The tasks' target group (blue/green has two, identical: either may be live)."""
        return aws.lb.TargetGroup(
            resource_name,
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
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _production_rule(self, name: str, alternate: aws.lb.TargetGroup) -> aws.lb.ListenerRule:
        weights = [(self.target_group, 100), (alternate, 0)]
        return aws.lb.ListenerRule(
            f"{name}-production",
            listener_arn=self.listener.arn,
            priority=1,
            conditions=[
                aws.lb.ListenerRuleConditionArgs(
                    path_pattern=aws.lb.ListenerRuleConditionPathPatternArgs(values=["/*"])
                )
            ],
            actions=[
                aws.lb.ListenerRuleActionArgs(
                    type="forward",
                    forward=aws.lb.ListenerRuleActionForwardArgs(
                        target_groups=[
                            aws.lb.ListenerRuleActionForwardTargetGroupArgs(
                                arn=group.arn, weight=weight
                            )
                            for group, weight in weights
                        ]
                    ),
                )
            ],
            # ECS owns the weights once the rule exists: every deployment moves them (and after
            # an even number of deployments the live group is this one again, after an odd
            # number the alternate). Restoring 100/0 would send all traffic to whichever group
            # the last deployment emptied.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["actions"]),
        )
