"""The bootstrap's policy documents, as plain dicts (stdlib only, no Pulumi).

Pure functions of an :class:`AccountScope` (account, region, names) and the KMS key ARNs, so the
tests evaluate exactly what ``pulumi up`` would send, and ``python -m infra.bootstrap.plan``
prints them.

Who may do what (:data:`ROLE_VARIABLES` names the repository variable of each role):

* ``preview`` (AWS_PREVIEW_ROLE_ARN, pull requests): reads; dev's and staging's state objects;
  ``kms:Decrypt`` with the non-prod secrets key. Explicitly denied prod's state and key, image
  pushes and ``iam:PassRole``, so a broad policy attached later cannot undo the separation.
* ``deploy-staging`` / ``deploy-prod``: the services ``infra/`` manages, writes scoped to the
  stack where the service allows it, IAM only for roles under the stack's path
  (``/<project>-<stack>/``) and only with the permissions boundary; prod may also push to its
  repositories and pull staging's (promotion copies the digest).
* ``preview-prod``: reads; prod's state objects; ``kms:Decrypt`` with the prod key; image reads
  on staging's and prod's repositories. No write at all (a diy-backend preview takes no lock).

Statements that allow a write action on ``"Resource": "*"`` are only those in
:data:`WILDCARD_WRITE_EXCEPTIONS`, each with the reason (the test checks nothing else does).
"""

from __future__ import annotations

from dataclasses import dataclass

VERSION = "2012-10-17"
GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
GITHUB_OIDC_URL = f"https://{GITHUB_OIDC_HOST}"
STS_AUDIENCE = "sts.amazonaws.com"
STACK_TAG = "stack"  # the main program's provider default tag (infra/config.py default_tags)

ROLE_KINDS = ("preview", "deploy-staging", "preview-prod", "deploy-prod")
# The repository variable each role's ARN goes into (README, the workflows).
ROLE_VARIABLES = {
    "preview": "AWS_PREVIEW_ROLE_ARN",
    "deploy-staging": "AWS_DEPLOY_STAGING_ROLE_ARN",
    "preview-prod": "AWS_PREVIEW_PROD_ROLE_ARN",
    "deploy-prod": "AWS_DEPLOY_PROD_ROLE_ARN",
}

# Write actions that AWS only authorises on "*" (the service defines no resource type for them,
# per the Service Authorization Reference), and why this project needs each.
WILDCARD_WRITE_EXCEPTIONS: dict[str, str] = {
    "ecs:DeregisterTaskDefinition": "no resource type; task definition revisions are kept "
    "(skip_destroy) but a replaced family is deregistered",
    "elasticloadbalancing:SetWebAcl": "no resource type; WAFv2 association with the ALB "
    "(prod's wafEnabled) calls it on the caller's behalf",
    "sns:SetSubscriptionAttributes": "no resource type; the alarm e-mail subscription's attributes",
    "sns:Unsubscribe": "no resource type; removing the alarm e-mail subscription",
    "ssmmessages:CreateControlChannel": "no resource type; ECS Exec channels (boundary only)",
    "ssmmessages:CreateDataChannel": "no resource type; ECS Exec channels (boundary only)",
    "ssmmessages:OpenControlChannel": "no resource type; ECS Exec channels (boundary only)",
    "ssmmessages:OpenDataChannel": "no resource type; ECS Exec channels (boundary only)",
}

# Read-only actions for `pulumi preview --refresh` of the main program: every resource type it
# manages. Reads may use "*": most Describe/List calls have no resource type, and the values
# that matter (state, secrets, images, key material) are scoped separately below.
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
# The ECS agent's managed policy, the only one the program attaches (infra/components/service.py).
ATTACHABLE_POLICIES = ("arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy",)
# Services the program's roles are passed to.
PASSED_TO_SERVICES = ("ecs-tasks.amazonaws.com", "scheduler.amazonaws.com")
# Service-linked roles a first deploy in a fresh account creates.
SERVICE_LINKED_ROLES = (
    "ecs.amazonaws.com",
    "ecs.application-autoscaling.amazonaws.com",
    "elasticache.amazonaws.com",
    "elasticloadbalancing.amazonaws.com",
    "rds.amazonaws.com",
)


@dataclass(frozen=True)
class AccountScope:
    """Everything the documents name: the account, the main project's stacks and our names."""

    partition: str
    account_id: str
    region: str
    project: str  # the main Pulumi project ("service"): state path and physical-name prefix
    github_repository: str  # "<owner>/<repo>"
    dev_stack: str
    staging_stack: str
    prod_stack: str
    bucket: str
    oidc_provider_arn: str
    operator_arns: tuple[str, ...] = ()

    # ---- names --------------------------------------------------------------------------------
    @property
    def stacks(self) -> tuple[str, ...]:
        return (self.dev_stack, self.staging_stack, self.prod_stack)

    @property
    def nonprod_stacks(self) -> tuple[str, ...]:
        return (self.dev_stack, self.staging_stack)

    def prefix(self, stack: str) -> str:
        """The main program's physical-name prefix for ``stack`` (``service-staging``)."""
        return f"{self.project}-{stack}"

    @property
    def ci_path(self) -> str:
        return f"/{self.project}-ci/"

    def role_name(self, kind: str) -> str:
        return f"{self.project}-gha-{kind}"

    def role_arn(self, kind: str) -> str:
        return (
            f"arn:{self.partition}:iam::{self.account_id}:role{self.ci_path}{self.role_name(kind)}"
        )

    @property
    def boundary_name(self) -> str:
        return f"{self.project}-workload-boundary"

    @property
    def boundary_arn(self) -> str:
        return (
            f"arn:{self.partition}:iam::{self.account_id}:policy{self.ci_path}{self.boundary_name}"
        )

    def workload_role_arns(self, stack: str) -> str:
        """The stack's own roles: under the path ``/<project>-<stack>/``."""
        return f"arn:{self.partition}:iam::{self.account_id}:role/{self.prefix(stack)}/*"

    def alias(self, key: str) -> str:
        return f"alias/{self.project}-pulumi-{key}"

    def secrets_provider(self, key: str) -> str:
        return f"awskms://{self.alias(key)}?region={self.region}"

    @property
    def backend_url(self) -> str:
        return f"s3://{self.bucket}"

    def subject(self, kind: str) -> str:
        """The OIDC ``sub`` a job presents: PR jobs and jobs in a GitHub environment."""
        environment = {
            "deploy-staging": "staging",
            "preview-prod": "production-preview",
            "deploy-prod": "production",
        }
        base = f"repo:{self.github_repository}"
        return (
            f"{base}:pull_request"
            if kind == "preview"
            else f"{base}:environment:{environment[kind]}"
        )

    # ---- ARN helpers ----------------------------------------------------------------------------
    def arn(self, service: str, resource: str, *, region: bool = True) -> str:
        where = self.region if region else ""
        return f"arn:{self.partition}:{service}:{where}:{self.account_id}:{resource}"

    @property
    def bucket_arn(self) -> str:
        return f"arn:{self.partition}:s3:::{self.bucket}"

    def state_objects(self, stack: str, *, write: bool = False) -> list[str]:
        """The diy backend's objects of one stack of the main project (project-scoped layout:
        pkg/backend/diy in pulumi/pulumi): the checkpoint (``<stack>.json``, ``.gz``/``.zst``,
        its ``.bak``, the ``.pulumi-tags`` file) and, for writers, history, backups, the update
        journal and the stack's lock directory. A preview reads the checkpoint only: the diy
        backend takes no lock for `pulumi preview`."""
        base = f"{self.bucket_arn}/.pulumi"
        objects = [f"{base}/stacks/{self.project}/{stack}.*"]
        if write:
            objects += [
                f"{base}/history/{self.project}/{stack}/*",
                f"{base}/backups/{self.project}/{stack}/*",
                f"{base}/journal/{self.project}/{stack}/*",
                f"{base}/locks/organization/{self.project}/{stack}/*",
            ]
        return objects

    @property
    def backend_meta(self) -> str:
        """``.pulumi/meta.yaml``: the layout version every CLI reads on login."""
        return f"{self.bucket_arn}/.pulumi/meta.yaml"


@dataclass(frozen=True)
class KeyArns:
    state: str  # SSE-KMS of the state bucket
    nonprod: str  # secrets provider of dev, staging and review stacks
    prod: str  # secrets provider of prod


def document(*statements: dict) -> dict:
    return {"Version": VERSION, "Statement": list(statements)}


def _allow(sid: str, actions, resources, condition: dict | None = None) -> dict:
    statement = {"Sid": sid, "Effect": "Allow", "Action": sorted(actions), "Resource": resources}
    if condition:
        statement["Condition"] = condition
    return statement


def _deny(sid: str, actions, resources, condition: dict | None = None) -> dict:
    statement = _allow(sid, actions, resources, condition)
    statement["Effect"] = "Deny"
    return statement


# ---- trust --------------------------------------------------------------------------------------
def trust_policy(scope: AccountScope, kind: str) -> dict:
    """Only GitHub's OIDC tokens for exactly this repository and job kind, audience STS."""
    return document(
        {
            "Sid": "GitHubActionsOidc",
            "Effect": "Allow",
            "Principal": {"Federated": scope.oidc_provider_arn},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {
                    f"{GITHUB_OIDC_HOST}:aud": STS_AUDIENCE,
                    f"{GITHUB_OIDC_HOST}:sub": scope.subject(kind),
                }
            },
        }
    )


# ---- shared pieces ------------------------------------------------------------------------------
def _state_read(scope: AccountScope, stacks: tuple[str, ...], keys: KeyArns) -> list[dict]:
    objects = [scope.backend_meta]
    for stack in stacks:
        objects += scope.state_objects(stack)
    return [
        # The diy backend lists prefixes to find a checkpoint's compression variant and the
        # stack's locks; without ListBucket a missing optional object (e.g. <stack>.pulumi-tags)
        # answers 403 instead of 404 and the CLI fails. Listing shows key names, not contents.
        _allow("ListStateBucket", ["s3:ListBucket"], scope.bucket_arn),
        _allow("ReadStackState", ["s3:GetObject"], sorted(objects)),
        _state_key_use(scope, keys, ["kms:Decrypt"]),
    ]


def _state_write(scope: AccountScope, stack: str, keys: KeyArns) -> list[dict]:
    return [
        _allow("ListStateBucket", ["s3:ListBucket"], scope.bucket_arn),
        _allow("ReadBackendMeta", ["s3:GetObject"], scope.backend_meta),
        _allow(
            "WriteStackState",
            ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
            scope.state_objects(stack, write=True),
        ),
        _state_key_use(scope, keys, ["kms:Decrypt", "kms:GenerateDataKey"]),
    ]


def _state_key_use(scope: AccountScope, keys: KeyArns, actions: list[str]) -> dict:
    """The bucket's SSE-KMS key, usable only through S3 and only for this bucket."""
    return _allow(
        "StateBucketEncryption",
        actions,
        keys.state,
        {
            "StringEquals": {
                "kms:ViaService": f"s3.{scope.region}.amazonaws.com",
                "kms:EncryptionContext:aws:s3:arn": scope.bucket_arn,
            }
        },
    )


def _reads() -> dict:
    return _allow("ReadStackResources", READ_ACTIONS, "*")


def _image_reads(scope: AccountScope, stacks: tuple[str, ...], sid: str) -> dict:
    """Pull and inspect images of the repositories tagged with one of ``stacks`` (repository
    names are autonamed by the program; the provider's default tag ``stack`` says whose)."""
    return _allow(
        sid,
        IMAGE_READ_ACTIONS,
        scope.arn("ecr", "repository/*"),
        {"StringEquals": {f"aws:ResourceTag/{STACK_TAG}": sorted(stacks)}},
    )


# ---- role policies ------------------------------------------------------------------------------
def preview_policy(scope: AccountScope, keys: KeyArns) -> dict:
    """Pull requests: read dev and staging, decrypt with the non-prod key; nothing of prod."""
    prod = scope.prod_stack
    return document(
        _reads(),
        *_state_read(scope, scope.nonprod_stacks, keys),
        _allow("DecryptNonProdStackSecrets", ["kms:Decrypt"], keys.nonprod),
        _image_reads(scope, scope.nonprod_stacks, "InspectNonProdImages"),
        # Explicit denies: they hold even if a broader policy is attached to this role later.
        _deny(
            "DenyProdState",
            ["s3:*"],
            sorted(
                [
                    *scope.state_objects(prod, write=True),
                    f"{scope.bucket_arn}/.pulumi/*/{scope.project}/{prod}.*",
                ]
            ),
        ),
        _deny("DenyProdKey", ["kms:*"], keys.prod),
        _deny("DenyImagePush", [*IMAGE_PUSH_ACTIONS, "ecr:BatchDeleteImage"], "*"),
        _deny("DenyPassRole", ["iam:PassRole"], "*"),
    )


def preview_prod_policy(scope: AccountScope, keys: KeyArns) -> dict:
    """The production-preview environment: read prod (state, resources, secrets key) and
    staging's image (the digest the approval will ship); write nothing."""
    return document(
        _reads(),
        *_state_read(scope, (scope.prod_stack,), keys),
        _allow("DecryptProdStackSecrets", ["kms:Decrypt"], keys.prod),
        _allow(
            "ReadProdSecretValues",
            ["secretsmanager:GetSecretValue"],
            scope.arn("secretsmanager", f"secret:{scope.prefix(scope.prod_stack)}/*"),
        ),
        _image_reads(scope, (scope.staging_stack, scope.prod_stack), "InspectPromotedImages"),
        _deny(
            "DenyStateWrites",
            ["s3:DeleteObject", "s3:PutObject", "s3:PutObjectAcl"],
            f"{scope.bucket_arn}/*",
        ),
        _deny("DenyImagePush", [*IMAGE_PUSH_ACTIONS, "ecr:BatchDeleteImage"], "*"),
        _deny("DenyPassRole", ["iam:PassRole"], "*"),
    )


def deploy_policy(scope: AccountScope, keys: KeyArns, stack: str) -> dict:
    """Deploy (and, for an ephemeral stack, destroy) ``stack``: the services infra/ manages."""
    prefix = scope.prefix(stack)
    key = keys.prod if stack == scope.prod_stack else keys.nonprod
    others = sorted(s for s in scope.stacks if s != stack)
    statements = [
        _reads(),
        *_state_write(scope, stack, keys),
        _allow("UseStackSecretsKey", ["kms:Decrypt", "kms:Encrypt"], key),
        _allow(
            "Network",
            [
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
                "ec2:DeleteInternetGateway",
                "ec2:DeleteNatGateway",
                "ec2:DeleteRoute",
                "ec2:DeleteRouteTable",
                "ec2:DeleteSecurityGroup",
                "ec2:DeleteSubnet",
                "ec2:DeleteTags",
                "ec2:DeleteVpc",
                "ec2:DetachInternetGateway",
                "ec2:DisassociateAddress",
                "ec2:DisassociateRouteTable",
                "ec2:ModifySecurityGroupRules",
                "ec2:ModifySubnetAttribute",
                "ec2:ModifyVpcAttribute",
                "ec2:ReleaseAddress",
                "ec2:ReplaceRoute",
                "ec2:RevokeSecurityGroupEgress",
                "ec2:RevokeSecurityGroupIngress",
                "ec2:UpdateSecurityGroupRuleDescriptionsEgress",
                "ec2:UpdateSecurityGroupRuleDescriptionsIngress",
            ],
            scope.arn("ec2", "*"),
        ),
        _allow(
            "Registry",
            [
                "ecr:CreateRepository",
                "ecr:DeleteLifecyclePolicy",
                "ecr:DeleteRepository",
                "ecr:PutImageScanningConfiguration",
                "ecr:PutImageTagMutability",
                "ecr:PutLifecyclePolicy",
                "ecr:TagResource",
                "ecr:UntagResource",
                *IMAGE_PUSH_ACTIONS,
            ],
            scope.arn("ecr", "repository/*"),
        ),
        _image_reads(scope, (stack,), "PullOwnImages"),
        _allow(
            "Containers",
            [
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
            ],
            [
                scope.arn("ecs", "cluster/*"),
                scope.arn("ecs", "service/*/*"),
                scope.arn("ecs", f"task-definition/{prefix}-*:*"),
            ],
        ),
        _allow(
            "LoadBalancer",
            [
                "elasticloadbalancing:AddTags",
                "elasticloadbalancing:CreateListener",
                "elasticloadbalancing:CreateLoadBalancer",
                "elasticloadbalancing:CreateTargetGroup",
                "elasticloadbalancing:DeleteListener",
                "elasticloadbalancing:DeleteLoadBalancer",
                "elasticloadbalancing:DeleteTargetGroup",
                "elasticloadbalancing:ModifyListener",
                "elasticloadbalancing:ModifyLoadBalancerAttributes",
                "elasticloadbalancing:ModifyTargetGroup",
                "elasticloadbalancing:ModifyTargetGroupAttributes",
                "elasticloadbalancing:RemoveTags",
                "elasticloadbalancing:SetSecurityGroups",
                "elasticloadbalancing:SetSubnets",
            ],
            [
                scope.arn("elasticloadbalancing", "loadbalancer/app/*/*"),
                scope.arn("elasticloadbalancing", "targetgroup/*/*"),
                scope.arn("elasticloadbalancing", "listener/app/*/*/*"),
            ],
        ),
        _allow(
            "Database",
            [
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
            ],
            [
                scope.arn("rds", "db:*"),
                scope.arn("rds", "pg:*"),
                scope.arn("rds", "subgrp:*"),
                scope.arn("rds", "snapshot:*"),
            ],
        ),
        _allow(
            # RDS creates and rotates the managed master password secret as the caller.
            "DatabaseManagedSecret",
            [
                "secretsmanager:CreateSecret",
                "secretsmanager:DeleteSecret",
                "secretsmanager:RotateSecret",
                "secretsmanager:TagResource",
            ],
            scope.arn("secretsmanager", "secret:rds!db-*"),
        ),
        _allow(
            "Cache",
            [
                "elasticache:AddTagsToResource",
                "elasticache:CreateCacheCluster",
                "elasticache:CreateCacheSubnetGroup",
                "elasticache:CreateReplicationGroup",
                "elasticache:DeleteCacheSubnetGroup",
                "elasticache:DeleteReplicationGroup",
                "elasticache:ModifyCacheSubnetGroup",
                "elasticache:ModifyReplicationGroup",
                "elasticache:RemoveTagsFromResource",
            ],
            [
                scope.arn("elasticache", f"replicationgroup:{prefix}-*"),
                scope.arn("elasticache", f"cluster:{prefix}-*"),
                scope.arn("elasticache", "subnetgroup:*"),
                scope.arn("elasticache", "parametergroup:*"),
            ],
        ),
        _allow(
            "AppSecrets",
            [
                "secretsmanager:CreateSecret",
                "secretsmanager:DeleteSecret",
                "secretsmanager:GetSecretValue",
                "secretsmanager:PutSecretValue",
                "secretsmanager:TagResource",
                "secretsmanager:UntagResource",
                "secretsmanager:UpdateSecret",
            ],
            scope.arn("secretsmanager", f"secret:{prefix}/*"),
        ),
        _allow(
            "Logs",
            [
                "logs:CreateLogGroup",
                "logs:DeleteLogGroup",
                "logs:DeleteRetentionPolicy",
                "logs:PutRetentionPolicy",
                "logs:TagLogGroup",
                "logs:TagResource",
                "logs:UntagLogGroup",
                "logs:UntagResource",
            ],
            [
                scope.arn("logs", f"log-group:/ecs/{prefix}"),
                scope.arn("logs", f"log-group:/ecs/{prefix}:*"),
            ],
        ),
        _allow(
            # The program's alarms, and those target tracking creates on the caller's behalf.
            "Alarms",
            [
                "cloudwatch:DeleteAlarms",
                "cloudwatch:PutMetricAlarm",
                "cloudwatch:TagResource",
                "cloudwatch:UntagResource",
            ],
            scope.arn("cloudwatch", "alarm:*"),
        ),
        _allow(
            "AlarmTopic",
            [
                "sns:CreateTopic",
                "sns:DeleteTopic",
                "sns:SetTopicAttributes",
                "sns:Subscribe",
                "sns:TagResource",
                "sns:UntagResource",
            ],
            scope.arn("sns", "*"),
        ),
        _allow(
            "Autoscaling",
            [
                "application-autoscaling:DeleteScalingPolicy",
                "application-autoscaling:DeregisterScalableTarget",
                "application-autoscaling:PutScalingPolicy",
                "application-autoscaling:RegisterScalableTarget",
                "application-autoscaling:TagResource",
                "application-autoscaling:UntagResource",
            ],
            scope.arn("application-autoscaling", "scalable-target/*"),
        ),
        _allow(
            "WorkerSchedule",
            ["scheduler:CreateSchedule", "scheduler:DeleteSchedule", "scheduler:UpdateSchedule"],
            scope.arn("scheduler", "schedule/default/*"),
        ),
        _allow(
            "Waf",
            [
                "wafv2:AssociateWebACL",
                "wafv2:CreateWebACL",
                "wafv2:DeleteWebACL",
                "wafv2:DisassociateWebACL",
                "wafv2:TagResource",
                "wafv2:UntagResource",
                "wafv2:UpdateWebACL",
            ],
            [
                scope.arn("wafv2", "regional/webacl/*/*"),
                scope.arn("elasticloadbalancing", "loadbalancer/app/*/*"),
            ],
        ),
        _allow(
            "NoResourceTypeWrites",
            [
                "ecs:DeregisterTaskDefinition",
                "elasticloadbalancing:SetWebAcl",
                "sns:SetSubscriptionAttributes",
                "sns:Unsubscribe",
            ],
            "*",
        ),
        *_iam_statements(scope, stack),
        # ABAC guard: never change a resource that carries another stack's tag, never tag a
        # resource as another stack's (autonamed resources have no stack prefix to scope by).
        _deny(
            "DenyOtherStacksResources",
            _guarded_write_actions(),
            "*",
            {"StringEquals": {f"aws:ResourceTag/{STACK_TAG}": others}},
        ),
        _deny(
            "DenyTaggingAsOtherStack",
            _guarded_write_actions(),
            "*",
            {"StringEquals": {f"aws:RequestTag/{STACK_TAG}": others}},
        ),
    ]
    if stack == scope.prod_stack:
        # Promotion copies staging's digest into prod's repository (pull only).
        statements.insert(3, _image_reads(scope, (scope.staging_stack,), "PullStagingImages"))
    return document(*statements)


def _guarded_write_actions() -> list[str]:
    return [
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
    ]


def _iam_statements(scope: AccountScope, stack: str) -> list[dict]:
    roles = scope.workload_role_arns(stack)
    boundary = {"StringEquals": {"iam:PermissionsBoundary": scope.boundary_arn}}
    return [
        _allow("CreateStackRolesWithBoundary", ["iam:CreateRole"], roles, boundary),
        _allow(
            "ManageStackRoles",
            [
                "iam:DeleteRole",
                "iam:DeleteRolePolicy",
                "iam:PutRolePolicy",
                "iam:TagRole",
                "iam:UntagRole",
                "iam:UpdateAssumeRolePolicy",
                "iam:UpdateRole",
                "iam:UpdateRoleDescription",
                "iam:ListInstanceProfilesForRole",
            ],
            roles,
        ),
        _allow(
            "AttachOnlyTheEcsExecutionPolicy",
            ["iam:AttachRolePolicy", "iam:DetachRolePolicy"],
            roles,
            {"ArnEquals": {"iam:PolicyARN": list(ATTACHABLE_POLICIES)}},
        ),
        _allow(
            "PassStackRolesToEcsAndScheduler",
            ["iam:PassRole"],
            roles,
            {"StringEquals": {"iam:PassedToService": list(PASSED_TO_SERVICES)}},
        ),
        _allow(
            "CreateServiceLinkedRoles",
            ["iam:CreateServiceLinkedRole"],
            f"arn:{scope.partition}:iam::{scope.account_id}:role/aws-service-role/*",
            {"StringEquals": {"iam:AWSServiceName": list(SERVICE_LINKED_ROLES)}},
        ),
        _deny(
            "NeverWithoutTheBoundary",
            ["iam:CreateRole", "iam:PutRolePermissionsBoundary"],
            "*",
            {"StringNotEquals": {"iam:PermissionsBoundary": scope.boundary_arn}},
        ),
        _deny("NeverRemoveTheBoundary", ["iam:DeleteRolePermissionsBoundary"], "*"),
    ]


def boundary_policy(scope: AccountScope) -> dict:
    """The permissions boundary of every role the deploy roles create: the most a workload
    role (ECS execution/task role, the scheduler's role) can ever do, whatever policy is put on
    it; no IAM change outside the project's stack paths; the boundary cannot be removed."""
    project_roles = [scope.workload_role_arns(stack) for stack in scope.stacks]
    return document(
        _allow("EcrAuth", ["ecr:GetAuthorizationToken"], "*"),
        _allow(
            "PullImages",
            ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            scope.arn("ecr", "repository/*"),
        ),
        _allow(
            "WriteTaskLogs",
            ["logs:CreateLogStream", "logs:PutLogEvents"],
            scope.arn("logs", f"log-group:/ecs/{scope.project}-*"),
        ),
        _allow(
            "ReadAppSecrets",
            ["secretsmanager:GetSecretValue"],
            [
                scope.arn("secretsmanager", f"secret:{scope.project}-*"),
                scope.arn("secretsmanager", "secret:rds!db-*"),
            ],
        ),
        _allow(
            "RunWorkerTask",
            ["ecs:RunTask"],
            scope.arn("ecs", f"task-definition/{scope.project}-*:*"),
        ),
        _allow(
            "TagStartedTasks",
            ["ecs:TagResource"],
            scope.arn("ecs", "task/*"),
            {"StringEquals": {"ecs:CreateAction": "RunTask"}},
        ),
        _allow(
            "PassWorkerRoles",
            ["iam:PassRole"],
            project_roles,
            {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
        ),
        _allow(
            "EcsExec",
            [
                "ssmmessages:CreateControlChannel",
                "ssmmessages:CreateDataChannel",
                "ssmmessages:OpenControlChannel",
                "ssmmessages:OpenDataChannel",
            ],
            "*",
        ),
        {
            "Sid": "DenyIamOutsideTheProjectPaths",
            "Effect": "Deny",
            "Action": [
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
            ],
            "NotResource": project_roles,
        },
        _deny("DenyRemovingTheBoundary", ["iam:DeleteRolePermissionsBoundary"], "*"),
        _deny(
            "DenyOtherBoundaries",
            ["iam:CreateRole", "iam:PutRolePermissionsBoundary"],
            "*",
            {"StringNotEquals": {"iam:PermissionsBoundary": scope.boundary_arn}},
        ),
    )


# ---- resource policies --------------------------------------------------------------------------
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


def key_policy(scope: AccountScope, users: dict[str, list[str]]) -> dict:
    """A secrets-provider key: the account administers it (IAM decides who), but using it is
    limited here to the principals in ``users`` (action -> principal ARNs), so a broad IAM
    policy attached to another role later still cannot decrypt with it. The account keeps
    kms:PutKeyPolicy, so the key can never become unmanageable."""
    root = f"arn:{scope.partition}:iam::{scope.account_id}:root"
    statements = [
        {
            "Sid": "AccountAdministersTheKey",
            "Effect": "Allow",
            "Principal": {"AWS": root},
            "Action": list(KEY_ADMIN_ACTIONS),
            "Resource": "*",
        }
    ]
    for action, principals in sorted(users.items()):
        statements.append(
            {
                "Sid": "Use" + action.split(":")[1],
                "Effect": "Allow",
                "Principal": {"AWS": root},
                "Action": action,
                "Resource": "*",
                # aws:PrincipalArn, not a role principal: the roles may not exist yet when the
                # key is created, and KMS refuses a policy naming a principal that does not.
                "Condition": {"ArnEquals": {"aws:PrincipalArn": sorted(set(principals))}},
            }
        )
    return document(*statements)


def secrets_key_users(scope: AccountScope, key: str) -> dict[str, list[str]]:
    """Who may use the ``prod`` or ``nonprod`` secrets-provider key, and how."""
    operators = list(scope.operator_arns)
    if key == "prod":
        return {
            "kms:Decrypt": [
                scope.role_arn("preview-prod"),
                scope.role_arn("deploy-prod"),
                *operators,
            ],
            "kms:Encrypt": [scope.role_arn("deploy-prod"), *operators],
        }
    return {
        "kms:Decrypt": [scope.role_arn("preview"), scope.role_arn("deploy-staging"), *operators],
        "kms:Encrypt": [scope.role_arn("deploy-staging"), *operators],
    }


def state_key_policy(scope: AccountScope) -> dict:
    """The bucket's SSE-KMS key: used only through S3 for this bucket, by the CI roles (their
    IAM policies then decide which objects) and the operators."""
    root = f"arn:{scope.partition}:iam::{scope.account_id}:root"
    users = sorted({*(scope.role_arn(kind) for kind in ROLE_KINDS), *scope.operator_arns})
    return document(
        {
            "Sid": "AccountAdministersTheKey",
            "Effect": "Allow",
            "Principal": {"AWS": root},
            "Action": list(KEY_ADMIN_ACTIONS),
            "Resource": "*",
        },
        {
            "Sid": "UseThroughS3ForTheStateBucket",
            "Effect": "Allow",
            "Principal": {"AWS": root},
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": "*",
            "Condition": {
                "ArnEquals": {"aws:PrincipalArn": users},
                "StringEquals": {
                    "kms:ViaService": f"s3.{scope.region}.amazonaws.com",
                    "kms:EncryptionContext:aws:s3:arn": scope.bucket_arn,
                },
            },
        },
    )


def bucket_policy(scope: AccountScope, state_key_arn: str) -> dict:
    """TLS only; objects written with SSE-KMS under the bucket's key (a put without the header
    gets the bucket default, which is that key; one asking for anything else is refused)."""
    objects = f"{scope.bucket_arn}/*"
    header = "s3:x-amz-server-side-encryption"
    return document(
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [scope.bucket_arn, objects],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
        {
            "Sid": "DenyOtherEncryption",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": objects,
            "Condition": {
                "Null": {header: "false"},
                "StringNotEquals": {header: "aws:kms"},
            },
        },
        {
            "Sid": "DenyOtherKmsKeys",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": objects,
            "Condition": {
                "Null": {f"{header}-aws-kms-key-id": "false"},
                "StringNotEquals": {f"{header}-aws-kms-key-id": state_key_arn},
            },
        },
    )


def role_policy(scope: AccountScope, keys: KeyArns, kind: str) -> dict:
    if kind == "preview":
        return preview_policy(scope, keys)
    if kind == "preview-prod":
        return preview_prod_policy(scope, keys)
    if kind == "deploy-staging":
        return deploy_policy(scope, keys, scope.staging_stack)
    if kind == "deploy-prod":
        return deploy_policy(scope, keys, scope.prod_stack)
    raise ValueError(f"unknown role kind {kind!r}; expected one of {', '.join(ROLE_KINDS)}")
