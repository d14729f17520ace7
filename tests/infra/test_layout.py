"""What may import what in infra/: the components never read the config module."""

from __future__ import annotations

import ast
from pathlib import Path

from infra.config import REPO_ROOT

INFRA = REPO_ROOT / "infra"


def imported_modules(path: Path) -> set[str]:
    """Every absolute module ``path`` imports (``import a.b``, ``from a.b import c``)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def within(module: str, package: str) -> bool:
    return module == package or module.startswith(f"{package}.")


def test_components_never_import_the_config_module():
    """Components receive typed args; what config validates against lives with them."""
    offenders = {
        path.name: sorted(m for m in imported_modules(path) if within(m, "infra.config"))
        for path in sorted((INFRA / "components").glob("*.py"))
    }
    assert {name: found for name, found in offenders.items() if found} == {}
