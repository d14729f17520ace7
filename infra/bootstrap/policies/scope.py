"""Everything the documents name: :class:`AccountScope` (account, region, stacks, our names
and ARNs), the KMS key ARNs and the role kinds."""

from __future__ import annotations

from dataclasses import dataclass

STACK_TAG = "stack"  # the main program's provider default tag (infra/config/stack.py default_tags)

# Review stacks (infra/review.py: ``pr-<n>``), as one IAM wildcard: their state objects, physical
# names (``<project>-pr-<n>``), IAM path and ``stack`` tag. No named stack may match it (config.py).
REVIEW_STACKS = "pr-*"

ROLE_KINDS = ("preview", "deploy-staging", "deploy-review", "preview-prod", "deploy-prod")
# The repository variable each role's ARN goes into (docs/deploying.md, the workflows).
ROLE_VARIABLES = {
    "preview": "AWS_PREVIEW_ROLE_ARN",
    "deploy-staging": "AWS_DEPLOY_STAGING_ROLE_ARN",
    "deploy-review": "AWS_DEPLOY_REVIEW_ROLE_ARN",
    "preview-prod": "AWS_PREVIEW_PROD_ROLE_ARN",
    "deploy-prod": "AWS_DEPLOY_PROD_ROLE_ARN",
}


@dataclass(frozen=True)
class AccountScope:
    """Everything the documents name: the account, the main project's stacks and our names."""

    partition: str
    account_id: str
    region: str
    project: str  # the main Pulumi project ("service"): state path and physical-name prefix
    github_repository: str  # "<owner>/<repo>"
    dev_stack: str
    staging_stack: str
    prod_stack: str
    bucket: str
    oidc_provider_arn: str
    operator_arns: tuple[str, ...] = ()

    # ---- names --------------------------------------------------------------------------------
    @property
    def stacks(self) -> tuple[str, ...]:
        return (self.dev_stack, self.staging_stack, self.prod_stack)

    @property
    def nonprod_stacks(self) -> tuple[str, ...]:
        return (self.dev_stack, self.staging_stack)

    @property
    def review_stacks(self) -> str:
        """Every review stack, as a wildcard: ``pr-*`` (names, paths and tags follow the stack)."""
        return REVIEW_STACKS

    @property
    def workload_stacks(self) -> tuple[str, ...]:
        """The stacks whose deploy roles create workload roles: the named ones and the review
        stacks (the permissions boundary admits IAM changes under their paths only)."""
        return (*self.stacks, self.review_stacks)

    def prefix(self, stack: str) -> str:
        """The main program's physical-name prefix for ``stack`` (``service-staging``)."""
        return f"{self.project}-{stack}"

    @property
    def ci_path(self) -> str:
        return f"/{self.project}-ci/"

    def role_name(self, kind: str) -> str:
        return f"{self.project}-gha-{kind}"

    def role_arn(self, kind: str) -> str:
        return (
            f"arn:{self.partition}:iam::{self.account_id}:role{self.ci_path}{self.role_name(kind)}"
        )

    @property
    def boundary_name(self) -> str:
        return f"{self.project}-workload-boundary"

    @property
    def boundary_arn(self) -> str:
        return (
            f"arn:{self.partition}:iam::{self.account_id}:policy{self.ci_path}{self.boundary_name}"
        )

    def workload_role_arns(self, stack: str) -> str:
        """The stack's own roles: under the path ``/<project>-<stack>/``."""
        return f"arn:{self.partition}:iam::{self.account_id}:role/{self.prefix(stack)}/*"

    def alias(self, key: str) -> str:
        return f"alias/{self.project}-pulumi-{key}"

    def secrets_provider(self, key: str) -> str:
        return f"awskms://{self.alias(key)}?region={self.region}"

    @property
    def backend_url(self) -> str:
        return f"s3://{self.bucket}"

    def subjects(self, kind: str) -> tuple[str, ...]:
        """The OIDC ``sub`` values a role trusts: PR jobs and jobs in a GitHub environment. The
        read-only preview role also serves drift.yml's dev and staging entries (environment
        ``drift``); prod's drift entry runs in ``production-preview``."""
        environments = {
            "preview": ("drift",),
            "deploy-staging": ("staging",),
            "deploy-review": ("review",),
            "preview-prod": ("production-preview",),
            "deploy-prod": ("production",),
        }
        base = f"repo:{self.github_repository}"
        pull_request = (f"{base}:pull_request",) if kind == "preview" else ()
        return (*pull_request, *(f"{base}:environment:{env}" for env in environments[kind]))

    # ---- ARN helpers ----------------------------------------------------------------------------
    def arn(self, service: str, resource: str, *, region: bool = True) -> str:
        where = self.region if region else ""
        return f"arn:{self.partition}:{service}:{where}:{self.account_id}:{resource}"

    @property
    def bucket_arn(self) -> str:
        return f"arn:{self.partition}:s3:::{self.bucket}"

    def state_objects(self, stack: str, *, write: bool = False) -> list[str]:
        """The diy backend's objects of one stack of the main project (project-scoped layout:
        pkg/backend/diy in pulumi/pulumi): the checkpoint (``<stack>.json``, ``.gz``/``.zst``,
        its ``.bak``, the ``.pulumi-tags`` file) and, for writers, history, backups, the update
        journal and the stack's lock directory. A preview reads the checkpoint only: the diy
        backend takes no lock for `pulumi preview`."""
        base = f"{self.bucket_arn}/.pulumi"
        objects = [f"{base}/stacks/{self.project}/{stack}.*"]
        if write:
            objects += [
                f"{base}/history/{self.project}/{stack}/*",
                f"{base}/backups/{self.project}/{stack}/*",
                f"{base}/journal/{self.project}/{stack}/*",
                f"{base}/locks/organization/{self.project}/{stack}/*",
            ]
        return objects

    @property
    def backend_meta(self) -> str:
        """``.pulumi/meta.yaml``: the layout version every CLI reads on login."""
        return f"{self.bucket_arn}/.pulumi/meta.yaml"


@dataclass(frozen=True)
class KeyArns:
    state: str  # SSE-KMS of the state bucket
    nonprod: str  # secrets provider of dev, staging and review stacks
    prod: str  # secrets provider of prod
