"""The account bootstrap, composed: config -> provider (this account only) -> state backend ->
secrets keys -> GitHub OIDC and CI roles -> outputs (and the `gh variable set` lines)."""

from __future__ import annotations

import shlex

import pulumi
import pulumi_aws as aws

from infra.bootstrap import policies
from infra.bootstrap.components.github_ci import GithubCi, GithubCiArgs
from infra.bootstrap.components.secrets_keys import SecretsKeys, SecretsKeysArgs
from infra.bootstrap.components.state_backend import StateBackend, StateBackendArgs
from infra.bootstrap.config import PROJECT, BootstrapConfig
from infra.bootstrap.policies import AccountScope

# GitHub environments whose jobs use the prod secrets key: an environment-level variable
# overrides the repository-level one (the non-prod key, which deploy.yml's staging job passes).
PROD_ENVIRONMENTS = ("production",)


def github_variables(scope: AccountScope) -> str:
    """The exact ``gh variable set`` commands for the repository variables the workflows read."""
    repo = scope.github_repository
    values = [
        ("AWS_REGION", scope.region, None),
        ("PULUMI_BACKEND_URL", scope.backend_url, None),
        ("PULUMI_SECRETS_PROVIDER", scope.secrets_provider("nonprod"), None),
        *(
            ("PULUMI_SECRETS_PROVIDER", scope.secrets_provider("prod"), env)
            for env in PROD_ENVIRONMENTS
        ),
        *((policies.ROLE_VARIABLES[k], scope.role_arn(k), None) for k in policies.ROLE_KINDS),
    ]
    lines = []
    for name, value, env in values:
        where = f" --env {env}" if env else ""
        lines.append(
            f"gh variable set {name} --repo {shlex.quote(repo)}{where} --body {shlex.quote(value)}"
        )
    return "\n".join(lines)


def build(cfg: BootstrapConfig) -> dict[str, pulumi.Input]:
    scope = cfg.scope
    provider = aws.Provider(
        "aws",
        region=scope.region,
        allowed_account_ids=[scope.account_id],  # never bootstrap another account by mistake
        default_tags=aws.ProviderDefaultTagsArgs(
            tags={"project": PROJECT, "managed-by": "pulumi", "for-project": scope.project}
        ),
    )
    opts = pulumi.ResourceOptions(providers={"aws": provider})

    state = StateBackend(
        "state",
        StateBackendArgs(
            scope=scope,
            noncurrent_version_days=cfg.noncurrent_version_days,
            abort_multipart_days=cfg.abort_multipart_days,
        ),
        opts,
    )
    keys = SecretsKeys("secrets", SecretsKeysArgs(scope=scope), opts)
    ci = GithubCi(
        "github",
        GithubCiArgs(
            scope=scope,
            state_key_arn=state.key_arn,
            nonprod_key_arn=keys.keys["nonprod"].arn,
            prod_key_arn=keys.keys["prod"].arn,
            create_oidc_provider=cfg.create_oidc_provider,
        ),
        opts,
    )
    return {
        "backendUrl": state.backend_url,
        "stateBucket": state.bucket.bucket,
        "secretsProviders": keys.providers,
        "oidcProviderArn": ci.oidc_provider_arn,
        "permissionsBoundaryArn": ci.boundary.arn,
        **{_output_name(kind): arn for kind, arn in ci.role_arns.items()},
        "githubVariables": github_variables(scope),
    }


def _output_name(kind: str) -> str:
    """``deploy-staging`` -> ``deployStagingRoleArn``."""
    first, *rest = kind.split("-")
    return first + "".join(part.capitalize() for part in rest) + "RoleArn"


def main(*, offline: bool = False) -> dict[str, pulumi.Input]:
    outputs = build(BootstrapConfig.load(offline=offline))
    for key, value in outputs.items():
        pulumi.export(key, value)
    return outputs
