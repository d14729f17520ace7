"""The typed accessors every reader of ``pulumi.Config`` uses (the stack's and the bootstrap's).

A bad or missing value raises :class:`ConfigError` naming the key, the stack and what was
expected; an unknown key (one ``Pulumi.yaml`` does not declare) is refused with a did-you-mean.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn

import pulumi
from pulumi.runtime.config import CONFIG, get_config_env

from infra import catalog, stackfiles

PROJECT = "service"
REPO_ROOT = Path(__file__).resolve().parents[2]
# Values committed as examples that must never reach AWS: `pulumi up` refuses them (an ``offline``
# reader, for the plans and PR diffs, accepts them, so a fresh clone can plan prod). Account
# 123456789012 is the one AWS documentation uses.
PLACEHOLDER_ACCOUNT = "123456789012"


class ConfigError(ValueError):
    """A stack configuration value is missing or invalid; the message says which and why."""


class ConfigReader:
    """Small typed accessors over ``pulumi.Config`` that raise :class:`ConfigError`.

    ``derived``: the values to read instead of the stack's own (a review stack has no stack file:
    its values are derived from staging's, ``infra/config/review.py``).
    """

    def __init__(
        self,
        project: str,
        stack: str,
        *,
        offline: bool = False,
        derived: Mapping[str, str] | None = None,
    ) -> None:
        self.project = project
        self.stack = stack
        self.offline = offline
        self.cfg = pulumi.Config(project)
        self.aws = pulumi.Config("aws")
        self.read_keys: set[str] = set()
        self.derived = derived

    def get(self, namespace: str, key: str) -> str | None:
        """The value the program sees: the stack's own, or for a review stack the derived one."""
        if self.derived is None:
            return (self.cfg if namespace == self.project else pulumi.Config(namespace)).get(key)
        return self.derived.get(f"{namespace}:{key}")

    # -- primitives
    def fail(
        self, key: str, expected: str, got: Any = None, *, namespace: str | None = None
    ) -> NoReturn:
        full = f"{namespace or self.project}:{key}"
        got_text = "it is not set" if got is None else f"got {got!r}"
        raise ConfigError(f"{full} in stack '{self.stack}': expected {expected}, {got_text}")

    def raw(self, key: str) -> str | None:
        """The raw value, or None when unset or empty ("" is the Pulumi.yaml default of every
        optional key: the engine requires a value for a declared key without a default)."""
        self.read_keys.add(key)
        value = self.get(self.project, key)
        return None if value is None or value == "" else value

    def string(
        self,
        key: str,
        default: str | None = None,
        *,
        pattern: re.Pattern | None = None,
        expected: str = "a string",
    ) -> str | None:
        value = self.raw(key)
        if value is None or value == "":
            return default
        if pattern is not None and not pattern.match(value):
            self.fail(key, expected, value)
        return value

    def boolean(self, key: str, default: bool) -> bool:
        value = self.raw(key)
        if value is None:
            return default
        lowered = value.strip().lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        self.fail(key, "true or false", value)

    def integer(
        self,
        key: str,
        default: int,
        *,
        minimum: int | None = None,
        maximum: int | None = None,
        choices: tuple[int, ...] | None = None,
    ) -> int:
        value = self.raw(key)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            self.fail(key, "an integer", value)
        return self._bounded(key, number, minimum, maximum, choices)

    def number(self, key: str, default: float, *, minimum: float = 0.0) -> float:
        value = self.raw(key)
        if value is None:
            return default
        try:
            number = float(value)
        except ValueError:
            self.fail(key, "a number", value)
        if number < minimum:
            self.fail(key, f"a number >= {minimum:g}", value)
        return number

    def _bounded(self, key, number, minimum, maximum, choices):
        if choices is not None and number not in choices:
            listed = ", ".join(str(c) for c in choices)
            self.fail(key, f"one of {listed}", number)
        if minimum is not None and number < minimum:
            self.fail(key, f"an integer >= {minimum}", number)
        if maximum is not None and number > maximum:
            self.fail(key, f"an integer <= {maximum}", number)
        return number

    def choice(self, key: str, default: str, choices: tuple[str, ...]) -> str:
        value = self.string(key, default)
        if value not in choices:
            self.fail(key, "one of " + ", ".join(choices), value)
        return value

    def listed(self, key: str, default: str, known: frozenset[str], what: str) -> str:
        """A value from one of infra/catalog.py's lists, with a did-you-mean when it is not."""
        value = self.string(key, default)
        if value not in known:
            self.fail(
                key,
                f"{what} listed in infra/catalog.py{catalog.did_you_mean(value, known)}",
                value,
            )
        return value

    def checked(self, key: str, default: str, ok: Any, expected: str) -> str:
        value = self.string(key, default)
        if not ok(value):
            self.fail(key, expected, value)
        return value

    def obj(self, key: str, expected: str) -> Any:
        value = self.raw(key)
        if value is None:
            return None
        try:
            return json.loads(value)
        except ValueError:
            self.fail(key, expected, value)

    def check_unknown_keys(self, root: Path = REPO_ROOT) -> None:
        """A typo'd key would otherwise be ignored and its default deployed in silence. ``root``
        is the directory of the project's Pulumi.yaml, which declares the keys."""
        declared = declared_keys(root)
        where = (root / "Pulumi.yaml").relative_to(REPO_ROOT)
        namespace = f"{self.project}:"
        configured = {**get_config_env(), **CONFIG.get()}
        for full in sorted(k for k in configured if k.startswith(namespace)):
            key = full[len(namespace) :]
            if key not in declared:
                raise ConfigError(
                    f"{full} in stack '{self.stack}': unknown key"
                    f"{catalog.did_you_mean(key, declared)}; the keys are declared in {where}"
                )


def declared_keys(root: Path = REPO_ROOT) -> frozenset[str]:
    """The project's config keys, as Pulumi.yaml declares them for the engine."""
    project = stackfiles.load(root / "Pulumi.yaml") or {}
    return frozenset(k for k in (project.get("config") or {}) if ":" not in k)
