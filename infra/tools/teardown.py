"""Safe teardown of a disposable stack.

`python -m infra.teardown --stack NAME [--dry-run] [--remove-stack]`

Refuses (exit 2) unless the stack is disposable: not prod, and either a review stack `pr-<n>`
(no stack file: `infra/config/review.py` derives its config from staging's and forces
`ephemeral`) or one whose `Pulumi.<stack>.yaml` sets `<project>:ephemeral` to `true` (the project
name comes from `Pulumi.yaml`). Only a YAML boolean
`true` or the string "true" count: the Pulumi CLI reads YAML 1.2, where `yes`, `on` and `1` are
not booleans, so the program would not see them as true either. Then runs
`pulumi destroy --yes --skip-preview --stack NAME` and, only with `--remove-stack`,
`pulumi stack rm --yes --preserve-config --stack NAME`: without `--preserve-config` the CLI also
deletes the committed `Pulumi.<stack>.yaml`, and the next deploy (which re-creates the stack:
the deploy workflow upserts) would find neither the stack's settings nor the ephemeral marker.
`--dry-run` prints the commands and runs nothing. The refusal and the dry run never need the
pulumi CLI.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from infra import stackfiles
from infra.review import review_number

EXIT_REFUSED = 2
EXIT_NO_CLI = 3
PROTECTED_STACKS = frozenset({"prod", "production"})


def is_true(value: object) -> bool:
    """A YAML 1.2 boolean true or the string "true" (what `pulumi config get` would print)."""
    return value is True or value == "true"


class Refusal(Exception):
    """The stack is not disposable; the message says why."""


def project_name(root: Path) -> str:
    path = root / "Pulumi.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError as exc:
        raise Refusal(f"{path} not found: cannot tell which project the stack belongs to") from exc
    name = data.get("name") if isinstance(data, dict) else None
    if not isinstance(name, str) or not name:
        raise Refusal(f"{path} has no project 'name'")
    return name


def check_disposable(stack: str, root: Path) -> None:
    """Raise Refusal unless `stack` may be destroyed."""
    bare = stack.rsplit("/", 1)[-1]  # "org/project/staging" -> "staging"
    if bare.lower() in PROTECTED_STACKS:
        raise Refusal(f"stack '{stack}' is production and is never torn down by this tool")
    project = project_name(root)
    if review_number(bare) is not None:
        return  # a review stack: ephemeral by construction (infra/config/review.py)
    config_path = root / f"Pulumi.{bare}.yaml"
    if not config_path.is_file():
        raise Refusal(
            f"stack '{stack}': {config_path.name} is missing, so nothing marks it ephemeral"
        )
    try:
        data = stackfiles.load(config_path) or {}  # YAML 1.2, as the Pulumi CLI reads it
    except stackfiles.StackFileError as exc:
        raise Refusal(f"stack '{stack}': {exc}") from exc
    config = data.get("config") if isinstance(data, dict) else None
    key = f"{project}:ephemeral"
    value = config.get(key) if isinstance(config, dict) else None
    if value is None:
        raise Refusal(
            f"stack '{stack}': {config_path.name} does not set {key}: \"true\"; "
            "only stacks marked ephemeral can be torn down"
        )
    if not is_true(value):
        raise Refusal(
            f"stack '{stack}': {config_path.name} sets {key} to {value!r}, not true "
            '(only a YAML boolean true or the string "true" count); '
            "only stacks marked ephemeral can be torn down"
        )


def commands(stack: str, remove_stack: bool) -> list[list[str]]:
    cmds = [["pulumi", "destroy", "--yes", "--skip-preview", "--stack", stack]]
    if remove_stack:
        # --preserve-config: keep the committed Pulumi.<stack>.yaml, so the stack can be re-created
        cmds.append(["pulumi", "stack", "rm", "--yes", "--preserve-config", "--stack", stack])
    return cmds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.teardown",
        description="Destroy a disposable (ephemeral) stack; refuses prod and anything not "
        "marked ephemeral in its Pulumi.<stack>.yaml.",
    )
    parser.add_argument("--stack", required=True, help="stack name, e.g. staging")
    parser.add_argument("--dry-run", action="store_true", help="print the commands only")
    parser.add_argument(
        "--remove-stack",
        action="store_true",
        help="also remove the stack (its state and history; Pulumi.<stack>.yaml is kept) after "
        "destroying its resources",
    )
    parser.add_argument(
        "--root",
        type=Path,
        default=Path(__file__).resolve().parents[2],
        help="directory holding Pulumi.yaml (default: the repository root)",
    )
    args = parser.parse_args(argv)

    try:
        check_disposable(args.stack, args.root)
    except Refusal as exc:
        print(f"teardown refused: {exc}", file=sys.stderr)
        return EXIT_REFUSED

    cmds = commands(args.stack, args.remove_stack)
    if args.dry_run:
        print(f"# dry run: would run in {args.root}")
        for cmd in cmds:
            print(shlex.join(cmd))
        return 0

    pulumi = shutil.which("pulumi")
    if pulumi is None:
        print(
            "teardown: the pulumi CLI is not on PATH; install it "
            "(see docs/operations.md, Staging teardown) or use --dry-run to see the commands",
            file=sys.stderr,
        )
        return EXIT_NO_CLI
    for cmd in cmds:
        print(f"+ {shlex.join(cmd)}", flush=True)
        proc = subprocess.run([pulumi, *cmd[1:]], cwd=args.root, check=False)  # noqa: S603
        if proc.returncode != 0:
            print(f"teardown: {cmd[0]} {cmd[1]} failed ({proc.returncode})", file=sys.stderr)
            return proc.returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())
