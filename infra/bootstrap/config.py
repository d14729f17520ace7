"""BootstrapConfig: the only reader of ``pulumi.Config`` in the account bootstrap.

Validated like the main program's (``infra/config/``, whose reader this one extends): a bad or
missing value raises :class:`infra.config.ConfigError` naming the key, the stack and what was
expected, e.g.::

    service-bootstrap:githubOwner in stack 'account': expected a GitHub user or organization
    name (letters, digits and single hyphens, at most 39), got 'acme_corp'
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from pathlib import Path

import pulumi

from infra.bootstrap.policies import GITHUB_OIDC_HOST, REVIEW_STACKS, AccountScope
from infra.config.reader import PLACEHOLDER_ACCOUNT, ConfigError, ConfigReader
from infra.config.stack import NAME_PREFIX_MAX, valid_name_prefix

BOOTSTRAP_DIR = Path(__file__).resolve().parent
PROJECT = "service-bootstrap"

_ACCOUNT = re.compile(r"^\d{12}$")
# GitHub: a user or organization name is 1-39 letters, digits or single inner hyphens; a
# repository name is 1-100 ASCII letters, digits, '.', '-' and '_' ("." and ".." are refused).
_GITHUB_OWNER = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$")
_GITHUB_REPO = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
_PARTITIONS = (("cn-", "aws-cn"), ("us-gov-", "aws-us-gov"))
_OIDC_PROVIDER_ARN = re.compile(
    rf"^arn:aws[a-z-]*:iam::(?P<account>\d{{12}}):oidc-provider/{re.escape(GITHUB_OIDC_HOST)}$"
)
_PRINCIPAL_ARN = re.compile(
    r"^arn:aws[a-z-]*:iam::(?P<account>\d{12}):(?:role|user)/[A-Za-z0-9+=,.@_/-]{1,512}$"
)
BUCKET_NAME_MAX = 63
CI_PATH_NAME = "ci"  # the CI roles live under /<project>-ci/ (policies.AccountScope.ci_path)


def partition_of(region: str) -> str:
    return next((p for prefix, p in _PARTITIONS if region.startswith(prefix)), "aws")


@dataclass(frozen=True)
class BootstrapConfig:
    """Validated configuration of the bootstrap stack. Build it with :meth:`load`."""

    stack: str
    scope: AccountScope
    create_oidc_provider: bool  # False: reuse the account's existing GitHub provider
    noncurrent_version_days: int
    abort_multipart_days: int

    @property
    def region(self) -> str:
        return self.scope.region

    @property
    def account_id(self) -> str:
        return self.scope.account_id

    @classmethod
    def load(cls, *, offline: bool = False) -> BootstrapConfig:
        """``offline`` (the mocked plan and its tests) accepts the committed placeholder account
        that a real preview or update refuses."""
        return _BootstrapReader(pulumi.get_project(), pulumi.get_stack(), offline=offline).load()


class _BootstrapReader(ConfigReader):
    def load(self) -> BootstrapConfig:
        self.check_unknown_keys(BOOTSTRAP_DIR)
        region = self.aws.get("region")
        if not region or not _REGION.match(region):
            self.fail("region", "an AWS region such as us-east-1", region, namespace="aws")
        account = self.string("accountId", pattern=_ACCOUNT, expected="a 12-digit AWS account id")
        if account is None:
            self.fail("accountId", "the 12-digit id of the AWS account to bootstrap")
        if account == PLACEHOLDER_ACCOUNT and not self.offline:
            raise ConfigError(
                f"{self.project}:accountId in stack '{self.stack}': the committed placeholder "
                f"{account} is AWS's documentation account; run `pulumi config set "
                f"{self.project}:accountId $(aws sts get-caller-identity --query Account "
                f"--output text) --stack {self.stack}`"
            )
        owner = self.string(
            "githubOwner",
            pattern=_GITHUB_OWNER,
            expected="a GitHub user or organization name (letters, digits and single hyphens, "
            "at most 39)",
        )
        if owner is None:
            self.fail("githubOwner", "the GitHub user or organization owning the repository")
        repo = self.string(
            "githubRepository",
            pattern=_GITHUB_REPO,
            expected="a GitHub repository name (letters, digits, '.', '-', '_', at most 100)",
        )
        if repo is None or repo in {".", ".."}:
            self.fail("githubRepository", "the repository's name, exactly as GitHub shows it", repo)

        project = self.string("project", "service")
        stacks = {key: self.string(key, default) for key, default in STACK_KEYS.items()}
        for key, stack in stacks.items():
            self._check_prefix(key, project, stack)
            if stack == CI_PATH_NAME:
                self.fail(
                    key, f"a stack name other than {CI_PATH_NAME!r} (the CI roles' path)", stack
                )
            if fnmatch.fnmatchcase(stack, REVIEW_STACKS):
                self.fail(
                    key,
                    f"a stack name not matching {REVIEW_STACKS!r} (the review stacks' scope: "
                    "the review deploy role manages every stack of that name)",
                    stack,
                )
        if len(set(stacks.values())) != len(stacks):
            self.fail("prodStack", "dev, staging and prod stacks with distinct names", stacks)

        provider_arn = self.string(
            "existingOidcProviderArn",
            pattern=_OIDC_PROVIDER_ARN,
            expected=f"the ARN of the account's IAM OIDC provider for {GITHUB_OIDC_HOST} "
            f"(arn:aws:iam::<account>:oidc-provider/{GITHUB_OIDC_HOST}), or empty to create it",
        )
        if provider_arn and _OIDC_PROVIDER_ARN.match(provider_arn)["account"] != account:
            self.fail("existingOidcProviderArn", f"a provider in account {account}", provider_arn)
        partition = partition_of(region)

        operators = self.obj("operatorArns", "a list of IAM role or user ARNs")
        if not isinstance(operators, list) or not operators:
            self.fail(
                "operatorArns",
                "a non-empty list of the IAM roles (or users) that run `pulumi stack init` and "
                "break-glass deploys: they may use the state and secrets keys",
                operators,
            )
        for arn in operators:
            match = _PRINCIPAL_ARN.match(arn) if isinstance(arn, str) else None
            if match is None or match["account"] != account:
                self.fail("operatorArns", f"IAM role or user ARNs of account {account}", arn)

        bucket = f"{project}-pulumi-state-{account}-{region}"
        if len(bucket) > BUCKET_NAME_MAX:
            self.fail(
                "project",
                f"a name short enough for the state bucket {bucket!r} "
                f"(at most {BUCKET_NAME_MAX} characters)",
                project,
            )
        scope = AccountScope(
            partition=partition,
            account_id=account,
            region=region,
            project=project,
            github_repository=f"{owner}/{repo}",
            dev_stack=stacks["devStack"],
            staging_stack=stacks["stagingStack"],
            prod_stack=stacks["prodStack"],
            bucket=bucket,
            oidc_provider_arn=provider_arn
            or f"arn:{partition}:iam::{account}:oidc-provider/{GITHUB_OIDC_HOST}",
            operator_arns=tuple(operators),
        )
        return BootstrapConfig(
            stack=self.stack,
            scope=scope,
            create_oidc_provider=provider_arn is None,
            noncurrent_version_days=self.integer(
                "noncurrentVersionDays", 90, minimum=1, maximum=3650
            ),
            abort_multipart_days=self.integer("abortMultipartDays", 7, minimum=1, maximum=365),
        )

    def _check_prefix(self, key: str, project: str, stack: str) -> None:
        """The main program's rule for ``<project>-<stack>`` (infra/config/stack.py): the prefix
        of its RDS identifier and ElastiCache replication group id, and here of the IAM paths."""
        if not valid_name_prefix(f"{project}-{stack}"):
            self.fail(
                key,
                f"a stack name of the main project: lowercase letters, digits and single "
                f"hyphens, with '{project}-<stack>' at most {NAME_PREFIX_MAX} characters",
                stack,
            )


STACK_KEYS = {"devStack": "dev", "stagingStack": "staging", "prodStack": "prod"}
