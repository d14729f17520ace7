"""The action lists the documents grant or deny, as data (the statements say where)."""

# Write actions that AWS only authorises on "*" (the service defines no resource type for them,
# per the Service Authorization Reference), and why this project needs each.
WILDCARD_WRITE_EXCEPTIONS: dict[str, str] = {
    "ecs:DeregisterTaskDefinition": "no resource type; task definition revisions are kept "
    "(skip_destroy) but a replaced family is deregistered",
    "elasticloadbalancing:SetWebAcl": "no resource type; WAFv2 association with the ALB "
    "(prod's wafEnabled) calls it on the caller's behalf",
    "sns:SetSubscriptionAttributes": "no resource type; the alarm e-mail subscription's attributes",
    "sns:Unsubscribe": "no resource type; removing the alarm e-mail subscription",
    "logs:CreateLogDelivery": "no resource type; WAF logging to CloudWatch Logs creates the "
    "delivery as the caller (AWS WAF developer guide, logging permissions)",
    "logs:DeleteLogDelivery": "no resource type; removing the WAF log delivery",
    "logs:PutResourcePolicy": "no resource type; the stack's own CloudWatch Logs resource "
    "policy admitting WAF log delivery to its aws-waf-logs- group",
    "logs:DeleteResourcePolicy": "no resource type; deleting that resource policy",
    "ssmmessages:CreateControlChannel": "no resource type; ECS Exec channels (boundary only)",
    "ssmmessages:CreateDataChannel": "no resource type; ECS Exec channels (boundary only)",
    "ssmmessages:OpenControlChannel": "no resource type; ECS Exec channels (boundary only)",
    "ssmmessages:OpenDataChannel": "no resource type; ECS Exec channels (boundary only)",
}


# Read-only actions for `pulumi preview --refresh` of the main program: every resource type it
# manages. Reads may use "*": most Describe/List calls have no resource type, and the values
# that matter (state, secrets, images, key material) are scoped by statements of their own.
READ_ACTIONS = (
    "ec2:Describe*",
    "ecr:DescribeRepositories",
    "ecr:GetLifecyclePolicy",
    "ecr:GetRepositoryPolicy",
    "ecr:ListTagsForResource",
    "ecr:GetAuthorizationToken",
    "ecs:Describe*",
    "ecs:List*",
    "elasticloadbalancing:Describe*",
    "rds:Describe*",
    "rds:ListTagsForResource",
    "elasticache:Describe*",
    "elasticache:ListTagsForResource",
    "secretsmanager:DescribeSecret",
    "secretsmanager:GetResourcePolicy",
    "secretsmanager:ListSecrets",
    "logs:DescribeLogGroups",
    "logs:ListTagsForResource",
    "logs:ListTagsLogGroup",
    "cloudwatch:DescribeAlarms",
    "cloudwatch:GetDashboard",
    "cloudwatch:ListTagsForResource",
    "sns:GetTopicAttributes",
    "sns:GetSubscriptionAttributes",
    "sns:ListSubscriptionsByTopic",
    "sns:ListTagsForResource",
    "application-autoscaling:DescribeScalableTargets",
    "application-autoscaling:DescribeScalingPolicies",
    "application-autoscaling:ListTagsForResource",
    "scheduler:GetSchedule",
    "scheduler:ListTagsForResource",
    "wafv2:GetWebACL",
    "wafv2:GetWebACLForResource",
    "wafv2:ListTagsForResource",
    "wafv2:GetLoggingConfiguration",
    "logs:DescribeResourcePolicies",
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
    "sqs:ListQueueTags",
    "iam:GetRole",
    "iam:GetRolePolicy",
    "iam:ListRolePolicies",
    "iam:ListAttachedRolePolicies",
    "iam:GetPolicy",
    "iam:GetPolicyVersion",
    "kms:DescribeKey",
)
# Image reads (pull and inspect), granted per repository.
IMAGE_READ_ACTIONS = (
    "ecr:BatchCheckLayerAvailability",
    "ecr:BatchGetImage",
    "ecr:DescribeImages",
    "ecr:GetDownloadUrlForLayer",
    "ecr:ListImages",
)
IMAGE_PUSH_ACTIONS = (
    "ecr:CompleteLayerUpload",
    "ecr:InitiateLayerUpload",
    "ecr:PutImage",
    "ecr:UploadLayerPart",
)
# The AWS managed policies the program attaches: the ECS agent's and, for blue/green and canary
# deployments, ECS's load-balancer infrastructure role's (infra/components/service.py), and RDS
# Enhanced Monitoring's (infra/components/database.py).
ATTACHABLE_POLICIES = (
    "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy",
    "arn:aws:iam::aws:policy/AmazonECSInfrastructureRolePolicyForLoadBalancers",
    "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole",
)
# Services the program's roles are passed to: ECS tasks (task and execution roles), ECS itself
# (the infrastructure role of a blue/green or canary service), EventBridge Scheduler (the worker
# schedule's role) and RDS Enhanced Monitoring (the monitoring role).
PASSED_TO_SERVICES = (
    "ecs-tasks.amazonaws.com",
    "ecs.amazonaws.com",
    "scheduler.amazonaws.com",
    "monitoring.rds.amazonaws.com",
)
# Service-linked roles a first deploy in a fresh account creates.
SERVICE_LINKED_ROLES = (
    "ecs.amazonaws.com",
    "ecs.application-autoscaling.amazonaws.com",
    "elasticache.amazonaws.com",
    "elasticloadbalancing.amazonaws.com",
    "rds.amazonaws.com",
)


# The deploy roles' writes, one list per statement of deploy_policy (which scopes each to its
# resources: roles.py).
NETWORK_WRITE_ACTIONS = (
    "ec2:AllocateAddress",
    "ec2:AssociateRouteTable",
    "ec2:AttachInternetGateway",
    "ec2:AuthorizeSecurityGroupEgress",
    "ec2:AuthorizeSecurityGroupIngress",
    "ec2:CreateInternetGateway",
    "ec2:CreateNatGateway",
    "ec2:CreateRoute",
    "ec2:CreateRouteTable",
    "ec2:CreateSecurityGroup",
    "ec2:CreateSubnet",
    "ec2:CreateTags",
    "ec2:CreateVpc",
    "ec2:CreateVpcEndpoint",
    "ec2:DeleteInternetGateway",
    "ec2:DeleteNatGateway",
    "ec2:DeleteRoute",
    "ec2:DeleteRouteTable",
    "ec2:DeleteSecurityGroup",
    "ec2:DeleteSubnet",
    "ec2:DeleteTags",
    "ec2:DeleteVpc",
    "ec2:DeleteVpcEndpoints",
    "ec2:DetachInternetGateway",
    "ec2:DisassociateAddress",
    "ec2:DisassociateRouteTable",
    "ec2:ModifySecurityGroupRules",
    "ec2:ModifySubnetAttribute",
    "ec2:ModifyVpcAttribute",
    "ec2:ModifyVpcEndpoint",
    "ec2:ReleaseAddress",
    "ec2:ReplaceRoute",
    "ec2:RevokeSecurityGroupEgress",
    "ec2:RevokeSecurityGroupIngress",
    "ec2:UpdateSecurityGroupRuleDescriptionsEgress",
    "ec2:UpdateSecurityGroupRuleDescriptionsIngress",
)

REGISTRY_WRITE_ACTIONS = (
    "ecr:CreateRepository",
    "ecr:DeleteLifecyclePolicy",
    "ecr:DeleteRepository",
    "ecr:PutImageScanningConfiguration",
    "ecr:PutImageTagMutability",
    "ecr:PutLifecyclePolicy",
    "ecr:TagResource",
    "ecr:UntagResource",
    *IMAGE_PUSH_ACTIONS,
)

CONTAINER_WRITE_ACTIONS = (
    "ecs:CreateCluster",
    "ecs:CreateService",
    "ecs:DeleteCluster",
    "ecs:DeleteService",
    "ecs:PutClusterCapacityProviders",
    "ecs:RegisterTaskDefinition",
    "ecs:TagResource",
    "ecs:UntagResource",
    "ecs:UpdateCluster",
    "ecs:UpdateClusterSettings",
    "ecs:UpdateService",
)

LOAD_BALANCER_WRITE_ACTIONS = (
    "elasticloadbalancing:AddTags",
    "elasticloadbalancing:CreateListener",
    "elasticloadbalancing:CreateLoadBalancer",
    "elasticloadbalancing:CreateRule",
    "elasticloadbalancing:CreateTargetGroup",
    "elasticloadbalancing:DeleteListener",
    "elasticloadbalancing:DeleteLoadBalancer",
    "elasticloadbalancing:DeleteRule",
    "elasticloadbalancing:DeleteTargetGroup",
    "elasticloadbalancing:ModifyListener",
    "elasticloadbalancing:ModifyLoadBalancerAttributes",
    "elasticloadbalancing:ModifyRule",
    "elasticloadbalancing:ModifyTargetGroup",
    "elasticloadbalancing:ModifyTargetGroupAttributes",
    "elasticloadbalancing:RemoveTags",
    "elasticloadbalancing:SetSecurityGroups",
    "elasticloadbalancing:SetSubnets",
)

DATABASE_WRITE_ACTIONS = (
    "rds:AddTagsToResource",
    "rds:CreateDBInstance",
    "rds:CreateDBParameterGroup",
    "rds:CreateDBSnapshot",
    "rds:CreateDBSubnetGroup",
    "rds:DeleteDBInstance",
    "rds:DeleteDBParameterGroup",
    "rds:DeleteDBSubnetGroup",
    "rds:ModifyDBInstance",
    "rds:ModifyDBParameterGroup",
    "rds:ModifyDBSubnetGroup",
    "rds:RebootDBInstance",
    "rds:RemoveTagsFromResource",
)

DATABASE_SECRET_WRITE_ACTIONS = (
    "secretsmanager:CreateSecret",
    "secretsmanager:DeleteSecret",
    "secretsmanager:RotateSecret",
    "secretsmanager:TagResource",
)

CACHE_WRITE_ACTIONS = (
    "elasticache:AddTagsToResource",
    "elasticache:CreateCacheCluster",
    "elasticache:CreateCacheSubnetGroup",
    "elasticache:CreateReplicationGroup",
    "elasticache:DeleteCacheSubnetGroup",
    "elasticache:DeleteReplicationGroup",
    "elasticache:ModifyCacheSubnetGroup",
    "elasticache:ModifyReplicationGroup",
    "elasticache:RemoveTagsFromResource",
)

APP_SECRET_ACTIONS = (
    "secretsmanager:CreateSecret",
    "secretsmanager:DeleteSecret",
    "secretsmanager:GetSecretValue",
    "secretsmanager:PutSecretValue",
    "secretsmanager:TagResource",
    "secretsmanager:UntagResource",
    "secretsmanager:UpdateSecret",
)

LOG_GROUP_WRITE_ACTIONS = (
    "logs:CreateLogGroup",
    "logs:DeleteLogGroup",
    "logs:DeleteRetentionPolicy",
    "logs:PutRetentionPolicy",
    "logs:TagLogGroup",
    "logs:TagResource",
    "logs:UntagLogGroup",
    "logs:UntagResource",
)

ALARM_WRITE_ACTIONS = (
    "cloudwatch:DeleteAlarms",
    "cloudwatch:PutMetricAlarm",
    "cloudwatch:TagResource",
    "cloudwatch:UntagResource",
)

# The stack's dashboard (named <prefix>; dashboards carry no tags).
DASHBOARD_WRITE_ACTIONS = ("cloudwatch:DeleteDashboards", "cloudwatch:PutDashboard")

ALARM_TOPIC_WRITE_ACTIONS = (
    "sns:CreateTopic",
    "sns:DeleteTopic",
    "sns:SetTopicAttributes",
    "sns:Subscribe",
    "sns:TagResource",
    "sns:UntagResource",
)

AUTOSCALING_WRITE_ACTIONS = (
    "application-autoscaling:DeleteScalingPolicy",
    "application-autoscaling:DeregisterScalableTarget",
    "application-autoscaling:PutScalingPolicy",
    "application-autoscaling:RegisterScalableTarget",
    "application-autoscaling:TagResource",
    "application-autoscaling:UntagResource",
)

WAF_WRITE_ACTIONS = (
    "wafv2:AssociateWebACL",
    "wafv2:CreateWebACL",
    "wafv2:DeleteWebACL",
    "wafv2:DeleteLoggingConfiguration",
    "wafv2:DisassociateWebACL",
    "wafv2:PutLoggingConfiguration",
    "wafv2:TagResource",
    "wafv2:UntagResource",
    "wafv2:UpdateWebACL",
)

NO_RESOURCE_TYPE_WRITE_ACTIONS = (
    "ecs:DeregisterTaskDefinition",
    "elasticloadbalancing:SetWebAcl",
    "logs:CreateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:DeleteResourcePolicy",
    "logs:PutResourcePolicy",
    "sns:SetSubscriptionAttributes",
    "sns:Unsubscribe",
)

# The ALB's access-log bucket (<prefix>-alb-logs-<account>): its configuration, and the reads a
# refresh of it makes (HeadBucket is authorised as s3:ListBucket).
ACCESS_LOG_BUCKET_WRITE_ACTIONS = (
    "s3:CreateBucket",
    "s3:DeleteBucket",
    "s3:DeleteBucketPolicy",
    "s3:PutBucketOwnershipControls",
    "s3:PutBucketPolicy",
    "s3:PutBucketPublicAccessBlock",
    "s3:PutBucketTagging",
    "s3:PutEncryptionConfiguration",
    "s3:PutLifecycleConfiguration",
)
ACCESS_LOG_BUCKET_READ_ACTIONS = (
    "s3:GetAccelerateConfiguration",
    "s3:GetBucketAcl",
    "s3:GetBucketCORS",
    "s3:GetBucketLocation",
    "s3:GetBucketLogging",
    "s3:GetBucketObjectLockConfiguration",
    "s3:GetBucketOwnershipControls",
    "s3:GetBucketPolicy",
    "s3:GetBucketPublicAccessBlock",
    "s3:GetBucketRequestPayment",
    "s3:GetBucketTagging",
    "s3:GetBucketVersioning",
    "s3:GetBucketWebsite",
    "s3:GetEncryptionConfiguration",
    "s3:GetLifecycleConfiguration",
    "s3:GetReplicationConfiguration",
    "s3:ListBucket",
)
# force_destroy (the disposable stack only) empties the bucket before deleting it.
ACCESS_LOG_EMPTY_ACTIONS = ("s3:DeleteObject", "s3:DeleteObjectVersion", "s3:ListBucketVersions")

# The worker schedule's dead-letter queue (<prefix>-worker-dlq).
QUEUE_WRITE_ACTIONS = (
    "sqs:CreateQueue",
    "sqs:DeleteQueue",
    "sqs:SetQueueAttributes",
    "sqs:TagQueue",
    "sqs:UntagQueue",
)


# IAM on the stack's own roles (the create itself needs the boundary: a statement of its own).
STACK_ROLE_ACTIONS = (
    "iam:DeleteRole",
    "iam:DeleteRolePolicy",
    "iam:PutRolePolicy",
    "iam:TagRole",
    "iam:UntagRole",
    "iam:UpdateAssumeRolePolicy",
    "iam:UpdateRole",
    "iam:UpdateRoleDescription",
    "iam:ListInstanceProfilesForRole",
)


# ABAC guard of the deploy roles: never on a resource tagged for (or as) another stack.
GUARDED_WRITE_ACTIONS = (
    "application-autoscaling:*",
    "cloudwatch:DeleteAlarms",
    "cloudwatch:PutMetricAlarm",
    "ec2:Create*",
    "ec2:Delete*",
    "ec2:Modify*",
    "ec2:Authorize*",
    "ec2:Revoke*",
    "ec2:Replace*",
    "ec2:Associate*",
    "ec2:Disassociate*",
    "ec2:AttachInternetGateway",
    "ec2:DetachInternetGateway",
    "ec2:ReleaseAddress",
    "ecr:CompleteLayerUpload",
    "ecr:CreateRepository",
    "ecr:Delete*",
    "ecr:InitiateLayerUpload",
    "ecr:Put*",
    "ecr:TagResource",
    "ecr:UntagResource",
    "ecr:UploadLayerPart",
    "ecs:Create*",
    "ecs:Delete*",
    "ecs:Put*",
    "ecs:TagResource",
    "ecs:UntagResource",
    "ecs:Update*",
    "elasticache:*",
    "elasticloadbalancing:*",
    "logs:*",
    "rds:*",
    "secretsmanager:*",
    "sns:*",
    "wafv2:*",
)


# The boundary denies these outside the project's stack paths.
IAM_WRITE_ACTIONS = (
    "iam:Add*",
    "iam:Attach*",
    "iam:Create*",
    "iam:Delete*",
    "iam:Detach*",
    "iam:PassRole",
    "iam:Put*",
    "iam:Remove*",
    "iam:Set*",
    "iam:Tag*",
    "iam:Untag*",
    "iam:Update*",
    "iam:Upload*",
)


# What RDS does with the Enhanced Monitoring role (AmazonRDSEnhancedMonitoringRole's actions): the
# account's RDSOSMetrics log group, which RDS creates with 30 days of retention.
RDS_MONITORING_LOG_GROUP = "RDSOSMetrics"
RDS_MONITORING_LOG_ACTIONS = (
    "logs:CreateLogGroup",
    "logs:CreateLogStream",
    "logs:DescribeLogStreams",
    "logs:GetLogEvents",
    "logs:PutLogEvents",
    "logs:PutRetentionPolicy",
)


# AmazonECSInfrastructureRolePolicyForLoadBalancers, as far as a blue/green or canary deployment
# behind an ALB uses it: ECS registers the new tasks in the idle target group and moves the
# production listener rule's weights. Reads first (no resource type), then the writes.
LOAD_BALANCER_SHIFT_READ_ACTIONS = (
    "elasticloadbalancing:DescribeListeners",
    "elasticloadbalancing:DescribeRules",
    "elasticloadbalancing:DescribeTargetGroups",
    "elasticloadbalancing:DescribeTargetHealth",
)
LOAD_BALANCER_SHIFT_WRITE_ACTIONS = (
    "elasticloadbalancing:DeregisterTargets",
    "elasticloadbalancing:ModifyListener",
    "elasticloadbalancing:ModifyRule",
    "elasticloadbalancing:RegisterTargets",
)


# ECS Exec from a workload's task (its SSM agent opens the channels).
ECS_EXEC_ACTIONS = (
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
)


KEY_ADMIN_ACTIONS = (
    "kms:CancelKeyDeletion",
    "kms:Create*",
    "kms:Delete*",
    "kms:Describe*",
    "kms:Disable*",
    "kms:Enable*",
    "kms:Get*",
    "kms:List*",
    "kms:Put*",
    "kms:Revoke*",
    "kms:RotateKeyOnDemand",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:Update*",
)
