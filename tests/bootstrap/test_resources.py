"""What the bootstrap creates: the state bucket, the keys, the OIDC provider, the outputs."""

import json

from tests.bootstrap.conftest import ACCOUNT, BUCKET, BUCKET_ARN, REPOSITORY, document, role_arn
from tests.bootstrap.iam_eval import matches


def inputs(run, name):
    return run.named(name).plain_inputs()


def test_state_bucket_is_named_for_account_and_region_and_protected(bootstrap):
    bucket = bootstrap.named("state-bucket")
    assert bucket.type == "aws:s3/bucket:Bucket"  # pulumi_aws 7's current name, not BucketV2
    assert bucket.plain_inputs()["bucket"] == BUCKET
    assert bucket.protect
    assert not bucket.plain_inputs().get("forceDestroy")
    assert not bucket.plain_inputs().get("objectLockEnabled")


def test_state_bucket_is_versioned_private_and_owner_enforced(bootstrap):
    assert inputs(bootstrap, "state-versioning")["versioningConfiguration"]["status"] == "Enabled"
    block = inputs(bootstrap, "state-public-access")
    flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    assert all(block[flag] is True for flag in flags), block
    rule = inputs(bootstrap, "state-ownership")["rule"]
    assert rule["objectOwnership"] == "BucketOwnerEnforced"


def test_state_bucket_encrypts_with_its_own_kms_key_and_bucket_keys(bootstrap):
    (rule,) = inputs(bootstrap, "state-encryption")["rules"]
    default = rule["applyServerSideEncryptionByDefault"]
    assert default["sseAlgorithm"] == "aws:kms"
    assert default["kmsMasterKeyId"].split(":key/")[1].startswith("state-key")
    assert rule["bucketKeyEnabled"] is True
    assert rule["blockedEncryptionTypes"] == ["SSE-C"]


def test_old_state_versions_expire_and_multipart_uploads_are_aborted(bootstrap):
    (rule,) = inputs(bootstrap, "state-lifecycle")["rules"]
    assert rule["status"] == "Enabled"
    assert rule["noncurrentVersionExpiration"]["noncurrentDays"] == 90
    assert rule["abortIncompleteMultipartUpload"]["daysAfterInitiation"] == 7


def test_bucket_policy_denies_plain_http_and_other_encryption(bootstrap):
    policy = document(bootstrap.named("state-policy"))
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    tls = by_sid["DenyInsecureTransport"]
    assert tls["Effect"] == "Deny" and tls["Principal"] == "*" and tls["Action"] == "s3:*"
    assert sorted(tls["Resource"]) == [BUCKET_ARN, f"{BUCKET_ARN}/*"]
    assert tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    other = by_sid["DenyOtherEncryption"]["Condition"]
    # only a put that asks for something else is refused: Pulumi's own puts send no header and
    # get the bucket default (the KMS key)
    assert other == {
        "Null": {"s3:x-amz-server-side-encryption": "false"},
        "StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"},
    }
    assert "DenyOtherKmsKeys" in by_sid


def test_secrets_keys_rotate_have_aliases_and_are_protected(bootstrap):
    for key_class in ("prod", "nonprod"):
        key = bootstrap.named(f"secrets-{key_class}")
        assert key.plain_inputs()["enableKeyRotation"] is True
        assert key.protect
        alias = inputs(bootstrap, f"secrets-{key_class}-alias")
        assert alias["name"] == f"alias/service-pulumi-{key_class}"
    assert inputs(bootstrap, "state-key")["enableKeyRotation"] is True
    assert inputs(bootstrap, "state-key-alias")["name"] == "alias/service-pulumi-state"


def _users(key_policy, action):
    (statement,) = [s for s in key_policy["Statement"] if s["Action"] == action]
    return statement["Condition"]["ArnEquals"]["aws:PrincipalArn"]


def test_key_policies_let_only_the_right_roles_use_each_key(bootstrap):
    operator = f"arn:aws:iam::{ACCOUNT}:role/Administrator"
    prod = document(bootstrap.named("secrets-prod"))
    nonprod = document(bootstrap.named("secrets-nonprod"))
    assert sorted(_users(prod, "kms:Decrypt")) == sorted(
        [role_arn("preview-prod"), role_arn("deploy-prod"), operator]
    )
    assert sorted(_users(nonprod, "kms:Decrypt")) == sorted(
        [role_arn("preview"), role_arn("deploy-staging"), role_arn("deploy-review"), operator]
    )
    assert sorted(_users(nonprod, "kms:Encrypt")) == sorted(
        [role_arn("deploy-staging"), role_arn("deploy-review"), operator]
    )
    assert role_arn("deploy-review") not in _users(prod, "kms:Decrypt") + _users(
        prod, "kms:Encrypt"
    )
    for key_policy in (prod, nonprod):
        admin = next(s for s in key_policy["Statement"] if s["Sid"] == "AccountAdministersTheKey")
        assert admin["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
        for usage in ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:ReEncryptFrom"):
            assert not any(matches(a, usage, ignore_case=True) for a in admin["Action"]), usage
        assert any(matches(a, "kms:PutKeyPolicy", ignore_case=True) for a in admin["Action"])


def test_the_github_oidc_provider_has_the_sts_audience_and_no_thumbprints(bootstrap):
    provider = inputs(bootstrap, "github-oidc")
    assert provider["url"] == "https://token.actions.githubusercontent.com"
    assert provider["clientIdLists"] == ["sts.amazonaws.com"]
    assert not provider.get("thumbprintLists")  # IAM trusts GitHub's CA itself


def test_an_existing_oidc_provider_is_reused_not_created(bootstrap_run):
    existing = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
    run = bootstrap_run(existingOidcProviderArn=existing)
    assert run.find("github-oidc") is None
    trust = document(run.named("github-preview", "aws:iam/role:Role"), "assumeRolePolicy")
    assert trust["Statement"][0]["Principal"] == {"Federated": existing}


def test_the_provider_only_works_in_the_configured_account(bootstrap):
    provider = bootstrap.named("aws", "pulumi:providers:aws").plain_inputs()
    assert json.loads(provider["allowedAccountIds"]) == [ACCOUNT]


def test_outputs_name_the_backend_the_secrets_providers_and_the_roles(bootstrap):
    out = bootstrap.outputs
    assert out["backendUrl"] == f"s3://{BUCKET}"
    assert out["secretsProviders"] == {
        "prod": "awskms://alias/service-pulumi-prod?region=us-east-1",
        "nonprod": "awskms://alias/service-pulumi-nonprod?region=us-east-1",
    }
    assert out["previewRoleArn"] == role_arn("preview")
    assert out["deployStagingRoleArn"] == role_arn("deploy-staging")
    assert out["deployReviewRoleArn"] == role_arn("deploy-review")
    assert out["previewProdRoleArn"] == role_arn("preview-prod")
    assert out["deployProdRoleArn"] == role_arn("deploy-prod")


def test_github_variables_are_the_exact_gh_commands_the_workflows_need(bootstrap):
    lines = bootstrap.outputs["githubVariables"].splitlines()
    repo = f"--repo {REPOSITORY}"
    assert lines == [
        f"gh variable set AWS_REGION {repo} --body us-east-1",
        f"gh variable set PULUMI_BACKEND_URL {repo} --body s3://{BUCKET}",
        f"gh variable set PULUMI_SECRETS_PROVIDER {repo} "
        "--body 'awskms://alias/service-pulumi-nonprod?region=us-east-1'",
        f"gh variable set PULUMI_SECRETS_PROVIDER {repo} --env production "
        "--body 'awskms://alias/service-pulumi-prod?region=us-east-1'",
        f"gh variable set AWS_PREVIEW_ROLE_ARN {repo} --body {role_arn('preview')}",
        f"gh variable set AWS_DEPLOY_STAGING_ROLE_ARN {repo} --body {role_arn('deploy-staging')}",
        f"gh variable set AWS_DEPLOY_REVIEW_ROLE_ARN {repo} --body {role_arn('deploy-review')}",
        f"gh variable set AWS_PREVIEW_PROD_ROLE_ARN {repo} --body {role_arn('preview-prod')}",
        f"gh variable set AWS_DEPLOY_PROD_ROLE_ARN {repo} --body {role_arn('deploy-prod')}",
    ]


def test_every_variable_the_workflows_read_is_set(bootstrap):
    import re
    from pathlib import Path

    workflows = Path(__file__).resolve().parents[2] / ".github" / "workflows"
    used = set()
    for path in workflows.glob("*.yml"):
        text = path.read_text()
        used |= set(re.findall(r"vars\.([A-Z_]+)", text))
        used |= set(re.findall(r"^\s*role: ([A-Z_]+)$", text, re.M))  # drift.yml: vars[matrix.role]
    aws_and_pulumi = {v for v in used if v.startswith(("AWS_", "PULUMI_"))}
    assert {"AWS_DEPLOY_REVIEW_ROLE_ARN", "AWS_PREVIEW_PROD_ROLE_ARN"} <= aws_and_pulumi
    set_here = set(re.findall(r"gh variable set (\S+)", bootstrap.outputs["githubVariables"]))
    assert aws_and_pulumi <= set_here, f"variables not printed: {sorted(aws_and_pulumi - set_here)}"


def test_components_follow_the_project_style(bootstrap):
    components = [r for r in bootstrap.resources if not r.custom]
    assert {c.type for c in components} == {
        "service-bootstrap:bootstrap:StateBackend",
        "service-bootstrap:bootstrap:SecretsKeys",
        "service-bootstrap:bootstrap:GithubCi",
    }
    children = [r for r in bootstrap.resources if r.custom and r.type != "pulumi:providers:aws"]
    assert all(r.parent in {"state", "secrets", "github"} for r in children)
