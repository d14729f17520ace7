"""Run the Pulumi program offline under ``pulumi.runtime.set_mocks``.

Used by ``infra.plan`` and by ``tests/infra``. No CLI, no provider plugins, no credentials: the mock
engine records every resource registration (type, logical name, parent, protect, provider and the
inputs exactly as a provider would receive them, secrets still wrapped) and answers with
deterministic fake outputs (ids, ARNs, endpoints, an image digest) so the program runs to the end.

Every fake id, ARN and generated name carries the resource's identity: a short hash of its
logical name and replace-on-change inputs (``infra.tools.replacement``). They are shaped like AWS's:
EC2 ids with AWS's prefixes (``vpc-1a2b3c4d``, ``subnet-``, ``sg-``, ``rtb-``, ``vpce-`` ...; an S3
bucket's id is its name and a queue's its URL, as the provider's; other ids are
``<logical name>-<hash>``), ARNs with the service, region and account where AWS puts them
(IAM: global, ``arn:aws:iam::<account>:role/<path><name>``; S3: ``arn:aws:s3:::<bucket>``). The
invokes the program makes are answered as the provider would: the ECR token and image lookup, the
caller identity, and the region's Elastic Load Balancing account (failing for regions launched
after August 2022, as the provider does). Change an input that replaces
a resource and it hands its dependents new values, so the replacement cascades through the plan
as it would through the engine; ``infra.plandiff`` recomputes the same hashes from plan files to
name the replaced resource behind each cascaded change.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.output import Unknown
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.rpc_manager import RPCManager
from pulumi.runtime.settings import SETTINGS
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from infra.config import PROJECT
from infra.tools.replacement import identity_hash, revision

ACCOUNT = "123456789012"
SECRET = "[secret]"  # noqa: S105 (the redaction marker)
UNKNOWN = "[unknown]"  # a value `pulumi preview` shows as "output<string>": known only after up


@dataclass
class Recorded:
    """One resource registration as the engine saw it."""

    urn: str
    type: str
    name: str
    parent_urn: str
    protect: bool
    custom: bool
    provider: str
    inputs: dict[str, Any]
    ignore_changes: list[str] = field(default_factory=list)
    custom_timeouts: dict[str, str] = field(default_factory=dict)
    dependencies: list[str] = field(default_factory=list)
    delete_before_replace: bool = False
    parent: str | None = None  # logical name of the parent component, None for the stack

    def plain_inputs(self) -> dict[str, Any]:
        """Inputs with secrets unwrapped (for assertions that need the value)."""
        return _unwrap(self.inputs)

    def redacted_inputs(self) -> dict[str, Any]:
        """Inputs with every secret value replaced by ``"[secret]"`` (for printing)."""
        return _redact(self.inputs)


@dataclass
class Run:
    resources: list[Recorded]
    outputs: dict[str, Any] = field(default_factory=dict)

    def of_type(self, type_: str) -> list[Recorded]:
        return [r for r in self.resources if r.type == type_]

    def named(self, name: str, type_: str | None = None) -> Recorded:
        matches = [
            r for r in self.resources if r.name == name and (type_ is None or r.type == type_)
        ]
        if len(matches) != 1:
            raise KeyError(f"expected one resource named {name!r}, found {len(matches)}")
        return matches[0]

    def find(self, name: str) -> Recorded | None:
        return next((r for r in self.resources if r.name == name), None)


def _number(value: float) -> float | int:
    """The engine carries every number as a double: show whole numbers as integers."""
    return int(value) if value.is_integer() else value


def _unwrap(value: Any) -> Any:
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, Unknown):
        return UNKNOWN
    if rpc.is_rpc_secret(value):
        return _unwrap(rpc.unwrap_rpc_secret(value))
    if isinstance(value, dict):
        return {k: _unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap(v) for v in value]
    return value


def _redact(value: Any) -> Any:
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, Unknown):
        return UNKNOWN
    if rpc.is_rpc_secret(value):
        return SECRET
    if isinstance(value, dict):
        return {k: _redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v) for v in value]
    return value


# A digest the mock registry does not hold (see InfraMocks._ecr_image).
MISSING_DIGEST = "sha256:" + "dead" * 16


def _digest(seed: str) -> str:
    return "sha256:" + hashlib.sha256(seed.encode()).hexdigest()


def mock_identity(rtype: str, name: str, inputs: Mapping[str, Any]) -> str:
    """The identity hash of a resource: its logical name plus its replace-on-change inputs as
    the plan prints them (:mod:`infra.tools.replacement`). Every fake id, ARN and generated name the
    mocks hand out carries it, so a replacement changes what dependents receive."""
    return identity_hash(rtype, name, _redact(dict(inputs)))


# Types whose explicit name is not the ``name`` input (and its prefix input).
_NAME_INPUTS: dict[str, tuple[str, str]] = {
    "aws:s3/bucket:Bucket": ("bucket", "bucketPrefix"),
    "aws:cloudwatch/logResourcePolicy:LogResourcePolicy": ("policyName", ""),
    "aws:cloudwatch/dashboard:Dashboard": ("dashboardName", ""),
}


def physical_name(name: str, inputs: Mapping[str, Any], identity: str, rtype: str = "") -> str:
    """The name AWS would know the resource by: the explicit ``name`` (kept by a replacement,
    as on AWS), ``namePrefix`` plus a generated suffix, or Pulumi's auto-name (logical name plus
    a suffix; a replacement is created before the old one is deleted, so it gets a new one).
    S3 buckets name themselves with ``bucket`` / ``bucketPrefix``."""
    explicit, prefix = _NAME_INPUTS.get(rtype, ("name", "namePrefix"))
    if inputs.get(explicit):
        return str(inputs[explicit])
    if prefix and inputs.get(prefix):
        return f"{inputs[prefix]}{identity}"
    return f"{name}-{identity}"


# EC2 resources get AWS-style ids: the prefix AWS uses and the identity hash as the 8 hex digits
# of the classic id format (``vpc-1a2b3c4d``), so a replacement still hands out a new id.
ID_PREFIXES: dict[str, str] = {
    "aws:ec2/vpc:Vpc": "vpc",
    "aws:ec2/subnet:Subnet": "subnet",
    "aws:ec2/securityGroup:SecurityGroup": "sg",
    "aws:ec2/routeTable:RouteTable": "rtb",
    "aws:ec2/internetGateway:InternetGateway": "igw",
    "aws:ec2/natGateway:NatGateway": "nat",
    "aws:ec2/eip:Eip": "eipalloc",
    "aws:ec2/vpcEndpoint:VpcEndpoint": "vpce",
    "aws:ec2/routeTableAssociation:RouteTableAssociation": "rtbassoc",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": "sgr",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": "sgr",
}
# The ARN resource part of EC2 resources, by type (arn:aws:ec2:<region>:<account>:<kind>/<id>).
_EC2_ARN_KINDS: dict[str, str] = {
    "aws:ec2/vpc:Vpc": "vpc",
    "aws:ec2/subnet:Subnet": "subnet",
    "aws:ec2/securityGroup:SecurityGroup": "security-group",
    "aws:ec2/routeTable:RouteTable": "route-table",
    "aws:ec2/internetGateway:InternetGateway": "internet-gateway",
    "aws:ec2/natGateway:NatGateway": "natgateway",
    "aws:ec2/eip:Eip": "elastic-ip",
    "aws:ec2/vpcEndpoint:VpcEndpoint": "vpc-endpoint",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": "security-group-rule",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": "security-group-rule",
}
# Pulumi module -> the service namespace AWS writes in ARNs, where they differ.
_ARN_SERVICES = {
    "lb": "elasticloadbalancing",
    "vpc": "ec2",
    "appautoscaling": "application-autoscaling",
}
LB_ID = "0123456789abcdef"
# Elastic Load Balancing's account per region, as aws.elb.get_service_account answers (the ELB
# user guide's table for regions available before August 2022; commercial partition).
ELB_ACCOUNTS: dict[str, str] = {
    "us-east-1": "127311923021",
    "us-east-2": "033677994240",
    "us-west-1": "027434742980",
    "us-west-2": "797873946194",
    "af-south-1": "098369216593",
    "ap-east-1": "754344448648",
    "ap-southeast-3": "589379963580",
    "ap-south-1": "718504428378",
    "ap-northeast-3": "383597477331",
    "ap-northeast-2": "600734575887",
    "ap-southeast-1": "114774131450",
    "ap-southeast-2": "783225319266",
    "ap-northeast-1": "582318560864",
    "ca-central-1": "985666609251",
    "eu-central-1": "054676820928",
    "eu-west-1": "156460612806",
    "eu-west-2": "652711504416",
    "eu-south-1": "635631232127",
    "eu-west-3": "009996457667",
    "eu-north-1": "897822967062",
    "me-south-1": "076674570225",
    "sa-east-1": "507241528517",
}


def resource_id(
    rtype: str, name: str, identity: str, physical: str = "", region: str = "us-east-1"
) -> str:
    """The id the mocks give a resource: ``<aws prefix>-<hash>`` for EC2 resources (``vpc-``,
    ``subnet-``, ``sg-`` ...), the bucket name for an S3 bucket and the queue URL for an SQS
    queue (the provider's ids), ``<logical name>-<hash>`` otherwise."""
    if rtype == "aws:s3/bucket:Bucket" and physical:
        return physical
    if rtype == "aws:sqs/queue:Queue" and physical:
        return f"https://sqs.{region}.amazonaws.com/{ACCOUNT}/{physical}"
    prefix = ID_PREFIXES.get(rtype)
    return f"{prefix}-{identity}" if prefix else f"{name}-{identity}"


def mock_id(resource: Recorded, region: str = "us-east-1") -> str:
    """The id the mocks gave ``resource`` (what its dependents received as ``.id``)."""
    identity = mock_identity(resource.type, resource.name, resource.inputs)
    physical = physical_name(resource.name, resource.inputs, identity, resource.type)
    return resource_id(resource.type, resource.name, identity, physical, region)


def mock_physical_name(resource: Recorded) -> str:
    """The generated physical name of ``resource`` (what dependents received as ``.name``)."""
    inputs = resource.inputs
    identity = mock_identity(resource.type, resource.name, inputs)
    return physical_name(resource.name, inputs, identity, resource.type)


def mock_arn(
    rtype: str, physical: str, rid: str, identity: str, inputs: Mapping[str, Any], region: str
) -> str:
    """The ARN AWS would give the resource: service, region and account where AWS puts them
    (IAM is global: no region), the resource part in the service's own format."""
    account = ACCOUNT
    module = rtype.split(":")[1].split("/")[0] if ":" in rtype else "mock"
    service = _ARN_SERVICES.get(module, module)
    regional = f"arn:aws:{service}:{region}:{account}"
    if module == "iam":  # global: no region
        kind = rtype.rsplit(":", 1)[-1].lower()
        return f"arn:aws:iam::{account}:{kind}{inputs.get('path') or '/'}{physical}"
    if rtype in _EC2_ARN_KINDS:
        return f"arn:aws:ec2:{region}:{account}:{_EC2_ARN_KINDS[rtype]}/{rid}"
    cluster = str(inputs.get("cluster") or "").rsplit("/", 1)[-1]
    formats = {
        "aws:cloudwatch/logGroup:LogGroup": f"arn:aws:logs:{region}:{account}:log-group:{physical}",
        "aws:cloudwatch/metricAlarm:MetricAlarm": f"{regional}:alarm:{physical}",
        "aws:sns/topic:Topic": f"{regional}:{physical}",
        "aws:ecr/repository:Repository": f"{regional}:repository/{physical}",
        "aws:ecs/cluster:Cluster": f"{regional}:cluster/{physical}",
        "aws:ecs/service:Service": f"{regional}:service/{cluster}/{physical}",
        "aws:lb/loadBalancer:LoadBalancer": f"{regional}:loadbalancer/app/{physical}/{LB_ID}",
        "aws:lb/targetGroup:TargetGroup": f"{regional}:targetgroup/{physical}/{LB_ID}",
        "aws:lb/listener:Listener": f"{regional}:listener/app/"
        + str(inputs.get("loadBalancerArn") or "lb/x").split("loadbalancer/app/", 1)[-1]
        + f"/{identity}",
        # listener-rule/app/<lb name>/<lb id>/<listener id>/<rule id>
        "aws:lb/listenerRule:ListenerRule": str(
            inputs.get("listenerArn") or "listener/app/x"
        ).replace(":listener/app/", ":listener-rule/app/", 1)
        + f"/{identity}",
        # Dashboards are global: no region in the ARN.
        "aws:cloudwatch/dashboard:Dashboard": f"arn:aws:cloudwatch::{account}:dashboard/{physical}",
        "aws:rds/instance:Instance": f"{regional}:db:{inputs.get('identifier') or physical}",
        "aws:rds/subnetGroup:SubnetGroup": f"{regional}:subgrp:{physical}",
        "aws:rds/parameterGroup:ParameterGroup": f"{regional}:pg:{physical}",
        "aws:elasticache/replicationGroup:ReplicationGroup": f"{regional}:replicationgroup:"
        f"{inputs.get('replicationGroupId', physical)}",
        "aws:elasticache/subnetGroup:SubnetGroup": f"{regional}:subnetgroup:{physical}",
        "aws:scheduler/schedule:Schedule": f"{regional}:schedule/default/{physical}",
        "aws:wafv2/webAcl:WebAcl": f"{regional}:regional/webacl/{physical}/{identity}",
        "aws:secretsmanager/secret:Secret": f"{regional}:secret:{physical}-AbCdEf",
        "aws:sqs/queue:Queue": f"{regional}:{physical}",
        # S3 bucket ARNs carry neither region nor account.
        "aws:s3/bucket:Bucket": f"arn:aws:s3:::{physical}",
    }
    kind = rtype.rsplit(":", 1)[-1]
    return formats.get(rtype, f"{regional}:{kind.lower()}/{physical}")


class InfraMocks(pulumi.runtime.Mocks):
    """Deterministic fake provider answers: enough state for every output the program reads.

    With ``preview=True`` the answers follow the engine's rule for a preview of new resources:
    the provider returns the inputs only, so ids, ARNs, endpoints and the image digest stay
    unknown (``pulumi preview`` prints them as ``output<string>``) and nothing is created.
    """

    def __init__(self, region: str, *, preview: bool = False) -> None:
        self.region = region
        self.preview = preview

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        name, typ, inputs = args.name, args.typ, dict(args.inputs)
        if self.preview:
            return "", inputs
        identity = mock_identity(typ, name, inputs)
        physical = physical_name(name, inputs, identity, typ)
        rid = resource_id(typ, name, identity, physical, self.region)
        state: dict[str, Any] = {
            **inputs,
            "name": physical,
            "arn": mock_arn(typ, physical, rid, identity, inputs, self.region),
            "tagsAll": inputs.get("tags") or {},
        }
        extra: dict[str, Callable[[], dict[str, Any]]] = {
            "aws:ecr/repository:Repository": lambda: {
                "repositoryUrl": f"{ACCOUNT}.dkr.ecr.{self.region}.amazonaws.com/{physical}",
                "registryId": ACCOUNT,
            },
            "docker-build:index:Image": lambda: {
                "digest": _digest(json.dumps(inputs.get("tags", []), sort_keys=True)),
                "ref": f"{(inputs.get('tags') or ['image'])[0]}@{_digest(name)}",
            },
            "aws:rds/instance:Instance": lambda: self._rds_instance(inputs, identity),
            # The endpoint follows the (explicit) replication group id, as on AWS: a replaced
            # group with the same id answers at the same address.
            "aws:elasticache/replicationGroup:ReplicationGroup": lambda: {
                "primaryEndpointAddress": f"master.{inputs.get('replicationGroupId', name)}"
                ".abcdef.use1.cache.amazonaws.com",
                "memberClusters": [
                    f"{inputs.get('replicationGroupId', name)}-{i:03d}"
                    for i in range(1, int(inputs.get("numCacheClusters", 1)) + 1)
                ],
            },
            "aws:lb/loadBalancer:LoadBalancer": lambda: {
                "dnsName": f"{physical}-1234567890.{self.region}.elb.amazonaws.com",
                "arnSuffix": f"app/{physical}/{LB_ID}",
                "zoneId": "Z35SXDOTRQ7X7K",
            },
            "aws:lb/targetGroup:TargetGroup": lambda: {
                "arnSuffix": f"targetgroup/{physical}/{LB_ID}",
            },
            # Replacing a task definition registers a new revision of the same family.
            "aws:ecs/taskDefinition:TaskDefinition": lambda: {
                "arn": f"arn:aws:ecs:{self.region}:{ACCOUNT}:task-definition/"
                f"{inputs.get('family', name)}:{revision(identity)}",
                "revision": revision(identity),
            },
            "aws:ec2/vpc:Vpc": lambda: {"cidrBlock": inputs.get("cidrBlock")},
            "aws:s3/bucket:Bucket": lambda: {
                "bucket": physical,
                "bucketDomainName": f"{physical}.s3.amazonaws.com",
                "bucketRegionalDomainName": f"{physical}.s3.{self.region}.amazonaws.com",
                "region": self.region,
            },
            "aws:sqs/queue:Queue": lambda: {"url": rid},
        }
        if typ in extra:
            state.update(extra[typ]())
        if typ == "random:index/randomId:RandomId":
            # A regenerated id (any input changed) is a new value, as with the provider.
            length = int(inputs.get("byteLength", 4))
            state["hex"] = hashlib.sha256(f"{name}{identity}".encode()).hexdigest()[: 2 * length]
        if typ == "random:index/randomPassword:RandomPassword":
            # Secrets in mock state must be wrapped the way the engine would return them; a
            # replaced password is a new value.
            state["result"] = rpc.wrap_rpc_secret(
                f"mock{name.replace('-', '')}{identity}" + "x" * 32
            )
        return rid, state

    def _rds_instance(self, inputs: dict[str, Any], identity: str) -> dict[str, Any]:
        # identifier_prefix: RDS gets a generated identifier, so a replacement has a new address
        # and a new RDS-managed secret (the secret belongs to the instance).
        identifier = inputs.get("identifier") or f"{inputs.get('identifierPrefix', '')}{identity}"
        address = f"{identifier}.abcdefghijkl.{self.region}.rds.amazonaws.com"
        return {
            "address": address,
            "endpoint": f"{address}:5432",
            "identifier": identifier,
            "masterUserSecrets": [
                {
                    "secretArn": f"arn:aws:secretsmanager:{self.region}:{ACCOUNT}:secret:"
                    f"rds!db-{identity}-AbCdEf",
                    "secretStatus": "active",
                }
            ],
        }

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list]:
        answers = {
            "aws:ecr/getAuthorizationToken:getAuthorizationToken": lambda: {
                "authorizationToken": "bW9jazptb2Nr",
                "userName": "AWS",
                "password": "mock-ecr-password",
                "proxyEndpoint": f"https://{ACCOUNT}.dkr.ecr.{self.region}.amazonaws.com",
                "expiresAt": "2099-01-01T00:00:00Z",
                "id": self.region,
            },
            # STS answers whoever calls: a role session of the mock account.
            "aws:index/getCallerIdentity:getCallerIdentity": lambda: {
                "accountId": ACCOUNT,
                "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/deploy/session",
                "userId": "AROAEXAMPLEROLEID:session",
                "id": ACCOUNT,
            },
        }
        if args.token == "aws:ecr/getImage:getImage":  # noqa: S105 (a function token)
            return self._ecr_image(dict(args.args))
        if args.token == "aws:elb/getServiceAccount:getServiceAccount":  # noqa: S105
            return self._elb_service_account(dict(args.args))
        answer = answers.get(args.token)
        return (answer() if answer else {}), []

    def _elb_service_account(self, query: dict[str, Any]) -> tuple[dict, list]:
        """The provider's table of Elastic Load Balancing accounts (regions before August 2022);
        for a newer region it fails, as the provider does."""
        region = query.get("region") or self.region
        account = ELB_ACCOUNTS.get(region)
        if account is None:
            return {}, [("region", f"unsupported AWS Region: {region}")]
        arn = f"arn:aws:iam::{account}:root"
        return {"arn": arn, "id": account, "region": region}, []

    def _ecr_image(self, query: dict[str, Any]) -> tuple[dict, list]:
        """ECR's DescribeImages for one digest: the mock registry holds every well-formed digest
        except :data:`MISSING_DIGEST`, which models an image the lifecycle policy expired."""
        digest = query.get("imageDigest", "")
        if digest == MISSING_DIGEST:
            reason = (
                f"ImageNotFoundException: the image with digest {digest} does not exist within "
                f"the repository {query.get('repositoryName')}"
            )
            return {}, [("imageDigest", reason)]
        return {
            "id": digest,
            "imageDigest": digest,
            "imageTags": [],
            "registryId": query.get("registryId", ACCOUNT),
            "repositoryName": query.get("repositoryName"),
        }, []


class RecordingMonitor(MockMonitor):
    """A mock monitor that also keeps what ``MockResourceArgs`` leaves out: parent and protect."""

    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.recorded: list[Recorded] = []

    def RegisterResource(self, request):  # gRPC method name
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            inputs = rpc.deserialize_properties(request.object)
            self.recorded.append(
                Recorded(
                    urn=response.urn,
                    type=request.type,
                    name=request.name,
                    parent_urn=request.parent,
                    protect=bool(request.protect),
                    custom=bool(request.custom),
                    provider=request.provider,
                    inputs=inputs,
                    ignore_changes=list(request.ignoreChanges),
                    custom_timeouts={
                        op: getattr(request.customTimeouts, op)
                        for op in ("create", "update", "delete")
                        if getattr(request.customTimeouts, op)
                    },
                    dependencies=list(request.dependencies),
                    delete_before_replace=bool(request.deleteBeforeReplace),
                )
            )
        return response


def config_map(values: Mapping[str, Any]) -> dict[str, str]:
    """Pulumi config values as the engine passes them to a program: strings, objects as JSON."""
    out: dict[str, str] = {}
    for key, value in values.items():
        if isinstance(value, str):
            out[key] = value
        elif isinstance(value, bool):
            out[key] = "true" if value else "false"
        else:
            out[key] = json.dumps(value)
    return out


def run_program(
    stack: str,
    config: Mapping[str, Any],
    program: Callable[[], Mapping[str, Any] | None] | None = None,
    *,
    project: str = PROJECT,
    preview: bool = False,
) -> Run:
    """Run ``program`` (default: ``infra.program.main``) for ``stack`` with ``config``.

    ``config`` maps full keys (``service:taskCpu``, ``aws:region``) to values. Each call runs in a
    fresh ``contextvars`` context, so several stacks can be run in one process.

    ``preview=True`` runs the program as ``pulumi preview`` of a new stack would (the engine's dry
    run: ``pulumi.runtime.is_dry_run()`` is true and new resources' outputs are unknown). The
    default program is the real entry point in offline mode (placeholder values allowed).
    """
    return contextvars.Context().run(_run, stack, config, program, project, preview)


def _offline_main() -> Mapping[str, Any]:
    from infra.program import main

    return main(offline=True)


def _run(stack, config, program, project, preview) -> Run:
    if program is None:
        program = _offline_main

    # A private event loop, closed afterwards together with the executor threads the mock
    # monitor used, so nothing is left for interpreter shutdown to finalise.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    region = str(config.get("aws:region", "us-east-1"))
    monitor = RecordingMonitor(InfraMocks(region, preview=preview))
    pulumi.runtime.set_mocks(
        monitor.mocks, project=project, stack=stack, preview=preview, monitor=monitor
    )
    pulumi.runtime.set_all_config(config_map(config))
    # The SDK keeps its outstanding-task bookkeeping in process-wide defaults that set_mocks does
    # not reset: give each run its own, so a run that failed half-way cannot leak into the next.
    SETTINGS.outputs = set()
    SETTINGS.rpc_manager = RPCManager()
    outputs: dict[str, Any] = {}

    def body():
        exported = program() or {}
        return pulumi.Output.all(**exported).apply(outputs.update).future()

    try:
        _sync_await(run_pulumi_func(lambda: _sync_await(body())))
    finally:
        # A program that failed half-way (a config error, a failed invoke) leaves tasks pending.
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()
        asyncio.set_event_loop(None)

    by_urn = {r.urn: r for r in monitor.recorded}
    for rec in monitor.recorded:
        parent = by_urn.get(rec.parent_urn)
        rec.parent = parent.name if parent is not None else None
    return Run(resources=monitor.recorded, outputs=outputs)
