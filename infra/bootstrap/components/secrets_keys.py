"""KMS keys for the main project's Pulumi secrets providers: one for prod, one for every other
stack (dev, staging, review stacks). Rotation on; the key policies name who may use each."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.bootstrap import policies
from infra.bootstrap.policies import AccountScope

KEY_CLASSES = ("nonprod", "prod")


@dataclass(frozen=True)
class SecretsKeysArgs:
    scope: AccountScope
    protect: bool = True  # a deleted key makes every secret of its stacks unreadable


class SecretsKeys(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: SecretsKeysArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("service-bootstrap:bootstrap:SecretsKeys", name, None, opts)
        scope = args.scope
        self.keys: dict[str, aws.kms.Key] = {}
        for key_class in KEY_CLASSES:
            key = aws.kms.Key(
                f"{name}-{key_class}",
                description=f"Pulumi secrets provider of the {scope.project} {key_class} stacks",
                enable_key_rotation=True,
                deletion_window_in_days=30,
                policy=json.dumps(
                    policies.key_policy(scope, policies.secrets_key_users(scope, key_class)),
                    sort_keys=True,
                ),
                opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
            )
            aws.kms.Alias(
                f"{name}-{key_class}-alias",
                name=scope.alias(key_class),
                target_key_id=key.key_id,
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.keys[key_class] = key
        self.providers = {k: scope.secrets_provider(k) for k in KEY_CLASSES}
        self.register_outputs({"secretsProviders": self.providers})
