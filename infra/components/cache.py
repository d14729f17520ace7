"""ElastiCache Redis: TLS and at-rest encryption, auth token, REDIS_URL kept as a secret."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from infra.components.network import REDIS_PORT
from infra.components.secrets import app_secret

# The replication group id is "<prefix>-redis": at most 40 characters (lowercase letters, digits
# and single hyphens, starting with a letter); infra/config/stack.py bounds the stack name by it.
REPLICATION_GROUP_ID_MAX = 40
REDIS_ID_SUFFIX = "-redis"


@dataclass(frozen=True)
class CacheArgs:
    prefix: str
    subnet_ids: Sequence[pulumi.Input[str]]
    security_group_id: pulumi.Input[str]
    node_type: str
    nodes: int  # 1 = single node; >= 2 = primary + replicas with automatic failover
    engine_version: str
    recovery_window_days: int
    apply_immediately: bool
    protect: bool = False


class Cache(pulumi.ComponentResource):
    """A Redis replication group reachable only through ``security_group_id``.

    Transit encryption means the client URL is ``rediss://:<token>@<primary>:6379/0``; since it
    carries the auth token, the whole URL lives in a Secrets Manager secret (``url_secret_arn``)
    and reaches the task via ``valueFrom``.
    """

    def __init__(self, name: str, args: CacheArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("service:infra:Cache", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        subnet_group = aws.elasticache.SubnetGroup(
            f"{name}-subnets",
            subnet_ids=list(args.subnet_ids),
            description=f"{args.prefix} cache subnets (private)",
            opts=child,
        )
        token = random.RandomPassword(
            f"{name}-auth-token",
            length=48,
            special=False,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        failover = args.nodes >= 2
        # <= 40 characters: infra/config/stack.py refuses a stack name that would make it longer.
        self.replication_group_id = f"{args.prefix}{REDIS_ID_SUFFIX}"
        self.group = aws.elasticache.ReplicationGroup(
            f"{name}-redis",
            replication_group_id=self.replication_group_id,
            description=f"{args.prefix} rate limiter and cache",
            engine="redis",
            engine_version=args.engine_version,
            node_type=args.node_type,
            num_cache_clusters=args.nodes,
            automatic_failover_enabled=failover,
            multi_az_enabled=failover,
            port=REDIS_PORT,
            subnet_group_name=subnet_group.name,
            security_group_ids=[args.security_group_id],
            transit_encryption_enabled=True,
            at_rest_encryption_enabled=True,
            auth_token=token.result,
            snapshot_retention_limit=7 if args.protect else 0,
            apply_immediately=args.apply_immediately,
            auto_minor_version_upgrade=True,
            opts=pulumi.ResourceOptions(
                parent=self,
                protect=args.protect,
                # The replication group id is fixed: the old group must go before its replacement
                # can take the name (else the create fails with ReplicationGroupAlreadyExists).
                delete_before_replace=True,
            ),
        )
        url = pulumi.Output.format(
            "rediss://:{0}@{1}:{2}/0",
            token.result,
            self.group.primary_endpoint_address,
            REDIS_PORT,
        )
        self.url_secret = app_secret(
            self,
            f"{name}-url",
            name_prefix=f"{args.prefix}/redis-url-",
            description="Redis connection URL with auth token (REDIS_URL)",
            value=url,
            recovery_window_days=args.recovery_window_days,
            protect=args.protect,
        )
        self.url_secret_arn = self.url_secret.arn
        self.node_ids = [f"{self.replication_group_id}-{i:03d}" for i in range(1, args.nodes + 1)]
        self.register_outputs({"urlSecretArn": self.url_secret_arn})
