"""The S3 bucket the ALB writes its access logs to: private, SSE-S3, expiring, and writable by
exactly the region's Elastic Load Balancing log delivery."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra import catalog


@dataclass(frozen=True)
class AccessLogsArgs:
    prefix: str  # the stack's physical-name prefix
    region: str
    expire_days: int
    force_destroy: bool  # a disposable stack's destroy empties the bucket
    protect: bool = False


class AccessLogBucket(pulumi.ComponentResource):
    """``<prefix>-alb-logs-<account>``: a fixed name (so the deploy roles can be scoped to it, and
    globally unique through the account id).

    ALB access logs support only SSE-S3 (not SSE-KMS); objects are owned by the bucket owner (ACLs
    disabled), public access is blocked, objects expire after ``expire_days``. ``policy`` is what
    the load balancer must wait for: ELB writes a test object when access logs are turned on and
    the change fails with Access Denied if the policy is not there yet.
    """

    def __init__(self, name: str, args: AccessLogsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("service:infra:AccessLogBucket", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        caller = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self))
        account = caller.account_id
        bucket_name = pulumi.Output.concat(args.prefix, "-alb-logs-", account)
        self.bucket = aws.s3.Bucket(
            f"{name}-bucket",
            bucket=bucket_name,
            force_destroy=args.force_destroy,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        ownership = aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=self.bucket.id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=child,
        )
        public_access = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access",
            bucket=self.bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=self.bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm="AES256"
                    )
                )
            ],
            opts=child,
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-expiry",
            bucket=self.bucket.id,
            rules=[
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="expire-access-logs",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                    expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(
                        days=args.expire_days
                    ),
                )
            ],
            opts=child,
        )
        self.policy = aws.s3.BucketPolicy(
            f"{name}-policy",
            bucket=self.bucket.id,
            # From the name, not the bucket's outputs: a preview shows the whole document.
            policy=self._policy_document(
                args.region,
                account,
                pulumi.Output.concat(
                    "arn:", caller.arn.apply(lambda arn: arn.split(":")[1]), ":s3:::", bucket_name
                ),
            ),
            # S3 refuses concurrent changes to one bucket's access settings ("conflicting
            # conditional operation"): one after the other.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[ownership, public_access]),
        )
        self.bucket_name = self.bucket.bucket
        self.register_outputs({"bucket": self.bucket_name})

    def _policy_document(
        self, region: str, account: pulumi.Input[str], arn: pulumi.Output[str]
    ) -> pulumi.Output[str]:
        """ELB's documented policy for the region (regions before August 2022: the region's ELB
        account, from the provider; later ones: the log delivery service principal), writing only
        under AWSLogs/<this account>/, and nothing over plain HTTP."""
        if catalog.elb_logs_use_account_principal(region):
            elb = aws.elb.get_service_account_output(
                region=region, opts=pulumi.InvokeOutputOptions(parent=self)
            )
            principal: dict = {"AWS": elb.arn}
        else:
            principal = {"Service": catalog.ELB_LOG_DELIVERY_PRINCIPAL}
        return pulumi.Output.json_dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "ElbAccessLogDelivery",
                        "Effect": "Allow",
                        "Principal": principal,
                        "Action": "s3:PutObject",
                        "Resource": pulumi.Output.concat(arn, "/AWSLogs/", account, "/*"),
                    },
                    {
                        "Sid": "DenyInsecureTransport",
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:*",
                        "Resource": [arn, pulumi.Output.concat(arn, "/*")],
                        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                    },
                ],
            }
        )
