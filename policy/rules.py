"""The policy rules as plain functions, shared by the Pulumi policy pack and the offline plan.

Every rule takes one :class:`Resource` and returns a list of violation messages (empty when the
resource complies or the rule does not apply). Property keys are camelCase, as Pulumi mocks
receive them and as ``pulumi_policy`` hands them to a ``ResourceValidationPolicy`` (``args.props``),
so the same function serves ``python -m infra.plan --policy`` and ``pulumi preview --policy-pack``.

Importing this module needs nothing but the standard library.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

REQUIRED_TAGS = ("project", "stack", "managed-by")
PROD_STACKS = frozenset({"prod", "production"})
OPEN_CIDRS = frozenset({"0.0.0.0/0", "::/0"})
ALB_PUBLIC_PORTS = frozenset({80, 443})

SG = "aws:ec2/securityGroup:SecurityGroup"
SG_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
SG_INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
RDS_INSTANCE = "aws:rds/instance:Instance"
RDS_CLUSTER = "aws:rds/cluster:Cluster"
REDIS_GROUP = "aws:elasticache/replicationGroup:ReplicationGroup"
CACHE_CLUSTER = "aws:elasticache/cluster:Cluster"
ECR_REPO = "aws:ecr/repository:Repository"
DOCKER_BUILD_IMAGE = "docker-build:index:Image"
TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
SM_SECRET = "aws:secretsmanager/secret:Secret"  # noqa: S105 (a type, not a password)
LOAD_BALANCERS = frozenset(
    {"aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer"}
)

# Resources holding state that a replacement or deletion would lose: protected in prod.
DATA_TYPES = frozenset({RDS_INSTANCE, RDS_CLUSTER, REDIS_GROUP, ECR_REPO, SM_SECRET})

# Types that accept tags, for the required-tags rule when a resource sets none of its own.
TAGGABLE_TYPES = frozenset(
    {
        "aws:ec2/vpc:Vpc",
        "aws:ec2/subnet:Subnet",
        "aws:ec2/internetGateway:InternetGateway",
        "aws:ec2/natGateway:NatGateway",
        "aws:ec2/eip:Eip",
        "aws:ec2/routeTable:RouteTable",
        "aws:ec2/vpcEndpoint:VpcEndpoint",
        SG,
        SG_INGRESS,
        "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
        RDS_INSTANCE,
        RDS_CLUSTER,
        "aws:rds/subnetGroup:SubnetGroup",
        "aws:rds/parameterGroup:ParameterGroup",
        REDIS_GROUP,
        "aws:elasticache/subnetGroup:SubnetGroup",
        "aws:elasticache/parameterGroup:ParameterGroup",
        ECR_REPO,
        "aws:ecs/cluster:Cluster",
        TASK_DEFINITION,
        "aws:ecs/service:Service",
        *LOAD_BALANCERS,
        "aws:lb/targetGroup:TargetGroup",
        "aws:lb/listener:Listener",
        "aws:lb/listenerRule:ListenerRule",
        LOG_GROUP,
        "aws:cloudwatch/metricAlarm:MetricAlarm",
        "aws:iam/role:Role",
        SM_SECRET,
        "aws:kms/key:Key",
        "aws:sns/topic:Topic",
        "aws:wafv2/webAcl:WebAcl",
        "aws:s3/bucket:Bucket",
        "aws:sqs/queue:Queue",
    }
)

# "alb" or "load balancer" as a word, not as the peer of a rule ("tasks-from-alb", "to-alb").
_ALB_SG_HINT = re.compile(
    r"(?<!from[-_ ])(?<!to[-_ ])(^|(?<=[^a-z0-9]))(alb|load[-_ ]?balancer)([^a-z0-9]|$)",
    re.IGNORECASE,
)
_SECRET_NAME = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|(^|_)(API|PRIVATE|ACCESS)?KEY(_|$)")
_URL_CREDENTIALS = re.compile(r"^[a-z][a-z0-9+.-]*://[^/@\s]*:[^/@\s]+@", re.IGNORECASE)


@dataclass(frozen=True)
class Resource:
    """What a rule sees of one resource."""

    type: str
    name: str
    props: Mapping[str, Any]
    protect: bool = False
    stack: str = ""
    # tags the resource's provider adds to every resource (aws provider `defaultTags`)
    default_tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_prod(self) -> bool:
        return self.stack.rsplit("/", 1)[-1].lower() in PROD_STACKS


Rule = Callable[[Resource], list[str]]


# --- helpers ----------------------------------------------------------------------------------


def _true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return list(value)  # lists, and pulumi_policy's list proxies
    return [value]


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def is_alb_security_group(res: Resource) -> bool:
    """Whether `res` is (a rule of) the ALB's security group.

    Recognised by "alb"/"load balancer" as a word in its logical name, `name`, description or
    Name/role/component tag, as infra/components/network.py names them (`network-alb`,
    `network-alb-http-in`). A rule *from* the ALB (`tasks-from-alb`) is not the ALB's. Even when
    recognised, only TCP 80 and 443 may be open, so a misnamed group gains little.
    """
    tags = res.props.get("tags") or {}
    texts = [res.name, res.props.get("name")]
    if res.type == SG:  # a rule's description names its peer ("From the ALB"), not its group
        texts.append(res.props.get("description"))
    texts += [tags.get("Name"), tags.get("role"), tags.get("component")]
    return any(isinstance(t, str) and _ALB_SG_HINT.search(t) for t in texts)


def _open_ingress(rule: Mapping[str, Any], cidr_keys: Iterable[str]) -> list[str]:
    cidrs: list[str] = []
    for key in cidr_keys:
        cidrs += [c for c in _as_list(rule.get(key)) if c in OPEN_CIDRS]
    return cidrs


def _port_range(rule: Mapping[str, Any], protocol_key: str) -> str | None:
    """None when the rule only opens TCP 80 or 443; otherwise a description of what it opens."""
    protocol = str(rule.get(protocol_key, "")).lower()
    lo, hi = _int(rule.get("fromPort")), _int(rule.get("toPort"))
    if protocol in ("tcp", "6") and lo is not None and lo == hi and lo in ALB_PUBLIC_PORTS:
        return None
    return f"protocol {protocol or '?'} ports {lo}-{hi}"


# --- rules ------------------------------------------------------------------------------------


def sg_no_open_ingress(res: Resource) -> list[str]:
    """No security group ingress from 0.0.0.0/0 or ::/0, except the ALB's on TCP 80/443."""
    found: list[tuple[list[str], str | None, bool]] = []  # (open cidrs, bad ports, alb?)
    if res.type == SG:
        alb = is_alb_security_group(res)
        for rule in _as_list(res.props.get("ingress")):
            if isinstance(rule, Mapping):
                cidrs = _open_ingress(rule, ("cidrBlocks", "ipv6CidrBlocks"))
                found.append((cidrs, _port_range(rule, "protocol"), alb))
    elif res.type == SG_RULE and res.props.get("type") == "ingress":
        cidrs = _open_ingress(res.props, ("cidrBlocks", "ipv6CidrBlocks"))
        found.append((cidrs, _port_range(res.props, "protocol"), is_alb_security_group(res)))
    elif res.type == SG_INGRESS:
        cidrs = _open_ingress(res.props, ("cidrIpv4", "cidrIpv6"))
        found.append((cidrs, _port_range(res.props, "ipProtocol"), is_alb_security_group(res)))
    violations = []
    for cidrs, bad_ports, alb in found:
        if not cidrs:
            continue
        if not alb:
            violations.append(
                f"{res.name}: ingress from {', '.join(cidrs)} on a security group that is not the "
                "load balancer's; only the ALB may be reachable from the internet"
            )
        elif bad_ports:
            violations.append(
                f"{res.name}: the ALB security group opens {bad_ports} to {', '.join(cidrs)}; "
                "only TCP 80 and 443 may be open to the internet"
            )
    return violations


def rds_encrypted_and_private(res: Resource) -> list[str]:
    """RDS storage encrypted and the instance not publicly accessible."""
    if res.type not in (RDS_INSTANCE, RDS_CLUSTER):
        return []
    violations = []
    if not _true(res.props.get("storageEncrypted")):
        violations.append(f"{res.name}: RDS storage must be encrypted (storageEncrypted: true)")
    if _true(res.props.get("publiclyAccessible")):
        violations.append(f"{res.name}: RDS must not be publicly accessible")
    return violations


def redis_encrypted(res: Resource) -> list[str]:
    """ElastiCache Redis/Valkey encrypted in transit and at rest."""
    if res.type == REDIS_GROUP:
        violations = []
        if not _true(res.props.get("transitEncryptionEnabled")):
            violations.append(f"{res.name}: Redis must be encrypted in transit")
        if not _true(res.props.get("atRestEncryptionEnabled")):
            violations.append(f"{res.name}: Redis must be encrypted at rest")
        return violations
    if res.type == CACHE_CLUSTER and res.props.get("engine") in ("redis", "valkey"):
        return [
            f"{res.name}: use a replication group for Redis: a standalone cache cluster cannot be "
            "encrypted at rest"
        ]
    return []


def ecr_scan_on_push(res: Resource) -> list[str]:
    """ECR repositories scan images on push."""
    if res.type != ECR_REPO:
        return []
    scanning = res.props.get("imageScanningConfiguration") or {}
    if isinstance(scanning, Mapping) and _true(scanning.get("scanOnPush")):
        return []
    return [f"{res.name}: ECR repository must scan on push (imageScanningConfiguration.scanOnPush)"]


def image_not_built_in_preview(res: Resource) -> list[str]:
    """Image builds are skipped in previews: a preview build still exports its cache manifest to
    the registry, so a pull request could write to (and poison) the registry cache."""
    if res.type != DOCKER_BUILD_IMAGE:
        return []
    # The provider's default is to build during previews: only an explicit false complies.
    value = res.props.get("buildOnPreview")
    if value is False or (isinstance(value, str) and value.lower() == "false"):
        return []
    return [f"{res.name}: set buildOnPreview=False (a preview build exports its cache)"]


def _container_definitions(value: Any) -> list[Mapping[str, Any]] | None:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return [c for c in value if isinstance(c, Mapping)]
    return None


def _is_secret_reference(name: str, value: object) -> bool:
    """`X_SECRET_ARN=arn:aws:secretsmanager:…` says where a secret lives; it is not one."""
    return (
        name.upper().endswith("_ARN")
        and isinstance(value, str)
        and value.startswith("arn:aws:secretsmanager:")
    )


def no_plaintext_secrets_in_environment(res: Resource) -> list[str]:
    """No secret-looking variable (PASSWORD, SECRET, TOKEN, KEY) in a container's plain
    `environment`, and no URL with embedded credentials: those belong in `secrets` (valueFrom)."""
    if res.type != TASK_DEFINITION:
        return []
    containers = _container_definitions(res.props.get("containerDefinitions"))
    if containers is None:
        return [f"{res.name}: containerDefinitions is not a JSON list of containers"]
    violations = []
    for container in containers:
        cname = container.get("name", "?")
        for env in _as_list(container.get("environment")):
            if not isinstance(env, Mapping):
                continue
            var = str(env.get("name", ""))
            value = env.get("value")
            if _is_secret_reference(var, value):
                continue
            if _SECRET_NAME.search(var.upper()):
                violations.append(
                    f"{res.name}: container '{cname}' passes {var} as a plain environment "
                    "variable; use `secrets` with valueFrom"
                )
            elif isinstance(value, str) and _URL_CREDENTIALS.search(value):
                violations.append(
                    f"{res.name}: container '{cname}' has credentials embedded in the URL in "
                    f"{var}; use `secrets` with valueFrom"
                )
    return violations


def log_group_retention(res: Resource) -> list[str]:
    """CloudWatch log groups have a retention period (never "keep forever")."""
    if res.type != LOG_GROUP:
        return []
    days = _int(res.props.get("retentionInDays"))
    if days is None or days <= 0:
        return [f"{res.name}: log group must set retentionInDays"]
    return []


def alb_drops_invalid_headers(res: Resource) -> list[str]:
    """Application load balancers drop HTTP headers with invalid names."""
    if res.type not in LOAD_BALANCERS:
        return []
    if res.props.get("loadBalancerType", "application") != "application":
        return []
    if _true(res.props.get("dropInvalidHeaderFields")):
        return []
    return [f"{res.name}: ALB must drop invalid header fields (dropInvalidHeaderFields: true)"]


def required_tags(res: Resource) -> list[str]:
    """Taggable resources carry project, stack and managed-by, set on the resource or through
    the provider's default tags."""
    own = res.props.get("tags")
    if not res.type.startswith("aws:"):
        return []  # e.g. docker-build's `tags` are image tags; random has none
    if res.type not in TAGGABLE_TYPES and not isinstance(own, Mapping):
        return []
    tags = {**(res.default_tags or {}), **(own if isinstance(own, Mapping) else {})}
    missing = [t for t in REQUIRED_TAGS if not tags.get(t)]
    if missing:
        return [f"{res.name}: missing required tags: {', '.join(missing)}"]
    return []


def prod_data_protected(res: Resource) -> list[str]:
    """In prod, data resources are protected and RDS has deletion protection."""
    if not res.is_prod or res.type not in DATA_TYPES:
        return []
    violations = []
    if not res.protect:
        violations.append(f"{res.name}: data resources must be protected in prod (protect=True)")
    if res.type in (RDS_INSTANCE, RDS_CLUSTER) and not _true(res.props.get("deletionProtection")):
        violations.append(f"{res.name}: RDS must have deletionProtection in prod")
    return violations


RULES: dict[str, Rule] = {
    "security-group-no-open-ingress": sg_no_open_ingress,
    "rds-encrypted-and-private": rds_encrypted_and_private,
    "redis-encrypted": redis_encrypted,
    "ecr-scan-on-push": ecr_scan_on_push,
    "image-not-built-in-preview": image_not_built_in_preview,
    "no-plaintext-secrets-in-environment": no_plaintext_secrets_in_environment,
    "log-group-retention": log_group_retention,
    "alb-drops-invalid-headers": alb_drops_invalid_headers,
    "required-tags": required_tags,
    "prod-data-protected": prod_data_protected,
}


def check(resources: Iterable[Resource]) -> list[str]:
    """Every violation of every rule, as "rule-name: message" lines."""
    return [
        f"{name}: {msg}" for res in resources for name, rule in RULES.items() for msg in rule(res)
    ]


def default_tags_from_provider(props: Mapping[str, Any]) -> dict[str, str]:
    """`defaultTags.tags` of an aws provider's inputs (a JSON string when it came from config)."""
    value = props.get("defaultTags")
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    tags = value.get("tags") if isinstance(value, Mapping) else None
    return {str(k): str(v) for k, v in tags.items()} if isinstance(tags, Mapping) else {}


def resources_from_plan(plan: Iterable[Mapping[str, Any]], stack: str) -> list[Resource]:
    """Turn `infra.plan --json` entries into rule subjects. An explicit aws provider in the plan
    contributes its default tags to the resources (the program uses one provider)."""
    entries = list(plan)
    default_tags: dict[str, str] = {}
    for e in entries:
        if e.get("type") == "pulumi:providers:aws":
            default_tags.update(default_tags_from_provider(e.get("inputs") or {}))
    return [
        Resource(
            type=e["type"],
            name=e["name"],
            props=e.get("inputs") or {},
            protect=bool(e.get("protect")),
            stack=stack,
            default_tags=default_tags,
        )
        for e in entries
        if not str(e.get("type", "")).startswith("pulumi:")
    ]
