"""One pricing rule per billable resource type (:data:`RULES`), grouped by service family,
and the types that cost nothing themselves (:data:`FREE`)."""

from __future__ import annotations

from collections.abc import Callable

from infra.tools.cost.context import (
    ECS_SERVICE,
    SCHEDULE,
    TASK_DEFINITION,
    VPC_ENDPOINT,
    Context,
    Item,
)
from infra.tools.cost.rules.containers import (
    rule_ecr_repository,
    rule_ecs_cluster,
    rule_ecs_service,
    rule_schedule,
)
from infra.tools.cost.rules.data import rule_rds_instance, rule_replication_group, rule_secret
from infra.tools.cost.rules.monitoring import rule_dashboard, rule_log_group, rule_metric_alarm
from infra.tools.cost.rules.network import (
    rule_eip,
    rule_load_balancer,
    rule_nat_gateway,
    rule_vpc_endpoint,
    rule_web_acl,
)
from infra.tools.cost.rules.storage import rule_s3_bucket, rule_sqs_queue

Rule = Callable[[Context, dict], list[Item]]

RULES: dict[str, Rule] = {
    ECS_SERVICE: rule_ecs_service,
    SCHEDULE: rule_schedule,
    "aws:ec2/natGateway:NatGateway": rule_nat_gateway,
    "aws:ec2/eip:Eip": rule_eip,
    "aws:lb/loadBalancer:LoadBalancer": rule_load_balancer,
    "aws:alb/loadBalancer:LoadBalancer": rule_load_balancer,
    "aws:rds/instance:Instance": rule_rds_instance,
    "aws:elasticache/replicationGroup:ReplicationGroup": rule_replication_group,
    "aws:secretsmanager/secret:Secret": rule_secret,
    "aws:cloudwatch/metricAlarm:MetricAlarm": rule_metric_alarm,
    "aws:cloudwatch/logGroup:LogGroup": rule_log_group,
    "aws:cloudwatch/dashboard:Dashboard": rule_dashboard,
    "aws:wafv2/webAcl:WebAcl": rule_web_acl,
    VPC_ENDPOINT: rule_vpc_endpoint,
    "aws:ecr/repository:Repository": rule_ecr_repository,
    "aws:ecs/cluster:Cluster": rule_ecs_cluster,
    "aws:s3/bucket:Bucket": rule_s3_bucket,
    "aws:sqs/queue:Queue": rule_sqs_queue,
}

# Types that cost nothing by themselves, and why (what they cause is priced elsewhere).
FREE: dict[str, str] = {
    "aws:ec2/vpc:Vpc": "no charge",
    "aws:ec2/subnet:Subnet": "no charge",
    "aws:ec2/routeTable:RouteTable": "no charge",
    "aws:ec2/route:Route": "no charge",
    "aws:ec2/routeTableAssociation:RouteTableAssociation": "no charge",
    "aws:ec2/internetGateway:InternetGateway": "no charge (data transfer priced on the ALB)",
    "aws:ec2/securityGroup:SecurityGroup": "no charge",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": "no charge",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": "no charge",
    "aws:ec2/securityGroupRule:SecurityGroupRule": "no charge",
    "aws:iam/role:Role": "no charge",
    "aws:iam/rolePolicy:RolePolicy": "no charge",
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": "no charge",
    TASK_DEFINITION: "no charge (the service and schedules that run it are priced)",
    "aws:appautoscaling/target:Target": "no charge",
    "aws:appautoscaling/policy:Policy": "no charge (its alarms are managed by AWS, free)",
    "aws:lb/listener:Listener": "no charge (the ALB is priced)",
    "aws:alb/listener:Listener": "no charge (the ALB is priced)",
    "aws:lb/listenerRule:ListenerRule": "no charge (the ALB is priced; rules beyond the "
    "listener's first 100 cost LCUs, this program has one)",
    "aws:lb/targetGroup:TargetGroup": "no charge (the ALB is priced)",
    "aws:alb/targetGroup:TargetGroup": "no charge (the ALB is priced)",
    "aws:wafv2/webAclAssociation:WebAclAssociation": "no charge (the web ACL is priced)",
    "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration": "no charge (its log "
    "group is priced)",
    "aws:cloudwatch/logResourcePolicy:LogResourcePolicy": "no charge",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (
        "SSE-S3 costs nothing"
    ),
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": "no charge for "
    "expiration actions",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": "no charge",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": "no charge",
    "aws:s3/bucketPolicy:BucketPolicy": "no charge",
    "aws:rds/subnetGroup:SubnetGroup": "no charge",
    "aws:rds/parameterGroup:ParameterGroup": "no charge",
    "aws:elasticache/subnetGroup:SubnetGroup": "no charge",
    "aws:elasticache/parameterGroup:ParameterGroup": "no charge",
    "aws:secretsmanager/secretVersion:SecretVersion": "no charge (the secret is priced)",
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": "no charge",
    "aws:sns/topic:Topic": "no charge for a topic; the first million publishes a month are free",
    "aws:sns/topicSubscription:TopicSubscription": "the first 1,000 email notifications a month "
    "are free",
    "aws:acm/certificate:Certificate": "public certificates are free",
    "docker-build:index:Image": "built where `pulumi up` runs; storage priced on the repository",
    "random:index/randomPassword:RandomPassword": "local value, no cloud resource",
    "random:index/randomString:RandomString": "local value, no cloud resource",
    "random:index/randomId:RandomId": "local value, no cloud resource",
}


def is_free(rtype: str) -> bool:
    return rtype in FREE or rtype.startswith("pulumi:providers:")
