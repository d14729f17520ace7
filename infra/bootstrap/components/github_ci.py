"""GitHub Actions' access to the account: the OIDC provider (or the account's existing one),
the permissions boundary for the roles the stacks create, and the five CI roles, each trusting
exact OIDC subjects of this repository (the preview role: pull requests and the `drift`
environment)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.bootstrap import policies
from infra.bootstrap.policies import AccountScope, KeyArns


@dataclass(frozen=True)
class GithubCiArgs:
    scope: AccountScope
    state_key_arn: pulumi.Input[str]
    nonprod_key_arn: pulumi.Input[str]
    prod_key_arn: pulumi.Input[str]
    create_oidc_provider: bool = True
    max_session_seconds: int = 3600


class GithubCi(pulumi.ComponentResource):
    def __init__(self, name: str, args: GithubCiArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("service-bootstrap:bootstrap:GithubCi", name, None, opts)
        scope = args.scope
        child = pulumi.ResourceOptions(parent=self)

        depends: list[pulumi.Resource] = []
        if args.create_oidc_provider:
            # No thumbprints: for GitHub, IAM validates the certificate against its own trusted
            # CAs (the provider's thumbprint_lists is optional and unused for this issuer).
            provider = aws.iam.OpenIdConnectProvider(
                f"{name}-oidc",
                url=policies.GITHUB_OIDC_URL,
                client_id_lists=[policies.STS_AUDIENCE],
                opts=child,
            )
            depends.append(provider)
        self.oidc_provider_arn = pulumi.Output.from_input(scope.oidc_provider_arn)

        self.boundary = aws.iam.Policy(
            f"{name}-boundary",
            name=scope.boundary_name,
            path=scope.ci_path,
            description="Permissions boundary of every role the stacks' deploy roles create",
            policy=json.dumps(policies.boundary_policy(scope), sort_keys=True),
            opts=child,
        )
        keys = pulumi.Output.all(args.state_key_arn, args.nonprod_key_arn, args.prod_key_arn)
        self.roles: dict[str, aws.iam.Role] = {}
        for kind in policies.ROLE_KINDS:
            role = aws.iam.Role(
                f"{name}-{kind}",
                name=scope.role_name(kind),
                path=scope.ci_path,
                description=f"GitHub Actions ({', '.join(scope.subjects(kind))}): "
                f"{policies.ROLE_VARIABLES[kind]}",
                assume_role_policy=json.dumps(policies.trust_policy(scope, kind), sort_keys=True),
                max_session_duration=args.max_session_seconds,
                opts=pulumi.ResourceOptions(parent=self, depends_on=depends),
            )
            aws.iam.RolePolicy(
                f"{name}-{kind}-policy",
                role=role.id,
                policy=keys.apply(
                    lambda arns, kind=kind: json.dumps(
                        policies.role_policy(scope, KeyArns(*arns), kind), sort_keys=True
                    )
                ),
                opts=child,
            )
            self.roles[kind] = role
        # The ARNs IAM gives these roles (path + name), known before they exist: the key
        # policies and the repository variables use the same strings.
        self.role_arns = {kind: scope.role_arn(kind) for kind in policies.ROLE_KINDS}
        self.register_outputs({"roleArns": self.role_arns, "boundaryArn": self.boundary.arn})
