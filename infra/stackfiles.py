"""Pulumi.yaml and Pulumi.<stack>.yaml, read as the Pulumi CLI reads them.

The CLI parses YAML 1.2, where only ``true``/``false`` are booleans; PyYAML implements YAML 1.1,
where ``yes``, ``no``, ``on`` and ``off`` are booleans too. Read with PyYAML's defaults,
``ephemeral: yes`` would mark a stack disposable offline while the CLI hands the program the
string "yes". A parse error names the file and the line, not ``<unicode string>``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

BOOL_TAG = "tag:yaml.org,2002:bool"


class StackFileError(ValueError):
    """A Pulumi YAML file is missing or is not valid YAML; the message names file and line."""


class _Yaml12Loader(yaml.SafeLoader):
    """SafeLoader whose only boolean scalars are YAML 1.2's."""


_Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != BOOL_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Yaml12Loader.add_implicit_resolver(
    BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def parse(text: str, source: str) -> Any:
    """Parse YAML 1.2 ``text``; errors name ``source`` and the line and column."""
    try:
        return yaml.load(text, Loader=_Yaml12Loader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        problem = getattr(exc, "problem", None) or str(exc)
        context = getattr(exc, "context", None)
        detail = f"{context}, {problem}" if context else problem
        raise StackFileError(f"{where}: invalid YAML: {detail}") from None


def load(path: Path) -> Any:
    """The parsed contents of ``path`` (``None`` for an empty file)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise StackFileError(f"{path.name} not found in {path.parent}") from None
    return parse(text, path.name)
