"""Offline plan diff: `python -m infra.plandiff BASE.json HEAD.json [--title STACK]` -> markdown.

Both files are the output of `python -m infra.plan --stack S --json`: a list of
`{type, name, parent, protect, inputs}` with secret values already replaced by "[secret]".
The diff is computed without a provider or credentials, so it can run on fork pull requests.

Identity of a resource is (type, parent, name). Pulumi's URN includes the parent chain, so
moving a resource to another parent without an alias is a delete and a create, and shows up
here as a removal plus an addition.

Whether a change replaces the resource cannot be known without the provider schema; we use
`REPLACE_ON_CHANGE`, a small table of the inputs that force replacement for the resource types
this project uses (taken from the Terraform AWS provider's ForceNew attributes, which
pulumi-aws inherits). A replaced or removed protected resource is reported as dangerous.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REDACTED = "[secret]"
ALL_INPUTS = "*"

# Inputs whose change forces a replacement (delete + create), per resource type.
# "*" means every input change replaces (the provider has no update operation).
REPLACE_ON_CHANGE: dict[str, frozenset[str]] = {
    # network
    "aws:ec2/vpc:Vpc": frozenset({"cidrBlock", "instanceTenancy"}),
    "aws:ec2/subnet:Subnet": frozenset(
        {"cidrBlock", "availabilityZone", "availabilityZoneId", "vpcId"}
    ),
    "aws:ec2/securityGroup:SecurityGroup": frozenset(
        {"name", "namePrefix", "vpcId", "description"}
    ),
    "aws:ec2/securityGroupRule:SecurityGroupRule": frozenset(
        {
            "type",
            "fromPort",
            "toPort",
            "protocol",
            "cidrBlocks",
            "ipv6CidrBlocks",
            "prefixListIds",
            "securityGroupId",
            "sourceSecurityGroupId",
            "self",
        }
    ),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": frozenset({"securityGroupId"}),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": frozenset({"securityGroupId"}),
    "aws:ec2/eip:Eip": frozenset({"domain", "vpc"}),
    "aws:ec2/natGateway:NatGateway": frozenset(
        {"subnetId", "allocationId", "connectivityType", "privateIp"}
    ),
    "aws:ec2/routeTable:RouteTable": frozenset({"vpcId"}),
    "aws:ec2/route:Route": frozenset(
        {"routeTableId", "destinationCidrBlock", "destinationIpv6CidrBlock"}
    ),
    "aws:ec2/routeTableAssociation:RouteTableAssociation": frozenset({"subnetId", "gatewayId"}),
    "aws:ec2/vpcEndpoint:VpcEndpoint": frozenset({"vpcId", "serviceName", "vpcEndpointType"}),
    # data
    "aws:rds/instance:Instance": frozenset(
        {
            "identifier",
            "identifierPrefix",
            "engine",
            "dbName",
            "username",
            "storageEncrypted",
            "kmsKeyId",
            "availabilityZone",
            "characterSetName",
            "timezone",
            "snapshotIdentifier",
        }
    ),
    "aws:rds/subnetGroup:SubnetGroup": frozenset({"name", "namePrefix"}),
    "aws:rds/parameterGroup:ParameterGroup": frozenset(
        {"name", "namePrefix", "family", "description"}
    ),
    # transitEncryptionEnabled is modifiable in place on Redis >= 7 (ModifyReplicationGroup with
    # TransitEncryptionMode), so it is deliberately not listed; at-rest encryption is not.
    "aws:elasticache/replicationGroup:ReplicationGroup": frozenset(
        {
            "replicationGroupId",
            "engine",
            "atRestEncryptionEnabled",
            "kmsKeyId",
            "subnetGroupName",
            "port",
            "networkType",
        }
    ),
    "aws:elasticache/subnetGroup:SubnetGroup": frozenset({"name"}),
    "aws:elasticache/parameterGroup:ParameterGroup": frozenset({"name", "family", "description"}),
    "aws:secretsmanager/secret:Secret": frozenset({"name", "namePrefix"}),
    "aws:secretsmanager/secretVersion:SecretVersion": frozenset({"secretId"}),
    # registry / compute
    "aws:ecr/repository:Repository": frozenset({"name", "encryptionConfigurations"}),
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": frozenset({"repository"}),
    "aws:ecs/cluster:Cluster": frozenset({"name"}),
    # every change to a task definition registers a new revision (the old one is deregistered)
    "aws:ecs/taskDefinition:TaskDefinition": frozenset({ALL_INPUTS}),
    "aws:ecs/service:Service": frozenset(
        {"name", "cluster", "launchType", "schedulingStrategy", "iamRole"}
    ),
    "aws:appautoscaling/target:Target": frozenset(
        {"resourceId", "scalableDimension", "serviceNamespace"}
    ),
    "aws:appautoscaling/policy:Policy": frozenset(
        {"name", "resourceId", "scalableDimension", "serviceNamespace"}
    ),
    "aws:cloudwatch/logGroup:LogGroup": frozenset({"name", "namePrefix", "logGroupClass"}),
    "aws:cloudwatch/metricAlarm:MetricAlarm": frozenset({"name"}),
    "aws:cloudwatch/eventRule:EventRule": frozenset({"name", "namePrefix", "eventBusName"}),
    "aws:cloudwatch/eventTarget:EventTarget": frozenset({"rule", "targetId", "eventBusName"}),
    "aws:scheduler/schedule:Schedule": frozenset({"name", "namePrefix", "groupName"}),
    "aws:iam/role:Role": frozenset({"name", "namePrefix", "path"}),
    "aws:iam/rolePolicy:RolePolicy": frozenset({"name", "namePrefix", "role"}),
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": frozenset({ALL_INPUTS}),
    # load balancing (aws:alb/* are the legacy aliases of aws:lb/*)
    "aws:lb/loadBalancer:LoadBalancer": frozenset(
        {"name", "namePrefix", "internal", "loadBalancerType"}
    ),
    "aws:alb/loadBalancer:LoadBalancer": frozenset(
        {"name", "namePrefix", "internal", "loadBalancerType"}
    ),
    "aws:lb/targetGroup:TargetGroup": frozenset(
        {"name", "namePrefix", "port", "protocol", "protocolVersion", "targetType", "vpcId"}
    ),
    "aws:alb/targetGroup:TargetGroup": frozenset(
        {"name", "namePrefix", "port", "protocol", "protocolVersion", "targetType", "vpcId"}
    ),
    "aws:lb/listener:Listener": frozenset({"loadBalancerArn"}),
    "aws:alb/listener:Listener": frozenset({"loadBalancerArn"}),
    "aws:acm/certificate:Certificate": frozenset(
        {"domainName", "subjectAlternativeNames", "validationMethod", "keyAlgorithm"}
    ),
    # the random provider has no update: any input change regenerates the value
    "random:index/randomPassword:RandomPassword": frozenset({ALL_INPUTS}),
    "random:index/randomString:RandomString": frozenset({ALL_INPUTS}),
    "random:index/randomId:RandomId": frozenset({ALL_INPUTS}),
}

MAX_VALUE_CHARS = 60


@dataclass(frozen=True)
class Resource:
    type: str
    name: str
    parent: str | None
    protect: bool
    inputs: dict[str, Any]

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.type, self.parent or "", self.name)


@dataclass
class Change:
    base: Resource
    head: Resource
    keys: list[str]  # changed input paths, dotted ("tags.stack")
    replace_keys: list[str]
    protect_changed: bool

    @property
    def replace(self) -> bool:
        return bool(self.replace_keys)

    @property
    def protected(self) -> bool:
        # the protection that counts is the one on the live resource (base); head too
        return self.base.protect or self.head.protect


@dataclass
class PlanDiff:
    added: list[Resource] = field(default_factory=list)
    removed: list[Resource] = field(default_factory=list)
    changed: list[Change] = field(default_factory=list)
    unchanged: int = 0

    @property
    def replaced(self) -> list[Change]:
        return [c for c in self.changed if c.replace]

    @property
    def dangerous(self) -> list[str]:
        lines = [
            f"protected resource {_label(c.head)} would be replaced "
            f"(forced by {', '.join(f'`{k}`' for k in c.replace_keys)})"
            for c in self.changed
            if c.replace and c.protected
        ]
        lines += [
            f"protected resource {_label(r)} would be removed" for r in self.removed if r.protect
        ]
        lines += [
            f"resource {_label(c.head)} would lose its `protect` flag"
            for c in self.changed
            if c.protect_changed and c.base.protect and not c.head.protect
        ]
        return lines

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)


class PlanError(ValueError):
    """The plan file is not a plan."""


def parse_plan(data: Any, source: str = "plan") -> list[Resource]:
    if not isinstance(data, list):
        raise PlanError(f"{source}: expected a JSON list of resources, got {type(data).__name__}")
    resources = []
    for i, item in enumerate(data):
        if not isinstance(item, dict) or not isinstance(item.get("type"), str):
            raise PlanError(f"{source}[{i}]: expected an object with a string 'type'")
        if not isinstance(item.get("name"), str):
            raise PlanError(f"{source}[{i}]: expected a string 'name'")
        inputs = item.get("inputs") or {}
        if not isinstance(inputs, dict):
            raise PlanError(f"{source}[{i}]: 'inputs' must be an object")
        resources.append(
            Resource(
                type=item["type"],
                name=item["name"],
                parent=item.get("parent"),
                protect=bool(item.get("protect", False)),
                inputs=inputs,
            )
        )
    return resources


def load_plan(path: str | Path) -> list[Resource]:
    p = Path(path)
    text = p.read_text(encoding="utf-8").strip()
    if not text:
        return []
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PlanError(f"{p}: not JSON ({exc})") from exc
    return parse_plan(data, str(p))


def _changed_paths(before: Any, after: Any, prefix: str = "") -> list[str]:
    """Dotted paths that differ; dicts are descended into, anything else compared whole."""
    if isinstance(before, dict) and isinstance(after, dict):
        paths: list[str] = []
        for k in sorted(set(before) | set(after), key=str):
            sub = f"{prefix}.{k}" if prefix else str(k)
            if k not in before or k not in after:
                paths.append(sub)
            else:
                paths += _changed_paths(before[k], after[k], sub)
        return paths
    return [] if before == after else [prefix]


def _replace_keys(rtype: str, changed: list[str]) -> list[str]:
    table = REPLACE_ON_CHANGE.get(rtype, frozenset())
    if ALL_INPUTS in table:
        return sorted({p.split(".")[0] for p in changed})
    return sorted({p.split(".")[0] for p in changed if p.split(".")[0] in table})


def diff_plans(base: list[Resource], head: list[Resource]) -> PlanDiff:
    base_by_key = {r.key: r for r in base}
    head_by_key = {r.key: r for r in head}
    result = PlanDiff()
    for key in sorted(head_by_key.keys() - base_by_key.keys()):
        result.added.append(head_by_key[key])
    for key in sorted(base_by_key.keys() - head_by_key.keys()):
        result.removed.append(base_by_key[key])
    for key in sorted(base_by_key.keys() & head_by_key.keys()):
        b, h = base_by_key[key], head_by_key[key]
        keys = _changed_paths(b.inputs, h.inputs)
        protect_changed = b.protect != h.protect
        if not keys and not protect_changed:
            result.unchanged += 1
            continue
        result.changed.append(
            Change(
                base=b,
                head=h,
                keys=keys,
                replace_keys=_replace_keys(h.type, keys),
                protect_changed=protect_changed,
            )
        )
    return result


# --- rendering ---------------------------------------------------------------------------


def _label(r: Resource) -> str:
    return f"`{r.name}` (`{r.type}`)"


def _short_type(rtype: str) -> str:
    # "aws:rds/instance:Instance" -> "aws:rds:Instance"; keeps tables narrow
    try:
        pkg, mod_and_name = rtype.split(":", 1)
        mod, name = mod_and_name.split(":", 1)
        return f"{pkg}:{mod.split('/')[0]}:{name}"
    except ValueError:
        return rtype


def _get_path(inputs: dict[str, Any], path: str) -> Any:
    node: Any = inputs
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node


class _Missing:
    def __repr__(self) -> str:
        return "(unset)"


_MISSING = _Missing()

_SECRET_WORDS = ("password", "secret", "token", "authtoken", "privatekey", "credential")


def _render_value(path: str, value: Any) -> str:
    if value is _MISSING:
        return "(unset)"
    if value == REDACTED or any(w in path.lower().replace("_", "") for w in _SECRET_WORDS):
        return REDACTED
    text = json.dumps(value, sort_keys=True, default=str)
    if len(text) > MAX_VALUE_CHARS:
        return "(long value)"
    return text.replace("|", "\\|").replace("`", "'")


def _change_detail(c: Change) -> str:
    parts = []
    for path in c.keys:
        before = _render_value(path, _get_path(c.base.inputs, path))
        after = _render_value(path, _get_path(c.head.inputs, path))
        mark = " (forces replacement)" if path.split(".")[0] in c.replace_keys else ""
        if before == after == REDACTED:
            parts.append(f"`{path}`{mark}")
        else:
            parts.append(f"`{path}`: `{before}` → `{after}`{mark}")
    if c.protect_changed:
        parts.append(f"`protect`: `{c.base.protect}` → `{c.head.protect}`")
    return "<br>".join(parts)


def summary_line(d: PlanDiff) -> str:
    n_replace = len(d.replaced)
    change = f"{len(d.changed)} to change"
    if n_replace:
        change += f" ({n_replace} replaced)"
    return f"{len(d.added)} to add, {change}, {len(d.removed)} to remove, {d.unchanged} unchanged"


def render_markdown(d: PlanDiff, title: str | None = None) -> str:
    out: list[str] = []
    heading = f"### Plan diff: {title}" if title else "### Plan diff"
    out.append(heading)
    out.append("")
    out.append(f"**Summary:** {summary_line(d)}.")
    out.append("")
    for line in d.dangerous:
        out.append(f"- **⚠️ dangerous: {line}**")
    if d.dangerous:
        out.append("")
    if d.empty:
        out.append("No changes.")
        return "\n".join(out) + "\n"
    if d.added:
        out += ["#### Added", "", "| resource | type | parent |", "|---|---|---|"]
        out += [f"| `{r.name}` | `{_short_type(r.type)}` | {r.parent or ''} |" for r in d.added]
        out.append("")
    if d.removed:
        out += ["#### Removed", "", "| resource | type | protected |", "|---|---|---|"]
        out += [
            f"| `{r.name}` | `{_short_type(r.type)}` | {'**yes**' if r.protect else 'no'} |"
            for r in d.removed
        ]
        out.append("")
    if d.changed:
        out += ["#### Changed", "", "| resource | type | action | inputs |", "|---|---|---|---|"]
        for c in d.changed:
            action = "replace" if c.replace else "update"
            if c.replace and c.protected:
                action = "**replace (protected)**"
            out.append(
                f"| `{c.head.name}` | `{_short_type(c.head.type)}` | {action} | "
                f"{_change_detail(c)} |"
            )
        out.append("")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.plandiff",
        description="Markdown diff of two `infra.plan --json` outputs (base and head).",
    )
    parser.add_argument("base", help="plan JSON of the base (an empty file means no resources)")
    parser.add_argument("head", help="plan JSON of the head")
    parser.add_argument("--title", help="heading, e.g. the stack name")
    parser.add_argument(
        "--fail-on-dangerous",
        action="store_true",
        help="exit 3 when a protected resource would be replaced or removed",
    )
    args = parser.parse_args(argv)
    try:
        d = diff_plans(load_plan(args.base), load_plan(args.head))
    except (OSError, PlanError) as exc:
        print(f"plandiff: {exc}", file=sys.stderr)
        return 1
    sys.stdout.write(render_markdown(d, args.title))
    if args.fail_on_dangerous and d.dangerous:
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
