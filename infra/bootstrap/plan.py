"""Offline bootstrap plan: ``python -m infra.bootstrap.plan [--stack account] [--json]``.

Runs the bootstrap program under mocks (``infra.tools.mocks.run_program``), without the Pulumi CLI,
provider plugins or credentials, and prints the resource tree, then every policy document it
would send to AWS (trust and role policies, the permissions boundary, key and bucket policies),
then the outputs (the ``gh variable set`` lines among them). KMS key ARNs in the documents are
the mocks' placeholders; everything else is what ``pulumi up`` sends. The committed placeholder
account (123456789012) is accepted here and refused by ``pulumi up``.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from infra import stackfiles
from infra.bootstrap.config import BOOTSTRAP_DIR, PROJECT
from infra.bootstrap.program import main as bootstrap_main
from infra.config import ConfigError
from infra.tools.mocks import Run, run_program
from infra.tools.plan import load_stack_config, parse_overrides, render_tree, to_dict

DEFAULT_STACK = "account"
# Inputs that hold a policy document, per resource type.
POLICY_INPUTS = {
    "aws:iam/role:Role": "assumeRolePolicy",
    "aws:iam/rolePolicy:RolePolicy": "policy",
    "aws:iam/policy:Policy": "policy",
    "aws:kms/key:Key": "policy",
    "aws:s3/bucketPolicy:BucketPolicy": "policy",
}


def run(stack: str = DEFAULT_STACK, overrides: dict[str, Any] | None = None) -> Run:
    """The bootstrap program for ``stack`` under mocks (offline: placeholders accepted)."""
    config = load_stack_config(stack, root=BOOTSTRAP_DIR)
    config.update(overrides or {})
    return run_program(stack, config, program=lambda: bootstrap_main(offline=True), project=PROJECT)


def policy_documents(result: Run) -> dict[str, dict]:
    """``{"<type> <name>": document}`` for every policy the program would send."""
    documents = {}
    for resource in result.resources:
        key = POLICY_INPUTS.get(resource.type)
        if key is None:
            continue
        value = resource.plain_inputs().get(key)
        if isinstance(value, str):
            documents[f"{resource.type} {resource.name}"] = json.loads(value)
    return dict(sorted(documents.items()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.bootstrap.plan", description=(__doc__ or "").split("\n")[0]
    )
    parser.add_argument("--stack", default=DEFAULT_STACK, help="the bootstrap stack (account)")
    parser.add_argument(
        "--json", action="store_true", help="print resources, policies and outputs as JSON"
    )
    parser.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=f"override a config value for this run (repeatable); KEY defaults to {PROJECT}'s",
    )
    args = parser.parse_args(argv)
    try:
        # KEY without a namespace is the bootstrap project's (infra.plan's default is service:).
        pairs = [p if ":" in p.partition("=")[0] else f"{PROJECT}:{p}" for p in args.config]
        result = run(args.stack, parse_overrides(pairs))
    except (ConfigError, stackfiles.StackFileError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    resources = sorted((to_dict(r) for r in result.resources), key=lambda r: (r["type"], r["name"]))
    documents = policy_documents(result)
    if args.json:
        payload = {"resources": resources, "policies": documents, "outputs": result.outputs}
        print(json.dumps(payload, indent=2, sort_keys=True))
        return 0
    print(f"bootstrap stack {args.stack}: {len(resources)} resources (offline, mocked providers)")
    print(render_tree(resources))
    for title, document in documents.items():
        print(f"\n# {title}")
        print(json.dumps(document, indent=2))
    print("\n# outputs")
    for key, value in sorted(result.outputs.items()):
        if key != "githubVariables":
            print(f"{key}: {json.dumps(value) if not isinstance(value, str) else value}")
    print("\n# repository variables (run after `make bootstrap`; printed again by it)")
    print(result.outputs.get("githubVariables", ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
