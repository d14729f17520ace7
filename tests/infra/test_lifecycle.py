"""Per-stack lifecycle: staging destroys in one go, prod protects data; default tags everywhere."""

from __future__ import annotations

import json
import re

import pytest

from tests.infra.conftest import run_stack
from tests.infra.conftest import subnet_ids as subnets_of

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
    suffix = prod.named("database-final-snapshot-suffix").plain_inputs()
    assert suffix["byteLength"] == 4
    assert re.fullmatch(r"service-prod-db-final-[0-9a-f]{8}", db["finalSnapshotIdentifier"])
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
    assert subnet_ids == subnets_of(run, "private")


def test_cache_encrypts_in_transit_and_at_rest_and_fails_over_in_prod(any_stack):
    stack, run = any_stack
    redis = run.named("cache-redis")
    i = redis.plain_inputs()
    assert i["transitEncryptionEnabled"] is True and i["atRestEncryptionEnabled"] is True
    assert redis.redacted_inputs()["authToken"] == "[secret]"
    failover = stack == "prod"
    assert i["numCacheClusters"] == (2 if failover else 1)
    assert i["automaticFailoverEnabled"] is failover and i["multiAzEnabled"] is failover
    assert run.named("cache-subnets").inputs["subnetIds"] == subnets_of(run, "private")


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


# ---- replacements that succeed (issue 20) --------------------------------------------------


def test_fixed_names_are_deleted_before_their_replacement(any_stack):
    """The RDS identifier and the replication group id are fixed: create-before-delete would
    fail on the taken name."""
    _, run = any_stack
    db = run.named("database-instance")
    assert db.delete_before_replace is True
    assert run.named("cache-redis").delete_before_replace is True


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_database_identifier_is_fixed_and_old_generated_ones_are_kept(stack):
    db = run_stack(stack).named("database-instance")
    assert db.inputs["identifier"] == f"service-{stack}-db"
    assert "identifierPrefix" not in db.inputs
    assert db.ignore_changes == ["identifierPrefix"]


def test_final_snapshot_name_changes_with_a_replacement_of_the_instance():
    """A new suffix whenever an input that replaces the instance changes (here dbName): the
    replacement's final snapshot cannot collide with the one its predecessor left."""
    before = run_stack("prod").named("database-instance").inputs["finalSnapshotIdentifier"]
    after = (
        run_stack("prod", dbName="other")
        .named("database-instance")
        .inputs["finalSnapshotIdentifier"]
    )
    assert before != after, before
    unrelated = run_stack("prod", dbInstanceClass="db.t4g.large").named("database-instance")
    assert unrelated.inputs["finalSnapshotIdentifier"] == before


@pytest.mark.parametrize(("version", "allowed"), [("16", True), ("17", True), ("16.4", False)])
def test_major_version_upgrades_are_allowed_when_only_the_major_is_pinned(version, allowed):
    db = run_stack("dev", dbEngineVersion=version).named("database-instance").inputs
    assert db["allowMajorVersionUpgrade"] is allowed, (version, db["allowMajorVersionUpgrade"])
    assert db["engineVersion"] == version


def test_tasks_start_only_after_their_roles_policies_exist(any_stack):
    stack, run = any_stack
    policies = [
        r.urn
        for r in run.resources
        if r.type
        in ("aws:iam/rolePolicy:RolePolicy", "aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        and r.parent == "app"
        and not r.name.startswith("app-ecs-infrastructure")  # ECS's own role: the service's
    ]
    expected = 4 if run.find("app-task-exec") else 3
    assert len(policies) == expected, policies
    for dependent in ("app-service", "worker-schedule"):
        deps = set(run.named(dependent).dependencies)
        assert set(policies) <= deps, (stack, dependent, set(policies) - deps)
    assert run.named("worker-run-task").urn in run.named("worker-schedule").dependencies
