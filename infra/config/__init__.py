"""StackConfig: the only reader of ``pulumi.Config``.

Every value the program needs is read and validated here, once. A bad or missing value raises
:class:`ConfigError` whose message names the key, the stack and what was expected, e.g.::

    service:taskCpu in stack 'prod': expected one of 256, 512, 1024, 2048, 4096, got 300

Components never read configuration: they receive small typed dataclasses built from this one.

``stack.py`` holds :class:`StackConfig` (the stack-wide keys) and its reader; each concern's
settings are a section that reads and checks its own keys: ``network.py``, ``task.py`` (with
``rate_limits.py``, the service's RATE_LIMIT_* settings), ``release.py``, ``database.py``,
``cache.py``, ``web.py``, ``operations.py``. ``reader.py`` holds the typed accessors (shared
with the account bootstrap), ``review.py`` the derived configuration of review stacks.
"""

from infra.config.cache import CacheConfig
from infra.config.database import DatabaseConfig
from infra.config.network import NetworkConfig
from infra.config.operations import OperationsConfig
from infra.config.reader import (
    PLACEHOLDER_ACCOUNT,
    PROJECT,
    REPO_ROOT,
    ConfigError,
    ConfigReader,
    declared_keys,
)
from infra.config.release import DEPLOYMENT_STRATEGIES, ReleaseConfig, git_commit
from infra.config.review import REVIEW_OVERRIDES, derive_review_config
from infra.config.stack import StackConfig, StackReader
from infra.config.task import CPU_ARCHITECTURES, TaskConfig
from infra.config.web import WebConfig

__all__ = [
    "CPU_ARCHITECTURES",
    "DEPLOYMENT_STRATEGIES",
    "PLACEHOLDER_ACCOUNT",
    "PROJECT",
    "REPO_ROOT",
    "REVIEW_OVERRIDES",
    "CacheConfig",
    "ConfigError",
    "ConfigReader",
    "DatabaseConfig",
    "NetworkConfig",
    "OperationsConfig",
    "ReleaseConfig",
    "StackConfig",
    "StackReader",
    "TaskConfig",
    "WebConfig",
    "declared_keys",
    "derive_review_config",
    "git_commit",
]
