"""The CI roles' identity policies: preview, preview-prod and the three deploy roles (staging,
the review stacks ``pr-*`` and prod)."""

from __future__ import annotations

from infra.bootstrap.policies.actions import (
    ACCESS_LOG_BUCKET_READ_ACTIONS,
    ACCESS_LOG_BUCKET_WRITE_ACTIONS,
    ACCESS_LOG_EMPTY_ACTIONS,
    ALARM_TOPIC_WRITE_ACTIONS,
    ALARM_WRITE_ACTIONS,
    APP_SECRET_ACTIONS,
    ATTACHABLE_POLICIES,
    AUTOSCALING_WRITE_ACTIONS,
    CACHE_WRITE_ACTIONS,
    CONTAINER_WRITE_ACTIONS,
    DASHBOARD_WRITE_ACTIONS,
    DATABASE_SECRET_WRITE_ACTIONS,
    DATABASE_WRITE_ACTIONS,
    GUARDED_WRITE_ACTIONS,
    IMAGE_PUSH_ACTIONS,
    IMAGE_READ_ACTIONS,
    LOAD_BALANCER_WRITE_ACTIONS,
    LOG_GROUP_WRITE_ACTIONS,
    NETWORK_WRITE_ACTIONS,
    NO_RESOURCE_TYPE_WRITE_ACTIONS,
    PASSED_TO_SERVICES,
    QUEUE_WRITE_ACTIONS,
    READ_ACTIONS,
    REGISTRY_WRITE_ACTIONS,
    SERVICE_LINKED_ROLES,
    STACK_ROLE_ACTIONS,
    WAF_WRITE_ACTIONS,
)
from infra.bootstrap.policies.document import allow, deny, document
from infra.bootstrap.policies.scope import ROLE_KINDS, STACK_TAG, AccountScope, KeyArns


def _state_read(scope: AccountScope, stacks: tuple[str, ...], keys: KeyArns) -> list[dict]:
    objects = [scope.backend_meta]
    for stack in stacks:
        objects += scope.state_objects(stack)
    return [
        # The diy backend lists prefixes to find a checkpoint's compression variant and the
        # stack's locks; without ListBucket a missing optional object (e.g. <stack>.pulumi-tags)
        # answers 403 instead of 404 and the CLI fails. Listing shows key names, not contents.
        allow("ListStateBucket", ["s3:ListBucket"], scope.bucket_arn),
        allow("ReadStackState", ["s3:GetObject"], sorted(objects)),
        _state_key_use(scope, keys, ["kms:Decrypt"]),
    ]


def _state_write(scope: AccountScope, stack: str, keys: KeyArns) -> list[dict]:
    return [
        allow("ListStateBucket", ["s3:ListBucket"], scope.bucket_arn),
        allow("ReadBackendMeta", ["s3:GetObject"], scope.backend_meta),
        allow(
            "WriteStackState",
            ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
            scope.state_objects(stack, write=True),
        ),
        _state_key_use(scope, keys, ["kms:Decrypt", "kms:GenerateDataKey"]),
    ]


def _state_key_use(scope: AccountScope, keys: KeyArns, actions: list[str]) -> dict:
    """The bucket's SSE-KMS key, usable only through S3 and only for this bucket."""
    return allow(
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
    return allow("ReadStackResources", READ_ACTIONS, "*")


def access_log_buckets(scope: AccountScope, stacks: tuple[str, ...]) -> list[str]:
    """The ALB access-log buckets of ``stacks`` (``<prefix>-alb-logs-<account>``,
    infra/components/access_logs.py)."""
    return sorted(f"arn:{scope.partition}:s3:::{scope.prefix(s)}-alb-logs-*" for s in stacks)


def _log_bucket_reads(scope: AccountScope, stacks: tuple[str, ...]) -> dict:
    """A refresh reads the access-log bucket's configuration (bucket-level only: no object)."""
    return allow(
        "ReadAccessLogBuckets", ACCESS_LOG_BUCKET_READ_ACTIONS, access_log_buckets(scope, stacks)
    )


def _image_reads(scope: AccountScope, stacks: tuple[str, ...], sid: str) -> dict:
    """Pull and inspect images of the repositories tagged with one of ``stacks`` (repository
    names are autonamed by the program; the provider's default tag ``stack`` says whose).
    A wildcard stack (the review stacks' ``pr-*``) is matched with StringLike."""
    operator = "StringLike" if any("*" in stack for stack in stacks) else "StringEquals"
    return allow(
        sid,
        IMAGE_READ_ACTIONS,
        scope.arn("ecr", "repository/*"),
        {operator: {f"aws:ResourceTag/{STACK_TAG}": sorted(stacks)}},
    )


def preview_policy(scope: AccountScope, keys: KeyArns) -> dict:
    """Pull requests: read dev and staging, decrypt with the non-prod key; nothing of prod."""
    prod = scope.prod_stack
    return document(
        _reads(),
        _log_bucket_reads(scope, scope.nonprod_stacks),
        *_state_read(scope, scope.nonprod_stacks, keys),
        allow("DecryptNonProdStackSecrets", ["kms:Decrypt"], keys.nonprod),
        _image_reads(scope, scope.nonprod_stacks, "InspectNonProdImages"),
        # Explicit denies: they hold even if a broader policy is attached to this role later.
        deny(
            "DenyProdState",
            ["s3:*"],
            sorted(
                [
                    *scope.state_objects(prod, write=True),
                    f"{scope.bucket_arn}/.pulumi/*/{scope.project}/{prod}.*",
                ]
            ),
        ),
        deny("DenyProdKey", ["kms:*"], keys.prod),
        deny("DenyImagePush", [*IMAGE_PUSH_ACTIONS, "ecr:BatchDeleteImage"], "*"),
        deny("DenyPassRole", ["iam:PassRole"], "*"),
    )


def preview_prod_policy(scope: AccountScope, keys: KeyArns) -> dict:
    """The production-preview environment: read prod (state, resources, secrets key) and
    staging's image (the digest the approval will ship); write nothing."""
    return document(
        _reads(),
        _log_bucket_reads(scope, (scope.prod_stack,)),
        *_state_read(scope, (scope.prod_stack,), keys),
        allow("DecryptProdStackSecrets", ["kms:Decrypt"], keys.prod),
        allow(
            "ReadProdSecretValues",
            ["secretsmanager:GetSecretValue"],
            scope.arn("secretsmanager", f"secret:{scope.prefix(scope.prod_stack)}/*"),
        ),
        _image_reads(scope, (scope.staging_stack, scope.prod_stack), "InspectPromotedImages"),
        deny(
            "DenyStateWrites",
            ["s3:DeleteObject", "s3:PutObject", "s3:PutObjectAcl"],
            f"{scope.bucket_arn}/*",
        ),
        deny("DenyImagePush", [*IMAGE_PUSH_ACTIONS, "ecr:BatchDeleteImage"], "*"),
        deny("DenyPassRole", ["iam:PassRole"], "*"),
    )


def stack_log_groups(prefix: str) -> tuple[str, ...]:
    """The log groups the program creates (infra/components): the tasks', the RDS export's (the
    instance is named <prefix>-db), Container Insights' (the cluster is named <prefix>) and
    WAF's (aws-waf-logs-<prefix>)."""
    return (
        f"/ecs/{prefix}",
        f"/aws/rds/instance/{prefix}-db/postgresql",
        f"/aws/ecs/containerinsights/{prefix}/performance",
        f"aws-waf-logs-{prefix}",
    )


def deploy_policy(scope: AccountScope, keys: KeyArns, stack: str) -> dict:
    """Deploy (and, for an ephemeral stack, destroy) ``stack``: the services infra/ manages.
    ``stack`` may be the review stacks' wildcard (``pr-*``): names, paths, state objects and
    tags are then scoped to every review stack, and the named stacks are the "others"."""
    prefix = scope.prefix(stack)
    key = keys.prod if stack == scope.prod_stack else keys.nonprod
    others = sorted(s for s in scope.stacks if s != stack)
    statements = [
        _reads(),
        _log_bucket_reads(scope, (stack,)),
        *_state_write(scope, stack, keys),
        allow("UseStackSecretsKey", ["kms:Decrypt", "kms:Encrypt"], key),
        allow("Network", NETWORK_WRITE_ACTIONS, scope.arn("ec2", "*")),
        allow("Registry", REGISTRY_WRITE_ACTIONS, scope.arn("ecr", "repository/*")),
        _image_reads(scope, (stack,), "PullOwnImages"),
        allow(
            "Containers",
            CONTAINER_WRITE_ACTIONS,
            [
                scope.arn("ecs", "cluster/*"),
                scope.arn("ecs", "service/*/*"),
                scope.arn("ecs", f"task-definition/{prefix}-*:*"),
            ],
        ),
        allow(
            "LoadBalancer",
            LOAD_BALANCER_WRITE_ACTIONS,
            [
                scope.arn("elasticloadbalancing", "loadbalancer/app/*/*"),
                scope.arn("elasticloadbalancing", "targetgroup/*/*"),
                scope.arn("elasticloadbalancing", "listener/app/*/*/*"),
                # the production listener rule of a blue/green or canary stack
                scope.arn("elasticloadbalancing", "listener-rule/app/*/*/*/*"),
            ],
        ),
        allow(
            "Database",
            DATABASE_WRITE_ACTIONS,
            [
                scope.arn("rds", "db:*"),
                scope.arn("rds", "pg:*"),
                scope.arn("rds", "subgrp:*"),
                scope.arn("rds", "snapshot:*"),
            ],
        ),
        allow(
            # RDS creates and rotates the managed master password secret as the caller.
            "DatabaseManagedSecret",
            DATABASE_SECRET_WRITE_ACTIONS,
            scope.arn("secretsmanager", "secret:rds!db-*"),
        ),
        allow(
            "Cache",
            CACHE_WRITE_ACTIONS,
            [
                scope.arn("elasticache", f"replicationgroup:{prefix}-*"),
                scope.arn("elasticache", f"cluster:{prefix}-*"),
                scope.arn("elasticache", "subnetgroup:*"),
                scope.arn("elasticache", "parametergroup:*"),
            ],
        ),
        allow("AppSecrets", APP_SECRET_ACTIONS, scope.arn("secretsmanager", f"secret:{prefix}/*")),
        allow(
            "Logs",
            LOG_GROUP_WRITE_ACTIONS,
            [
                scope.arn("logs", f"log-group:{group}{suffix}")
                for group in stack_log_groups(prefix)
                for suffix in ("", ":*")
            ],
        ),
        allow(
            # The program's alarms, and those target tracking creates on the caller's behalf.
            "Alarms",
            ALARM_WRITE_ACTIONS,
            scope.arn("cloudwatch", "alarm:*"),
        ),
        allow(
            # Dashboards are global: no region in their ARN.
            "Dashboard",
            DASHBOARD_WRITE_ACTIONS,
            scope.arn("cloudwatch", f"dashboard/{prefix}", region=False),
        ),
        allow("AlarmTopic", ALARM_TOPIC_WRITE_ACTIONS, scope.arn("sns", "*")),
        allow(
            "Autoscaling",
            AUTOSCALING_WRITE_ACTIONS,
            scope.arn("application-autoscaling", "scalable-target/*"),
        ),
        allow(
            "WorkerSchedule",
            ["scheduler:CreateSchedule", "scheduler:DeleteSchedule", "scheduler:UpdateSchedule"],
            scope.arn("scheduler", "schedule/default/*"),
        ),
        allow(
            "Waf",
            WAF_WRITE_ACTIONS,
            [
                scope.arn("wafv2", "regional/webacl/*/*"),
                # a web ACL's managed rule groups are authorised as managed rule sets
                scope.arn("wafv2", "regional/managedruleset/*/*"),
                scope.arn("elasticloadbalancing", "loadbalancer/app/*/*"),
            ],
        ),
        allow(
            "AccessLogBucket", ACCESS_LOG_BUCKET_WRITE_ACTIONS, access_log_buckets(scope, (stack,))
        ),
        allow(
            "WorkerDeadLetterQueue",
            QUEUE_WRITE_ACTIONS,
            scope.arn("sqs", f"{prefix}-*"),
        ),
        allow("NoResourceTypeWrites", NO_RESOURCE_TYPE_WRITE_ACTIONS, "*"),
        *_iam_statements(scope, stack),
        # ABAC guard: never change a resource that carries another stack's tag, never tag a
        # resource as another stack's (autonamed resources have no stack prefix to scope by).
        deny(
            "DenyOtherStacksResources",
            GUARDED_WRITE_ACTIONS,
            "*",
            {"StringEquals": {f"aws:ResourceTag/{STACK_TAG}": others}},
        ),
        deny(
            "DenyTaggingAsOtherStack",
            GUARDED_WRITE_ACTIONS,
            "*",
            {"StringEquals": {f"aws:RequestTag/{STACK_TAG}": others}},
        ),
    ]
    if stack == scope.prod_stack:
        # Promotion copies staging's digest into prod's repository (pull only).
        statements.insert(4, _image_reads(scope, (scope.staging_stack,), "PullStagingImages"))
    else:
        # The disposable stack's destroy empties its access-log bucket (force_destroy); prod's
        # deploy role can never delete a log object.
        buckets = access_log_buckets(scope, (stack,))
        statements.insert(
            -2,  # before the ABAC guards
            allow(
                "EmptyAccessLogBucketOnDestroy",
                ACCESS_LOG_EMPTY_ACTIONS,
                [*buckets, *(f"{bucket}/*" for bucket in buckets)],
            ),
        )
    return document(*statements)


def _iam_statements(scope: AccountScope, stack: str) -> list[dict]:
    roles = scope.workload_role_arns(stack)
    boundary = {"StringEquals": {"iam:PermissionsBoundary": scope.boundary_arn}}
    return [
        allow("CreateStackRolesWithBoundary", ["iam:CreateRole"], roles, boundary),
        allow("ManageStackRoles", STACK_ROLE_ACTIONS, roles),
        allow(
            "AttachOnlyTheListedManagedPolicies",
            ["iam:AttachRolePolicy", "iam:DetachRolePolicy"],
            roles,
            {"ArnEquals": {"iam:PolicyARN": list(ATTACHABLE_POLICIES)}},
        ),
        allow(
            "PassStackRolesToTheirServices",
            ["iam:PassRole"],
            roles,
            {"StringEquals": {"iam:PassedToService": list(PASSED_TO_SERVICES)}},
        ),
        allow(
            "CreateServiceLinkedRoles",
            ["iam:CreateServiceLinkedRole"],
            f"arn:{scope.partition}:iam::{scope.account_id}:role/aws-service-role/*",
            {"StringEquals": {"iam:AWSServiceName": list(SERVICE_LINKED_ROLES)}},
        ),
        deny(
            "NeverWithoutTheBoundary",
            ["iam:CreateRole", "iam:PutRolePermissionsBoundary"],
            "*",
            {"StringNotEquals": {"iam:PermissionsBoundary": scope.boundary_arn}},
        ),
        deny("NeverRemoveTheBoundary", ["iam:DeleteRolePermissionsBoundary"], "*"),
    ]


def role_policy(scope: AccountScope, keys: KeyArns, kind: str) -> dict:
    if kind == "preview":
        return preview_policy(scope, keys)
    if kind == "preview-prod":
        return preview_prod_policy(scope, keys)
    if kind == "deploy-staging":
        return deploy_policy(scope, keys, scope.staging_stack)
    if kind == "deploy-review":
        return deploy_policy(scope, keys, scope.review_stacks)
    if kind == "deploy-prod":
        return deploy_policy(scope, keys, scope.prod_stack)
    raise ValueError(f"unknown role kind {kind!r}; expected one of {', '.join(ROLE_KINDS)}")
