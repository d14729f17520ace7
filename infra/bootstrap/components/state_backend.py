"""The main project's state backend: a private, versioned S3 bucket encrypted with its own KMS
key (S3 Bucket Keys on), TLS-only, refusing any other encryption, old versions expired."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.bootstrap import policies
from infra.bootstrap.policies import AccountScope


@dataclass(frozen=True)
class StateBackendArgs:
    scope: AccountScope
    noncurrent_version_days: int = 90
    abort_multipart_days: int = 7
    protect: bool = True  # losing the bucket or its key loses every stack's state


class StateBackend(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: StateBackendArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("service-bootstrap:bootstrap:StateBackend", name, None, opts)
        scope = args.scope
        child = pulumi.ResourceOptions(parent=self)
        kept = pulumi.ResourceOptions(parent=self, protect=args.protect)

        self.key = aws.kms.Key(
            f"{name}-key",
            description=f"SSE-KMS of the Pulumi state bucket {scope.bucket}",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=json.dumps(policies.state_key_policy(scope), sort_keys=True),
            opts=kept,
        )
        aws.kms.Alias(
            f"{name}-key-alias",
            name=scope.alias("state"),
            target_key_id=self.key.key_id,
            opts=child,
        )

        self.bucket = aws.s3.Bucket(
            f"{name}-bucket", bucket=scope.bucket, force_destroy=False, opts=kept
        )
        bucket_id = self.bucket.id
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=bucket_id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=child,
        )
        public_access = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access",
            bucket=bucket_id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=bucket_id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(
                status="Enabled"
            ),
            opts=child,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=bucket_id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm="aws:kms", kms_master_key_id=self.key.arn
                    ),
                    bucket_key_enabled=True,
                    blocked_encryption_types=["SSE-C"],
                )
            ],
            opts=child,
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=bucket_id,
            rules=[
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="expire-old-state-versions",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                    noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                        noncurrent_days=args.noncurrent_version_days
                    ),
                    expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(
                        expired_object_delete_marker=True
                    ),
                    abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                        days_after_initiation=args.abort_multipart_days
                    ),
                )
            ],
            opts=child,
        )
        aws.s3.BucketPolicy(
            f"{name}-policy",
            bucket=bucket_id,
            policy=self.key.arn.apply(
                lambda arn: json.dumps(policies.bucket_policy(scope, arn), sort_keys=True)
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[public_access]),
        )
        self.key_arn = self.key.arn
        self.backend_url = pulumi.Output.from_input(scope.backend_url)
        self.register_outputs({"backendUrl": self.backend_url, "keyArn": self.key_arn})
