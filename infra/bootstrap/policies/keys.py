"""Key policies: the secrets-provider keys and the state bucket's SSE-KMS key."""

from __future__ import annotations

from infra.bootstrap.policies.actions import KEY_ADMIN_ACTIONS
from infra.bootstrap.policies.document import document
from infra.bootstrap.policies.scope import ROLE_KINDS, AccountScope


def key_policy(scope: AccountScope, users: dict[str, list[str]]) -> dict:
    """A secrets-provider key: the account administers it (IAM decides who), but using it is
    limited here to the principals in ``users`` (action -> principal ARNs), so a broad IAM
    policy attached to another role later still cannot decrypt with it. The account keeps
    kms:PutKeyPolicy, so the key can never become unmanageable."""
    root = _account_root(scope)
    statements = [_account_administers(root)]
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
    deployers = [scope.role_arn("deploy-staging"), scope.role_arn("deploy-review")]
    return {
        "kms:Decrypt": [scope.role_arn("preview"), *deployers, *operators],
        "kms:Encrypt": [*deployers, *operators],
    }


def state_key_policy(scope: AccountScope) -> dict:
    """The bucket's SSE-KMS key: used only through S3 for this bucket, by the CI roles (their
    IAM policies then decide which objects) and the operators."""
    root = _account_root(scope)
    users = sorted({*(scope.role_arn(kind) for kind in ROLE_KINDS), *scope.operator_arns})
    return document(
        _account_administers(root),
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


def _account_root(scope: AccountScope) -> str:
    return f"arn:{scope.partition}:iam::{scope.account_id}:root"


def _account_administers(root: str) -> dict:
    """Every key policy lets the account administer the key (IAM then decides who may)."""
    return {
        "Sid": "AccountAdministersTheKey",
        "Effect": "Allow",
        "Principal": {"AWS": root},
        "Action": list(KEY_ADMIN_ACTIONS),
        "Resource": "*",
    }
