"""The state bucket's policy."""

from __future__ import annotations

from infra.bootstrap.policies.document import document
from infra.bootstrap.policies.scope import AccountScope


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
