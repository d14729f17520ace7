"""Who may assume a CI role: GitHub's OIDC tokens of this repository, per job kind."""

from __future__ import annotations

from infra.bootstrap.policies.document import document
from infra.bootstrap.policies.scope import AccountScope

GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
GITHUB_OIDC_URL = f"https://{GITHUB_OIDC_HOST}"
STS_AUDIENCE = "sts.amazonaws.com"


def trust_policy(scope: AccountScope, kind: str) -> dict:
    """Only GitHub's OIDC tokens for exactly this repository and job kind(s), audience STS:
    StringEquals on the exact subjects (one value, or the list when a role serves several)."""
    subjects = scope.subjects(kind)
    sub = subjects[0] if len(subjects) == 1 else list(subjects)
    return document(
        {
            "Sid": "GitHubActionsOidc",
            "Effect": "Allow",
            "Principal": {"Federated": scope.oidc_provider_arn},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {
                    f"{GITHUB_OIDC_HOST}:aud": STS_AUDIENCE,
                    f"{GITHUB_OIDC_HOST}:sub": sub,
                }
            },
        }
    )
