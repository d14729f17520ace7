"""The bootstrap's policy documents, as plain dicts (stdlib only, no Pulumi).

Pure functions of an :class:`AccountScope` (account, region, names) and the KMS key ARNs, so the
tests evaluate exactly what ``pulumi up`` would send, and ``python -m infra.bootstrap.plan``
prints them.

Who may do what (:data:`ROLE_VARIABLES` names the repository variable of each role):

* ``preview`` (AWS_PREVIEW_ROLE_ARN, pull requests): reads; dev's and staging's state objects;
  ``kms:Decrypt`` with the non-prod secrets key. Explicitly denied prod's state and key, image
  pushes and ``iam:PassRole``, so a broad policy attached later cannot undo the separation.
* ``preview`` also serves drift.yml's dev and staging entries: its trust accepts the
  ``pull_request`` subject and the GitHub environment ``drift`` (same permissions).
* ``deploy-staging`` / ``deploy-review`` / ``deploy-prod``: the services ``infra/`` manages,
  writes scoped to the stack where the service allows it, IAM only for roles under the stack's
  path (``/<project>-<stack>/``) and only with the permissions boundary; prod may also push to its
  repositories and pull staging's (promotion copies the digest). ``deploy-review`` (environment
  ``review``) is staging's policy for the stack wildcard ``pr-*`` (:data:`REVIEW_STACKS`):
  ``<project>-pr-*`` names, ``/<project>-pr-*/`` roles, ``pr-*`` state objects and ``stack``
  tags, the non-prod key; resources tagged for a named stack are denied.
* ``preview-prod``: reads; prod's state objects; ``kms:Decrypt`` with the prod key; image reads
  on staging's and prod's repositories. No write at all (a diy-backend preview takes no lock).

Statements that allow a write action on ``"Resource": "*"`` are only those in
:data:`WILDCARD_WRITE_EXCEPTIONS`, each with the reason (the test checks nothing else does).

Modules: :mod:`~.scope` (names and ARNs), :mod:`~.actions` (the action lists, as data),
:mod:`~.document` (statement builders), :mod:`~.trust`, :mod:`~.roles`, :mod:`~.boundary`,
:mod:`~.keys` and :mod:`~.bucket`.
"""

from infra.bootstrap.policies.actions import (
    ATTACHABLE_POLICIES,
    IMAGE_PUSH_ACTIONS,
    IMAGE_READ_ACTIONS,
    KEY_ADMIN_ACTIONS,
    PASSED_TO_SERVICES,
    READ_ACTIONS,
    SERVICE_LINKED_ROLES,
    WILDCARD_WRITE_EXCEPTIONS,
)
from infra.bootstrap.policies.boundary import boundary_policy
from infra.bootstrap.policies.bucket import bucket_policy
from infra.bootstrap.policies.document import VERSION, document
from infra.bootstrap.policies.keys import key_policy, secrets_key_users, state_key_policy
from infra.bootstrap.policies.roles import (
    deploy_policy,
    preview_policy,
    preview_prod_policy,
    role_policy,
)
from infra.bootstrap.policies.scope import (
    REVIEW_STACKS,
    ROLE_KINDS,
    ROLE_VARIABLES,
    STACK_TAG,
    AccountScope,
    KeyArns,
)
from infra.bootstrap.policies.trust import (
    GITHUB_OIDC_HOST,
    GITHUB_OIDC_URL,
    STS_AUDIENCE,
    trust_policy,
)

__all__ = [
    "ATTACHABLE_POLICIES",
    "GITHUB_OIDC_HOST",
    "GITHUB_OIDC_URL",
    "IMAGE_PUSH_ACTIONS",
    "IMAGE_READ_ACTIONS",
    "KEY_ADMIN_ACTIONS",
    "PASSED_TO_SERVICES",
    "READ_ACTIONS",
    "REVIEW_STACKS",
    "ROLE_KINDS",
    "ROLE_VARIABLES",
    "SERVICE_LINKED_ROLES",
    "STACK_TAG",
    "STS_AUDIENCE",
    "VERSION",
    "WILDCARD_WRITE_EXCEPTIONS",
    "AccountScope",
    "KeyArns",
    "boundary_policy",
    "bucket_policy",
    "deploy_policy",
    "document",
    "key_policy",
    "preview_policy",
    "preview_prod_policy",
    "role_policy",
    "secrets_key_users",
    "state_key_policy",
    "trust_policy",
]
