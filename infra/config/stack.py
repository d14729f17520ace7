"""StackConfig: the validated configuration of one stack, a section per concern; its reader."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pulumi

from infra.components.cache import REDIS_ID_SUFFIX, REPLICATION_GROUP_ID_MAX
from infra.config.cache import CacheConfig
from infra.config.database import DatabaseConfig
from infra.config.network import NetworkConfig
from infra.config.operations import OperationsConfig
from infra.config.reader import ConfigError, ConfigReader
from infra.config.release import ReleaseConfig
from infra.config.review import derive_review_config
from infra.config.task import TaskConfig
from infra.config.web import WebConfig
from infra.review import review_number

ENVIRONMENTS = ("dev", "staging", "prod")
_IAM_POLICY_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:policy/[\w+=,.@/-]{1,512}$")
# Physical names start with "<project>-<stack>" (see valid_name_prefix).
_NAME_PREFIX = re.compile(r"^[a-z][a-z0-9-]*[a-z0-9]$")
NAME_PREFIX_MAX = REPLICATION_GROUP_ID_MAX - len(REDIS_ID_SUFFIX)


@dataclass(frozen=True)
class StackConfig:
    """Validated configuration of one stack. Build it with :meth:`load`."""

    project: str
    stack: str
    environment: str
    region: str
    ephemeral: bool  # destroyable at any time: nothing is kept (no snapshot, no recovery window)
    protect: bool  # protect=True on data, deletion protection, immutable image tags
    network: NetworkConfig
    task: TaskConfig
    release: ReleaseConfig
    database: DatabaseConfig
    cache: CacheConfig
    web: WebConfig
    operations: OperationsConfig
    # The bootstrap's boundary every IAM role of the stack is created with (None: no boundary).
    permissions_boundary_arn: str | None = None
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def metrics_namespace(self) -> str:
        """CloudWatch namespace of the app's own metrics (METRICS_NAMESPACE), e.g. service/prod."""
        return f"{self.project}/{self.stack}"

    @property
    def prefix(self) -> str:
        """Short physical-name prefix, e.g. ``service-prod``."""
        return f"{self.project}-{self.stack}"

    @property
    def default_tags(self) -> dict[str, str]:
        return {
            "project": self.project,
            "stack": self.stack,
            "environment": self.environment,
            "managed-by": "pulumi",
            **self.tags,
        }

    @classmethod
    def load(cls, *, offline: bool = False) -> StackConfig:
        """Read and validate the current stack's configuration.

        ``offline`` (the mocked plan and its tests) accepts the committed placeholder values
        that a real preview or update refuses.
        """
        project, stack = pulumi.get_project(), pulumi.get_stack()
        # Review stacks (pr-<n>) have no stack file: their values are derived from staging's.
        derived = derive_review_config(stack, project) if review_number(stack) is not None else None
        return StackReader(project, stack, offline=offline, derived=derived).read()


class StackReader(ConfigReader):
    """Reads and validates every key of the program's stack configuration: the stack-wide keys
    here, each section's own in its ``read``."""

    def read(self) -> StackConfig:
        self._check_name_prefix()
        self.check_unknown_keys()
        config = self._read()
        if not self.offline:
            config.web.refuse_placeholders(self, config.region)
            config.operations.refuse_placeholders(self)
        return config

    def _read(self) -> StackConfig:
        environment = self.string("environment") or self.stack
        if environment not in ENVIRONMENTS:
            self.fail(
                "environment",
                "one of " + ", ".join(ENVIRONMENTS) + " (defaults to the stack name)",
                environment,
            )
        region = self.get("aws", "region")
        if not region:
            self.fail("region", "an AWS region such as us-east-1", namespace="aws")

        ephemeral = self.boolean("ephemeral", False)
        protect = self.boolean("protect", False)
        if ephemeral and protect:
            self.fail(
                "protect",
                "false because ephemeral is true (a disposable stack cannot protect its data)",
                True,
            )
        tags = self.obj("tags", "a map of tag names to values") or {}
        if not isinstance(tags, dict):
            self.fail("tags", "a map of tag names to values", tags)

        return StackConfig(
            project=self.project,
            stack=self.stack,
            environment=environment,
            region=region,
            ephemeral=ephemeral,
            protect=protect,
            network=NetworkConfig.read(self, region),
            task=TaskConfig.read(self),
            release=ReleaseConfig.read(self, region),
            database=DatabaseConfig.read(self),
            cache=CacheConfig.read(self),
            web=WebConfig.read(self, region),
            operations=OperationsConfig.read(self, region, protect=protect),
            permissions_boundary_arn=self.string(
                "permissionsBoundaryArn",
                pattern=_IAM_POLICY_ARN,
                expected="an IAM policy ARN (the bootstrap output permissionsBoundaryArn)",
            ),
            tags={str(k): str(v) for k, v in tags.items()},
        )

    def _check_name_prefix(self) -> None:
        prefix = f"{self.project}-{self.stack}"
        if not valid_name_prefix(prefix):
            raise ConfigError(
                f"stack name '{self.stack}' of project '{self.project}': expected lowercase "
                f"letters, digits and single hyphens, starting with a letter, with "
                f"'{self.project}-<stack>' at most {NAME_PREFIX_MAX} characters (it prefixes the "
                f"RDS identifier and the ElastiCache replication group id), got {prefix!r}"
            )


def valid_name_prefix(prefix: str) -> bool:
    """``<project>-<stack>`` starts physical names with the strictest AWS rules: the
    ElastiCache replication group id (<= 40 characters, lowercase letters, digits and single
    hyphens, starting with a letter) and the RDS identifier (the same character rules)."""
    fits = len(prefix) <= NAME_PREFIX_MAX
    return bool(_NAME_PREFIX.match(prefix)) and "--" not in prefix and fits
