"""Which input changes replace a resource, and the identity a replacement gives it.

One table, two readers:

* ``infra.plandiff`` marks a change ``replace`` when it touches one of these inputs;
* ``infra.tools.mocks`` derives every fake id, ARN and generated name from the logical name plus
  :func:`identity_hash` of the same inputs, so a replaced resource hands its dependents a new id
  and the replacement cascades through the offline plan the way the engine would cascade it.

The table lists the inputs the Terraform AWS provider marks ``ForceNew`` (pulumi-aws inherits them
as replace-on-change) for the resource types this project uses. Checked 2026-11-30 against the
provider source (hashicorp/terraform-provider-aws, ``internal/service/<svc>/<resource>.go``,
schema + ``CustomizeDiff``) where marked "source"; the other rows are from the provider
documentation ("Forces new resource") and were not re-read that day. Conditional replacements
(a ``CustomizeDiff`` that forces new only for some old/new pairs) are listed when the condition
can hold for this program and said so; otherwise left out with a note.

Resource types absent from the table have no replace-on-change input that this program sets:
their identity never changes (e.g. an internet gateway: ``vpc_id`` updates in place).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

ALL_INPUTS = "*"
_EXCEPT = "!"  # "!key" in an ALL_INPUTS entry: that one input updates in place


def all_inputs_except(*keys: str) -> frozenset[str]:
    """Every input replaces except ``keys`` (the provider has no update for anything else)."""
    return frozenset({ALL_INPUTS, *(_EXCEPT + k for k in keys)})


# Inputs whose change forces a replacement (delete + create), per resource type.
REPLACE_ON_CHANGE: dict[str, frozenset[str]] = {
    # ---- network --------------------------------------------------------------------------
    # source: ec2/vpc_.go. cidr_block: ForceNew in CustomizeDiff; instance_tenancy: ForceNew
    # unless dedicated -> default (listed: the conservative reading).
    "aws:ec2/vpc:Vpc": frozenset({"cidrBlock", "instanceTenancy", "ipv4IpamPoolId"}),
    # source: ec2/vpc_subnet.go
    "aws:ec2/subnet:Subnet": frozenset(
        {"cidrBlock", "availabilityZone", "availabilityZoneId", "vpcId", "outpostArn"}
    ),
    # docs: name, name_prefix, description, vpc_id force a new group
    "aws:ec2/securityGroup:SecurityGroup": frozenset(
        {"name", "namePrefix", "vpcId", "description"}
    ),
    # docs (legacy inline-style rule resource, kept for completeness)
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
    # source: ec2/vpc_security_group_ingress_rule.go: security_group_id RequiresReplace; ports,
    # protocol, CIDR and referenced group update through ModifySecurityGroupRules (ModifyPlan
    # replaces only when the *kind* of source changes, e.g. CIDR -> referenced group).
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": frozenset({"securityGroupId"}),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": frozenset({"securityGroupId"}),
    # docs: domain forces a new address (provider 7 removed the deprecated vpc argument)
    "aws:ec2/eip:Eip": frozenset({"domain"}),
    # docs: allocation_id, subnet_id, connectivity_type, private_ip force a new gateway
    "aws:ec2/natGateway:NatGateway": frozenset(
        {"subnetId", "allocationId", "connectivityType", "privateIp"}
    ),
    # docs: vpc_id forces a new table
    "aws:ec2/routeTable:RouteTable": frozenset({"vpcId"}),
    # docs: route_table_id and the destination force a new route; targets (gateway_id,
    # nat_gateway_id, ...) update in place (ReplaceRoute)
    "aws:ec2/route:Route": frozenset(
        {
            "routeTableId",
            "destinationCidrBlock",
            "destinationIpv6CidrBlock",
            "destinationPrefixListId",
        }
    ),
    # docs: subnet_id / gateway_id force new; route_table_id updates (ReplaceRouteTableAssociation)
    "aws:ec2/routeTableAssociation:RouteTableAssociation": frozenset({"subnetId", "gatewayId"}),
    # docs: vpc_id, service_name, vpc_endpoint_type force a new endpoint
    "aws:ec2/vpcEndpoint:VpcEndpoint": frozenset({"vpcId", "serviceName", "vpcEndpointType"}),
    # ---- data -----------------------------------------------------------------------------
    # source: rds/instance.go. db_subnet_group_name, vpc_security_group_ids, port,
    # parameter_group_name and instance_class are NOT ForceNew (ModifyDBInstance).
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
            "ncharCharacterSetName",
            "timezone",
            "snapshotIdentifier",
            "restoreToPointInTime",
            "customIamInstanceProfile",
        }
    ),
    # source: rds/subnet_group.go: name, name_prefix; subnet_ids and description update in place
    "aws:rds/subnetGroup:SubnetGroup": frozenset({"name", "namePrefix"}),
    # docs: name, name_prefix, family, description force a new group
    "aws:rds/parameterGroup:ParameterGroup": frozenset(
        {"name", "namePrefix", "family", "description"}
    ),
    # source: elasticache/replication_group.go. security_group_ids, node_type, engine_version,
    # num_cache_clusters update in place. Conditional (not listed): engine and engine_version
    # force new only on a downgrade (valkey -> redis, lower version); transit_encryption_enabled
    # only below Redis 7.0.5 (this project runs >= 7).
    "aws:elasticache/replicationGroup:ReplicationGroup": frozenset(
        {
            "replicationGroupId",
            "atRestEncryptionEnabled",
            "kmsKeyId",
            "subnetGroupName",
            "port",
            "networkType",
            "dataTieringEnabled",
            "globalReplicationGroupId",
            "securityGroupNames",
            "snapshotArns",
            "snapshotName",
        }
    ),
    # source: elasticache/subnet_group.go: name only; subnet_ids and description update
    "aws:elasticache/subnetGroup:SubnetGroup": frozenset({"name"}),
    # docs: name, family, description force a new group
    "aws:elasticache/parameterGroup:ParameterGroup": frozenset({"name", "family", "description"}),
    # docs: name, name_prefix force a new secret
    "aws:secretsmanager/secret:Secret": frozenset({"name", "namePrefix"}),
    # source: secretsmanager/secret_version.go: the value itself is ForceNew (PutSecretValue
    # creates a new version); only version_stages update. The plan shows secret values as
    # "[secret]", so a change of the value alone is invisible offline.
    "aws:secretsmanager/secretVersion:SecretVersion": frozenset(
        {"secretId", "secretString", "secretBinary", "secretStringWoVersion"}
    ),
    # ---- registry / compute ---------------------------------------------------------------
    # docs: name, encryption_configuration force a new repository
    "aws:ecr/repository:Repository": frozenset({"name", "encryptionConfigurations"}),
    # source: ecr/lifecycle_policy.go: no Update at all (repository and policy are ForceNew)
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": frozenset({ALL_INPUTS}),
    # docs: name forces a new cluster
    "aws:ecs/cluster:Cluster": frozenset({"name"}),
    # source: ecs/task_definition.go: every argument is ForceNew (a change registers a new
    # revision) except tags, skip_destroy and track_latest
    "aws:ecs/taskDefinition:TaskDefinition": all_inputs_except(
        "tags", "skipDestroy", "trackLatest"
    ),
    # source: ecs/service.go: cluster, name, launch_type, iam_role, scheduling_strategy and
    # deployment_controller.type are ForceNew; load_balancer, network_configuration and
    # task_definition update in place (UpdateService)
    "aws:ecs/service:Service": frozenset(
        {"name", "cluster", "launchType", "schedulingStrategy", "iamRole", "deploymentController"}
    ),
    # docs: resource_id, scalable_dimension, service_namespace force a new target
    "aws:appautoscaling/target:Target": frozenset(
        {"resourceId", "scalableDimension", "serviceNamespace"}
    ),
    "aws:appautoscaling/policy:Policy": frozenset(
        {"name", "resourceId", "scalableDimension", "serviceNamespace"}
    ),
    # docs: name, name_prefix, log_group_class force a new group; kms_key_id, retention update
    "aws:cloudwatch/logGroup:LogGroup": frozenset({"name", "namePrefix", "logGroupClass"}),
    # docs: alarm_name forces a new alarm
    "aws:cloudwatch/metricAlarm:MetricAlarm": frozenset({"name"}),
    # docs: dashboard_name forces a new dashboard; the body updates in place (PutDashboard)
    "aws:cloudwatch/dashboard:Dashboard": frozenset({"dashboardName"}),
    "aws:cloudwatch/eventRule:EventRule": frozenset({"name", "namePrefix", "eventBusName"}),
    "aws:cloudwatch/eventTarget:EventTarget": frozenset({"rule", "targetId", "eventBusName"}),
    # docs: name, name_prefix, group_name force a new schedule; the target updates in place
    "aws:scheduler/schedule:Schedule": frozenset({"name", "namePrefix", "groupName"}),
    # docs: name, name_prefix, path force a new role
    "aws:iam/role:Role": frozenset({"name", "namePrefix", "path"}),
    "aws:iam/rolePolicy:RolePolicy": frozenset({"name", "namePrefix", "role"}),
    # docs: no update: role and policy_arn are ForceNew
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": frozenset({ALL_INPUTS}),
    # docs: policy_name forces a new resource policy; the document updates in place
    "aws:cloudwatch/logResourcePolicy:LogResourcePolicy": frozenset({"policyName"}),
    # docs: name, name_prefix, fifo_queue force a new queue; attributes (retention, SSE) update
    "aws:sqs/queue:Queue": frozenset({"name", "namePrefix", "fifoQueue"}),
    # ---- S3 (the ALB's access-log bucket) ---------------------------------------------------
    # docs: bucket, bucket_prefix, object_lock_enabled force a new bucket
    "aws:s3/bucket:Bucket": frozenset({"bucket", "bucketPrefix", "objectLockEnabled"}),
    # docs: the bucket (and expected_bucket_owner) force a new configuration resource; the
    # configuration itself updates in place
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (
        frozenset({"bucket", "expectedBucketOwner"})
    ),
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": frozenset(
        {"bucket", "expectedBucketOwner"}
    ),
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": frozenset({"bucket"}),
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": frozenset({"bucket"}),
    "aws:s3/bucketPolicy:BucketPolicy": frozenset({"bucket"}),
    # docs: name, name_prefix, fifo_topic force a new topic
    "aws:sns/topic:Topic": frozenset({"name", "namePrefix", "fifoTopic"}),
    # docs: topic_arn, protocol, endpoint force a new subscription
    "aws:sns/topicSubscription:TopicSubscription": frozenset({"topic", "protocol", "endpoint"}),
    # ---- load balancing (aws:alb/* are the legacy aliases of aws:lb/*) -----------------------
    # source: elbv2/load_balancer.go: name, name_prefix, internal, load_balancer_type,
    # customer_owned_ipv4_pool. For an *application* LB, subnets and security_groups update in
    # place (SetSubnets / SetSecurityGroups; only NLBs force new on subnet removal).
    "aws:lb/loadBalancer:LoadBalancer": frozenset(
        {"name", "namePrefix", "internal", "loadBalancerType", "customerOwnedIpv4Pool"}
    ),
    "aws:alb/loadBalancer:LoadBalancer": frozenset(
        {"name", "namePrefix", "internal", "loadBalancerType", "customerOwnedIpv4Pool"}
    ),
    # source: elbv2/target_group.go: name, name_prefix, port, protocol, protocol_version,
    # target_type, vpc_id, ip_address_type; health check and attributes update in place
    "aws:lb/targetGroup:TargetGroup": frozenset(
        {
            "name",
            "namePrefix",
            "port",
            "protocol",
            "protocolVersion",
            "targetType",
            "vpcId",
            "ipAddressType",
        }
    ),
    "aws:alb/targetGroup:TargetGroup": frozenset(
        {
            "name",
            "namePrefix",
            "port",
            "protocol",
            "protocolVersion",
            "targetType",
            "vpcId",
            "ipAddressType",
        }
    ),
    # docs: load_balancer_arn forces a new listener; default actions, port, certificate update
    "aws:lb/listener:Listener": frozenset({"loadBalancerArn"}),
    "aws:alb/listener:Listener": frozenset({"loadBalancerArn"}),
    # docs: listener_arn forces a new rule; priority, actions and conditions update in place
    "aws:lb/listenerRule:ListenerRule": frozenset({"listenerArn"}),
    # docs: name, name_prefix, scope force a new web ACL; rules update in place
    "aws:wafv2/webAcl:WebAcl": frozenset({"name", "namePrefix", "scope"}),
    # docs: no update: resource_arn and web_acl_arn are ForceNew
    "aws:wafv2/webAclAssociation:WebAclAssociation": frozenset({"resourceArn", "webAclArn"}),
    # docs: resource_arn forces a new logging configuration; destinations, filter and redacted
    # fields update in place (PutLoggingConfiguration)
    "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration": frozenset({"resourceArn"}),
    "aws:acm/certificate:Certificate": frozenset(
        {"domainName", "subjectAlternativeNames", "validationMethod", "keyAlgorithm"}
    ),
    # ---- the random provider has no update: any input change regenerates the value ---------
    "random:index/randomPassword:RandomPassword": frozenset({ALL_INPUTS}),
    "random:index/randomString:RandomString": frozenset({ALL_INPUTS}),
    "random:index/randomId:RandomId": frozenset({ALL_INPUTS}),
}


# Types the program creates that have no replace-on-change input it sets, and why (a test checks
# that every type of the three stacks' plans is in one of the two tables).
UPDATED_IN_PLACE: dict[str, str] = {
    "aws:ec2/internetGateway:InternetGateway": "vpc_id updates in place (detach, attach)",
    "docker-build:index:Image": "a new build is an update of the same resource (a new digest)",
}


def forces_replacement(rtype: str, key: str) -> bool:
    """Does a change of top-level input ``key`` replace a resource of type ``rtype``?"""
    table = REPLACE_ON_CHANGE.get(rtype, frozenset())
    if ALL_INPUTS in table:
        return _EXCEPT + key not in table
    return key in table


def identity_inputs(rtype: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """The inputs whose values make up the resource's identity (see :func:`identity_hash`)."""
    return {k: v for k, v in inputs.items() if forces_replacement(rtype, k)}


HASH_CHARS = 8


def identity_hash(rtype: str, name: str, inputs: Mapping[str, Any]) -> str:
    """A short, stable hash of what a replacement would change: same value <=> same resource.

    ``inputs`` are the inputs as the offline plan prints them (secrets as ``"[secret]"``), so
    ``infra.plandiff`` recomputes the same value from a plan file and can tell which replaced
    resource a changed id, ARN or name belongs to.
    """
    payload = json.dumps(
        [rtype, name, identity_inputs(rtype, inputs)],
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:HASH_CHARS]


def revision(identity: str) -> int:
    """A task definition revision number derived from an identity hash (a new revision is what
    replacing a task definition produces; the number itself means nothing offline)."""
    return int(identity[:5], 16) % 100000 + 1
