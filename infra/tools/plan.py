"""Offline plan: ``python -m infra.plan --stack STACK [--json] [--preview] [--config KEY=VALUE]``.

Runs the Pulumi program under mocks with the stack's configuration (``Pulumi.yaml`` defaults plus
``Pulumi.<stack>.yaml``), without the Pulumi CLI, provider plugins or cloud credentials, and prints
the resource tree or, with ``--json``, a stably sorted list of
``{"type", "name", "parent", "protect", "inputs"}`` with every secret value replaced by
``"[secret]"``. Values the engine would only know after deployment (ids, ARNs, endpoints, the image
digest) are deterministic placeholders from ``infra.tools.mocks``.

``--preview`` runs the program as ``pulumi preview`` of a new stack would: the engine's dry run,
in which values known only after deployment print as ``"[unknown]"`` and nothing is built.
``--config KEY=VALUE`` (repeatable) overrides the stack's configuration for this run only, like
``pulumi preview --config`` without writing the stack file; ``KEY`` without a namespace is the
project's (``imageRef=…`` is ``service:imageRef=…``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from infra import stackfiles
from infra.config import PROJECT, REPO_ROOT, ConfigError, git_commit
from infra.review import review_number
from infra.tools.mocks import SECRET, Recorded, run_program

PLAN_IMAGE_TAG = "plan-local"


def load_stack_config(stack: str, root: Path = REPO_ROOT) -> dict[str, Any]:
    """The config the engine would pass for ``stack``: project defaults overlaid by the stack file.

    Keys are fully qualified (``service:taskCpu``, ``aws:region``). Secure values are replaced by
    ``"[secret]"`` (the plan never decrypts anything). A review stack (``pr-<n>``) has no stack
    file: the engine passes the project defaults and ``infra/config/review.py`` derives the rest
    from staging's file.
    """
    project_file = root / "Pulumi.yaml"
    stack_file = root / f"Pulumi.{stack}.yaml"
    review = review_number(stack) is not None
    if not review and not stack_file.exists():
        known = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in root.glob("Pulumi.*.yaml"))
        raise ConfigError(
            f"no stack file {stack_file.name}; known stacks: {', '.join(known)}, pr-<n>"
        )
    project = stackfiles.load(project_file) or {}
    name = project.get("name", PROJECT)

    values: dict[str, Any] = {}
    for key, spec in (project.get("config") or {}).items():
        full = key if ":" in key else f"{name}:{key}"
        if isinstance(spec, dict) and ("default" in spec or "value" in spec):
            values[full] = spec.get("value", spec.get("default"))
        elif not isinstance(spec, dict):
            values[full] = spec
    stack_values = {} if review else (stackfiles.load(stack_file) or {}).get("config") or {}
    for key, value in stack_values.items():
        full = key if ":" in key else f"{name}:{key}"
        values[full] = SECRET if isinstance(value, dict) and "secure" in value else value
    return values


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """``["imageRef=…", "aws:region=eu-west-1"]`` -> full keys and values (YAML 1.2 scalars or
    flow collections, as ``pulumi config set --path`` would store them)."""
    overrides: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--config {pair!r}: expected KEY=VALUE")
        full = key if ":" in key else f"{PROJECT}:{key}"
        parsed = stackfiles.parse(value, f"--config {key}") if value else ""
        overrides[full] = parsed if parsed is not None else ""
    return overrides


def plan(
    stack: str, overrides: Mapping[str, Any] | None = None, *, preview: bool = False
) -> list[dict[str, Any]]:
    """Run the program for ``stack`` under mocks; return the sorted resource list."""
    config = load_stack_config(stack)
    config.update(overrides or {})
    if not config.get(f"{PROJECT}:imageTag") and git_commit() is None:
        config[f"{PROJECT}:imageTag"] = PLAN_IMAGE_TAG
    run = run_program(stack, config, preview=preview)
    return sorted(
        (to_dict(r) for r in run.resources),
        key=lambda r: (r["type"], r["name"], r["parent"] or ""),
    )


def to_dict(resource: Recorded) -> dict[str, Any]:
    return {
        "type": resource.type,
        "name": resource.name,
        "parent": resource.parent,
        "protect": resource.protect,
        "inputs": resource.redacted_inputs(),
    }


def render_tree(resources: list[dict[str, Any]]) -> str:
    children: dict[str | None, list[dict[str, Any]]] = {}
    for r in resources:
        children.setdefault(r["parent"], []).append(r)
    lines: list[str] = []

    def walk(parent: str | None, depth: int) -> None:
        for r in sorted(children.get(parent, []), key=lambda r: (r["name"], r["type"])):
            flag = "  [protected]" if r["protect"] else ""
            lines.append(f"{'    ' * depth}{r['type']}  {r['name']}{flag}")
            walk(r["name"], depth + 1)

    walk(None, 0)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.plan", description=(__doc__ or "").split("\n")[0]
    )
    parser.add_argument("--stack", required=True, help="dev, staging, prod, ...")
    parser.add_argument("--json", action="store_true", help="print the resource list as JSON")
    parser.add_argument(
        "--preview",
        action="store_true",
        help="run as `pulumi preview` of a new stack: unknown outputs, nothing built",
    )
    parser.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value for this run (repeatable); KEY defaults to the project's",
    )
    parser.add_argument(
        "--policy",
        action="store_true",
        help="run every rule of policy/rules.py over the plan; exit 1 on any violation",
    )
    args = parser.parse_args(argv)
    try:
        resources = plan(args.stack, parse_overrides(args.config), preview=args.preview)
    except (ConfigError, stackfiles.StackFileError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.policy:
        from policy import rules

        violations = rules.check(rules.resources_from_plan(resources, args.stack))
        for line in violations:
            print(f"violation: {line}")
        print(f"stack {args.stack}: {len(rules.RULES)} rules, {len(violations)} violations")
        return 1 if violations else 0
    if args.json:
        print(json.dumps(resources, indent=2, sort_keys=True))
    else:
        mode = " (preview: values known only after `up` print as [unknown])" if args.preview else ""
        print(f"stack {args.stack}: {len(resources)} resources{mode}")
        print(render_tree(resources))
    return 0


if __name__ == "__main__":
    sys.exit(main())
