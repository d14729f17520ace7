"""Per-stack lifecycle: staging destroys in one go, prod protects data; default tags everywhere."""

from __future__ import annotations

import json

DATA = {
    "aws:rds/instance:Instance",
    "aws:elasticache/replicationGroup:ReplicationGroup",
    "aws:ecr/repository:Repository",
    "aws:secretsmanager/secret:Secret",
}


def test_staging_is_destroyable_in_one_pulumi_destroy(staging):
    assert not [r.name for r in staging.resources if r.protect]
    assert staging.named("registry-repo").inputs["forceDelete"] is True
    for secret in staging.of_type("aws:secretsmanager/secret:Secret"):
        assert secret.inputs["recoveryWindowInDays"] == 0, secret.name
    db = staging.named("database-instance").inputs
    assert db["skipFinalSnapshot"] is True and db["deletionProtection"] is False
    assert "finalSnapshotIdentifier" not in db
    assert staging.named("web-alb").inputs["enableDeletionProtection"] is False


def test_prod_protects_every_data_resource(prod):
    protected = {r.type for r in prod.resources if r.protect}
    assert protected >= DATA
    for r in prod.resources:
        if r.type in DATA:
            assert r.protect, f"{r.type} {r.name} is not protected"


def test_prod_database_has_deletion_protection_final_snapshot_and_multi_az(prod):
    db = prod.named("database-instance").inputs
    assert db["deletionProtection"] is True
    assert db["skipFinalSnapshot"] is False
    assert db["finalSnapshotIdentifier"] == "service-prod-db-final-snapshot"
    assert db["multiAz"] is True
    assert db["backupRetentionPeriod"] >= 7


def test_prod_registry_tags_are_immutable_except_the_build_cache(prod, staging):
    repo = prod.named("registry-repo").inputs
    assert repo["imageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION"
    assert repo["imageTagMutabilityExclusionFilters"] == [
        {"filter": "buildcache*", "filterType": "WILDCARD"}
    ]
    assert repo.get("forceDelete") is False
    assert staging.named("registry-repo").inputs["imageTagMutability"] == "MUTABLE"


def test_prod_secrets_keep_a_recovery_window(prod):
    for secret in prod.of_type("aws:secretsmanager/secret:Secret"):
        assert secret.inputs["recoveryWindowInDays"] == 30, secret.name


def test_database_is_private_encrypted_and_forces_ssl(any_stack):
    _, run = any_stack
    db = run.named("database-instance").inputs
    assert db["publiclyAccessible"] is False and db["storageEncrypted"] is True
    assert db["manageMasterUserPassword"] is True and "password" not in db
    assert db["engine"] == "postgres"
    params = run.named("database-params").inputs
    assert params["family"] == "postgres16"
    values = {p["name"]: p["value"] for p in params["parameters"]}
    assert values["rds.force_ssl"] == "1"
    subnet_ids = run.named("database-subnets").inputs["subnetIds"]
    assert all(s.startswith("network-private-") for s in subnet_ids)


def test_cache_encrypts_in_transit_and_at_rest_and_fails_over_in_prod(any_stack):
    stack, run = any_stack
    redis = run.named("cache-redis")
    i = redis.plain_inputs()
    assert i["transitEncryptionEnabled"] is True and i["atRestEncryptionEnabled"] is True
    assert redis.redacted_inputs()["authToken"] == "[secret]"
    failover = stack == "prod"
    assert i["numCacheClusters"] == (2 if failover else 1)
    assert i["automaticFailoverEnabled"] is failover and i["multiAzEnabled"] is failover
    assert all(
        s.startswith("network-private-") for s in run.named("cache-subnets").inputs["subnetIds"]
    )


def test_redis_url_secret_holds_a_tls_url_with_the_token(dev):
    (v,) = [
        r
        for r in dev.of_type("aws:secretsmanager/secretVersion:SecretVersion")
        if r.name == "cache-url"
    ]
    assert v.redacted_inputs()["secretString"] == "[secret]"
    url = v.plain_inputs()["secretString"]
    assert url.startswith("rediss://:") and url.endswith(":6379/0")


def test_provider_sets_default_tags_and_every_aws_resource_uses_it(any_stack):
    stack, run = any_stack
    (provider,) = run.of_type("pulumi:providers:aws")
    tags = json.loads(provider.inputs["defaultTags"])["tags"]
    assert tags == {
        "project": "service",
        "stack": stack,
        "environment": stack,
        "managed-by": "pulumi",
    }
    assert provider.inputs["region"] == "us-east-1"
    untagged = [
        r.name
        for r in run.resources
        if r.custom and r.type.startswith("aws:") and not r.provider.startswith(provider.urn)
    ]
    assert untagged == []


def test_extra_tags_from_config_join_the_defaults(custom):
    (provider,) = custom.of_type("pulumi:providers:aws")
    assert json.loads(provider.inputs["defaultTags"])["tags"]["cost-center"] == "42"


def test_stack_outputs_name_url_repository_image_cluster_service_and_logs(any_stack):
    stack, run = any_stack
    for key in (
        "serviceUrl",
        "repositoryUrl",
        "imageRef",
        "clusterName",
        "serviceName",
        "logGroup",
    ):
        assert run.outputs.get(key), f"{stack}: output {key} missing"
    assert run.outputs["logGroup"] == f"/ecs/service-{stack}"
