"""The policy pack: `pulumi preview --policy-pack policy`.

Each rule of `rules.py` becomes a mandatory `ResourceValidationPolicy`. The CLI runs this
directory as a script (`runpy.run_path(dir, run_name="__main__")`), so `policy/` is on sys.path;
tests import it as `policy.__main__` and only look at `POLICIES`.
"""

from __future__ import annotations

import os

from pulumi_policy import (
    EnforcementLevel,
    PolicyPack,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

try:
    from policy import rules  # imported from the repository root (tests, infra.plan)
except ImportError:  # pragma: no cover - run by the Pulumi CLI from inside policy/
    import rules  # type: ignore[no-redef]

PACK_NAME = "service-guardrails"


def stack_from_urn(urn: str) -> str:
    """`urn:pulumi:<stack>::<project>::<type>::<name>` -> `<stack>`."""
    parts = urn.split(":", 2)
    if len(parts) == 3 and parts[0] == "urn" and parts[1] == "pulumi":
        return parts[2].split("::", 1)[0]
    return os.environ.get("PULUMI_STACK", "")


def to_resource(args: ResourceValidationArgs) -> rules.Resource:
    provider = args.provider
    default_tags = (
        rules.default_tags_from_provider(provider.props)
        if provider is not None and provider.resource_type == "pulumi:providers:aws"
        else {}
    )
    return rules.Resource(
        type=args.resource_type,
        name=args.name,
        props=args.props,
        protect=bool(args.opts.protect) if args.opts is not None else False,
        stack=stack_from_urn(args.urn),
        default_tags=default_tags,
    )


def make_policy(name: str, rule: rules.Rule) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        for message in rule(to_resource(args)):
            report_violation(message, None)

    return ResourceValidationPolicy(
        name=name,
        description=" ".join((rule.__doc__ or name).split("\n\n")[0].split()),
        validate=validate,
        enforcement_level=EnforcementLevel.MANDATORY,
    )


POLICIES = [make_policy(name, rule) for name, rule in rules.RULES.items()]

if __name__ == "__main__":
    PolicyPack(
        name=PACK_NAME,
        enforcement_level=EnforcementLevel.MANDATORY,
        policies=POLICIES,
    )
