"""StackConfig: the only reader of ``pulumi.Config``.

Every value the program needs is read and validated here, once. A bad or missing value raises
:class:`ConfigError` whose message names the key, the stack and what was expected, e.g.::

    service:taskCpu in stack 'prod': expected one of 256, 512, 1024, 2048, 4096, got 300

Components never read configuration: they receive small typed dataclasses built from this one.

``reader.py`` holds the typed accessors (shared with the account bootstrap), ``review.py`` the
derived configuration of review stacks, ``stack.py`` the stack's settings and their checks.
"""

from infra.config.reader import PROJECT, REPO_ROOT, ConfigError, ConfigReader, declared_keys
from infra.config.review import REVIEW_OVERRIDES, derive_review_config
from infra.config.stack import (
    CPU_ARCHITECTURES,
    DEPLOYMENT_STRATEGIES,
    PLACEHOLDER_ACCOUNT,
    StackConfig,
    StackReader,
    git_commit,
)

__all__ = [
    "CPU_ARCHITECTURES",
    "DEPLOYMENT_STRATEGIES",
    "PLACEHOLDER_ACCOUNT",
    "PROJECT",
    "REPO_ROOT",
    "REVIEW_OVERRIDES",
    "ConfigError",
    "ConfigReader",
    "StackConfig",
    "StackReader",
    "declared_keys",
    "derive_review_config",
    "git_commit",
]
