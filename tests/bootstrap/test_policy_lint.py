"""Every policy document through parliament, and the no-"*"-for-writes rule, checked against
AWS's action catalogue (access levels and resource types) that parliament ships."""

import re

import pytest

from infra.bootstrap import policies
from infra.bootstrap.plan import policy_documents
from tests.bootstrap import parliament_support as lint

ALLOW_TYPES = ("aws:iam/rolePolicy:RolePolicy", "aws:iam/policy:Policy")


def identity_documents(bootstrap) -> dict[str, dict]:
    return {t: d for t, d in policy_documents(bootstrap).items() if t.startswith(ALLOW_TYPES)}


def _actions(statement) -> list[str]:
    value = statement.get("Action", [])
    return value if isinstance(value, list) else [value]


def _resources(statement) -> list[str]:
    value = statement.get("Resource", [])
    return value if isinstance(value, list) else [value]


def test_every_named_action_exists_in_the_aws_catalogue(bootstrap):
    unknown = set()
    for document in policy_documents(bootstrap).values():
        for statement in document["Statement"]:
            for action in _actions(statement):
                if action != "sts:AssumeRoleWithWebIdentity" and not lint.expand(action):
                    unknown.add(action)
    assert not unknown, f"actions AWS does not define (typo?): {sorted(unknown)}"


def test_writes_on_star_are_only_the_listed_exceptions(bootstrap):
    offenders, used = [], set()
    for title, document in identity_documents(bootstrap).items():
        for statement in document["Statement"]:
            if statement["Effect"] != "Allow" or "*" not in _resources(statement):
                continue
            for action in _actions(statement):
                for name in lint.expand(action):
                    if not lint.is_write(name):
                        continue
                    listed = {a.lower(): a for a in policies.WILDCARD_WRITE_EXCEPTIONS}
                    if name in listed:
                        used.add(listed[name])
                    else:
                        offenders.append(f"{title} {statement.get('Sid')}: {name}")
    assert not offenders, (
        "write actions on Resource '*' outside WILDCARD_WRITE_EXCEPTIONS:\n" + "\n".join(offenders)
    )
    assert used == set(policies.WILDCARD_WRITE_EXCEPTIONS), "stale exceptions: " + ", ".join(
        sorted(set(policies.WILDCARD_WRITE_EXCEPTIONS) - used)
    )


@pytest.mark.parametrize("action", sorted(policies.WILDCARD_WRITE_EXCEPTIONS))
def test_each_exception_really_has_no_resource_type(action):
    assert lint.is_write(action)
    assert not lint.has_resource_type(action), f"{action} can be scoped to a resource: do so"


def test_reads_on_star_are_reads(bootstrap):
    for title, document in identity_documents(bootstrap).items():
        reads = [s for s in document["Statement"] if s.get("Sid") == "ReadStackResources"]
        for statement in reads:
            writes = [n for a in _actions(statement) for n in lint.expand(a) if lint.is_write(n)]
            assert not writes, f"{title}: write actions in the read statement: {writes}"


# ---- parliament -----------------------------------------------------------------------------
def _kind(title: str) -> str:
    if title.startswith("aws:iam/role:Role"):
        return "trust"
    if title.startswith("aws:kms/key:Key"):
        return "key"
    if title.startswith("aws:s3/bucketPolicy"):
        return "bucket"
    if title.startswith("aws:iam/policy:Policy"):
        return "boundary"
    return "deploy" if "deploy" in title else "preview"


def _resource_star_is_reads_or_exceptions(finding) -> bool:
    exceptions = {a.lower() for a in policies.WILDCARD_WRITE_EXCEPTIONS}
    return all(
        not lint.is_write(name) or name in exceptions
        for action in finding.detail
        for name in lint.expand(action)
    )


# (document kind or "*", finding) -> why it is accepted; a callable also checks the detail.
ALLOWED_FINDINGS = {
    ("trust", "MALFORMED"): "a trust policy has no Resource element by definition",
    ("trust", "UNKNOWN_FEDERATION_SOURCE"): "parliament does not know GitHub's OIDC provider ARN",
    ("*", "CREDENTIALS_EXPOSURE"): "ecr:GetAuthorizationToken: the program fetches an ECR "
    "token on every run (design.md) and tasks pull their image",
    ("*", "MISMATCHED_TYPE_BUT_USABLE"): "iam:PermissionsBoundary and "
    "s3:x-amz-server-side-encryption-aws-kms-key-id are String keys whose values are ARNs "
    "(AWS's own examples compare them with StringEquals)",
    ("deploy", "PERMISSIONS_MANAGEMENT_ACTIONS"): "the deploy roles manage the stack's own roles "
    "(path-scoped, boundary enforced), its SNS topic and WAF ACL policies",
    ("key", "PERMISSIONS_MANAGEMENT_ACTIONS"): "the account administers its keys (usage is not "
    "among these actions: it is granted to named principals only)",
    ("key", "RESOURCE_STAR"): 'in a key policy "Resource": "*" means this key',
}
CHECKED_FINDINGS = {
    "RESOURCE_STAR": (
        _resource_star_is_reads_or_exceptions,
        'reads on "*" (Describe/List have no resource type) and the listed exceptions',
    ),
    "RESOURCE_POLICY_PRIVILEGE_ESCALATION": (
        lambda f: re.search(r"on arn:aws:s3:::service-[a-z0-9*-]+-alb-logs-\* due to", f.detail),
        "the deploy roles write the policy of their stack's ALB access-log bucket (ELB log "
        "delivery needs one; the review role: the pr-* stacks' buckets); it could admit the role "
        "to that bucket's log objects, no further",
    ),
    "RESOURCE_MISMATCH": (
        lambda f: all(
            "listener/net/" in d["required_format"] or "listener-rule/net/" in d["required_format"]
            for d in f.detail
        ),
        "parliament wants the NLB listener (and listener rule) format too; the program only has "
        "an ALB",
    ),
}


def test_parliament_findings_are_none_or_explicitly_allowed(bootstrap):
    unexplained = []
    for title, document in policy_documents(bootstrap).items():
        kind = _kind(title)
        for finding in lint.findings(document):
            if (kind, finding.issue) in ALLOWED_FINDINGS or (
                "*",
                finding.issue,
            ) in ALLOWED_FINDINGS:
                continue
            check = CHECKED_FINDINGS.get(finding.issue)
            if check and kind != "key" and check[0](finding):
                continue
            unexplained.append(f"{title}: {finding.issue} {finding.detail} {finding.location}")
    assert not unexplained, "parliament findings without a reason:\n" + "\n".join(unexplained)


def test_every_allowance_has_a_reason():
    assert all(reason.strip() for reason in ALLOWED_FINDINGS.values())
    assert all(reason.strip() for _, reason in CHECKED_FINDINGS.values())
