"""parliament (PyPI), made importable, and its IAM action catalogue.

parliament 1.6.4 imports ``pkg_resources`` for two data files; setuptools 81+ no longer ships
that module. Where it is missing, a stand-in with the one function parliament calls
(``resource_filename``, via importlib.resources) is registered before the import.
"""

from __future__ import annotations

import importlib.resources
import json
import sys
import types
from functools import lru_cache

try:
    import pkg_resources  # noqa: F401
except ImportError:
    _shim = types.ModuleType("pkg_resources")
    _shim.resource_filename = lambda package, name: str(importlib.resources.files(package) / name)
    sys.modules["pkg_resources"] = _shim

import parliament

READ_LEVELS = {"Read", "List"}


def findings(document: dict) -> list:
    """parliament's findings for one policy document (community auditors included)."""
    policy = parliament.analyze_policy_string(json.dumps(document), include_community_auditors=True)
    return list(policy.findings)


@lru_cache(maxsize=1)
def _privileges() -> dict[str, dict]:
    table = {}
    for service in parliament.iam_definition:
        for privilege in service["privileges"]:
            table[f"{service['prefix']}:{privilege['privilege']}".lower()] = privilege
    return table


def expand(action: str) -> list[str]:
    """Every catalogued action a (possibly wildcarded) action names, e.g. ``ec2:Describe*``."""
    from tests.bootstrap.iam_eval import matches

    if "*" not in action and "?" not in action:
        return [action.lower()] if action.lower() in _privileges() else []
    return [name for name in _privileges() if matches(action, name, ignore_case=True)]


def access_level(action: str) -> str:
    """Read, List, Write, Tagging or Permissions management (AWS's Service Authorization
    Reference, as parliament ships it)."""
    return _privileges()[action.lower()]["access_level"]


def is_write(action: str) -> bool:
    return access_level(action) not in READ_LEVELS


def has_resource_type(action: str) -> bool:
    """False when AWS authorises the action on "*" only."""
    return any(r["resource_type"] for r in _privileges()[action.lower()]["resource_types"])
