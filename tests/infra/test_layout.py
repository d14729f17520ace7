"""What may import what in infra/: the components never read the config module; the program
never imports the tools (infra/tools/) and runs without the service or its dependencies (the
[infra] extra is all it needs); the tools' commands keep their names."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from infra.config import REPO_ROOT

INFRA = REPO_ROOT / "infra"


# The commands workflows, the Makefile and the docs run: python -m infra.<name>.
COMMANDS = ("plan", "plandiff", "cost", "drift", "teardown", "promote", "smoke", "review")


def _is_main_guard(node: ast.AST) -> bool:
    """``if __name__ == "__main__":`` (a command's entry, not an import of the module)."""
    return (
        isinstance(node, ast.If)
        and isinstance(node.test, ast.Compare)
        and isinstance(node.test.left, ast.Name)
        and node.test.left.id == "__name__"
    )


def imported_modules(path: Path) -> set[str]:
    """Every absolute module ``path`` imports (``import a.b``, ``from a.b import c``), anywhere
    but under ``if __name__ == "__main__":``."""
    names: set[str] = set()
    pending: list[ast.AST] = [ast.parse(path.read_text(encoding="utf-8"))]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        pending.extend(c for c in ast.iter_child_nodes(node) if not _is_main_guard(c))
    return names


def program_modules() -> dict[str, Path]:
    """The infra modules importing the program loads (``infra/__main__.py`` imports nothing
    else), by name."""
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, infra.program; "
            "print(*sorted(m for m in sys.modules if m.split('.')[0] == 'infra'))",
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    modules: dict[str, Path] = {}
    for name in result.stdout.split():
        relative = name.replace(".", "/")
        package = REPO_ROOT / relative / "__init__.py"
        modules[name] = package if package.exists() else REPO_ROOT / f"{relative}.py"
    modules["infra.__main__"] = INFRA / "__main__.py"
    return modules


def within(module: str, package: str) -> bool:
    return module == package or module.startswith(f"{package}.")


def test_the_program_never_imports_the_tools():
    modules = program_modules()
    assert "infra.program" in modules and "infra.config" in modules, sorted(modules)
    tools = {"infra.tools", *(f"infra.{command}" for command in COMMANDS if command != "review")}
    loaded = sorted(m for m in modules if any(within(m, t) for t in tools))
    assert loaded == [], f"importing the program loads {loaded}"
    imports = {
        name: sorted(m for m in imported_modules(path) if any(within(m, t) for t in tools))
        for name, path in modules.items()
    }
    assert {name: found for name, found in imports.items() if found} == {}


def test_every_command_keeps_its_name():
    """python -m infra.<command> runs the tool in infra/tools/ (--help: nothing else runs)."""
    for command in COMMANDS:
        result = subprocess.run(
            [sys.executable, "-m", f"infra.{command}", "--help"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, (command, result.stderr[-2000:])
        assert result.stdout.startswith(f"usage: python -m infra.{command}"), result.stdout[:200]


def test_components_never_import_the_config_module():
    """Components receive typed args; what config validates against lives with them."""
    offenders = {
        path.name: sorted(m for m in imported_modules(path) if within(m, "infra.config"))
        for path in sorted((INFRA / "components").glob("*.py"))
    }
    assert {name: found for name, found in offenders.items() if found} == {}


def service_dependencies() -> set[str]:
    """The top-level import names of the service and of every dependency pyproject.toml gives it
    (``[project] dependencies``; the program's own come from the ``infra`` extra)."""
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    wanted = {
        re.split(r"[\[<>=~! ;]", requirement, maxsplit=1)[0].lower().replace("_", "-")
        for requirement in project["project"]["dependencies"]
    }
    return {"service"} | {
        top
        for top, dists in importlib.metadata.packages_distributions().items()
        if any(d.lower().replace("_", "-") in wanted for d in dists)
    }


# Runs the prod stack under mocks with the service and its dependencies made unimportable.
WITHOUT_THE_SERVICE = """
import importlib.abc, sys

BLOCKED = frozenset(sys.argv[1].split(","))


class Blocked(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r} (blocked)", name=name)
        return None


sys.meta_path.insert(0, Blocked())
import infra.program  # noqa: E402
from infra.tools.mocks import run_program  # noqa: E402
from infra.tools.plan import load_stack_config  # noqa: E402

run = run_program("prod", {**load_stack_config("prod"), "service:imageTag": "t"})
print(len(run.resources), sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED))
"""


def test_the_program_runs_without_the_service_or_its_dependencies():
    blocked = service_dependencies()
    assert {"service", "limits", "pydantic", "fastapi"} <= blocked, blocked
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_THE_SERVICE, ",".join(sorted(blocked))],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    count, _, loaded = result.stdout.strip().partition(" ")
    assert int(count) > 100 and loaded == "[]", result.stdout
