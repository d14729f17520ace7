"""Application secrets in Secrets Manager (the database password is RDS-managed, see database)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_random as random


@dataclass(frozen=True)
class SecretsArgs:
    prefix: str  # physical-name prefix, e.g. "service-prod"
    recovery_window_days: int  # 0 = delete immediately (ephemeral stacks)
    protect: bool = False


def app_secret(
    parent: pulumi.Resource,
    name: str,
    *,
    name_prefix: str,
    description: str,
    value: pulumi.Input[str],
    recovery_window_days: int,
    protect: bool,
) -> aws.secretsmanager.Secret:
    """A Secrets Manager secret with one version holding ``value`` (kept secret in state)."""
    secret = aws.secretsmanager.Secret(
        name,
        name_prefix=name_prefix,
        description=description,
        recovery_window_in_days=recovery_window_days,
        opts=pulumi.ResourceOptions(parent=parent, protect=protect),
    )
    aws.secretsmanager.SecretVersion(
        name,
        secret_id=secret.id,
        secret_string=pulumi.Output.secret(value),
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return secret


class Secrets(pulumi.ComponentResource):
    """The JWT signing key: a random 64-character value stored in Secrets Manager."""

    def __init__(self, name: str, args: SecretsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("service:infra:Secrets", name, None, opts)
        jwt_key = random.RandomPassword(
            f"{name}-jwt-key",
            length=64,
            special=False,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        self.jwt_secret = app_secret(
            self,
            f"{name}-jwt",
            name_prefix=f"{args.prefix}/jwt-secret-",
            description="JWT signing key (JWT_SECRET)",
            value=jwt_key.result,
            recovery_window_days=args.recovery_window_days,
            protect=args.protect,
        )
        self.jwt_secret_arn = self.jwt_secret.arn
        self.register_outputs({"jwtSecretArn": self.jwt_secret_arn})
