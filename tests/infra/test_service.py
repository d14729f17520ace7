"""The ECS service and its task definition."""

from __future__ import annotations

import json

import pytest

from infra.tools.mocks import Run, mock_id
from tests.infra.conftest import TEST_IMAGE_TAG, containers, policy_statements, subnet_ids

LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"

SECRET_NAMES = {"DB_PASSWORD", "DB_USER", "JWT_SECRET", "REDIS_URL"}


def app_containers(run: Run) -> dict[str, dict]:
    return containers(run.named("app-app"))


def test_secrets_reach_the_task_only_by_reference(any_stack):
    stack, run = any_stack
    for td in run.of_type("aws:ecs/taskDefinition:TaskDefinition"):
        for name, c in containers(td).items():
            env = {e["name"]: e["value"] for e in c["environment"]}
            secrets = {s["name"]: s["valueFrom"] for s in c["secrets"]}
            assert set(secrets) == SECRET_NAMES, f"{stack}/{td.name}/{name}"
            assert not SECRET_NAMES & set(env), f"{stack}/{td.name}/{name}: secret in environment"
            assert "DATABASE_URL" not in env
            assert all(v.startswith("arn:aws:secretsmanager:") for v in secrets.values())
        # No secret material anywhere in the definition (mock random values end in 40 "x").
        raw = td.inputs["containerDefinitions"]
        assert isinstance(raw, str), f"{td.name}: container definitions became a secret"
        assert "x" * 40 not in raw and "rediss://" not in raw


def test_database_credentials_use_the_rds_managed_secret_json_keys(prod):
    secrets = {s["name"]: s["valueFrom"] for s in app_containers(prod)["app"]["secrets"]}
    rds_secret = prod.outputs["databaseSecretArn"]
    assert secrets["DB_USER"] == f"{rds_secret}:username::"
    assert secrets["DB_PASSWORD"] == f"{rds_secret}:password::"


def test_environment_follows_the_contract(prod):
    env = {e["name"]: e["value"] for e in app_containers(prod)["app"]["environment"]}
    assert env["ENVIRONMENT"] == "prod"
    assert env["DB_PORT"] == "5432" and env["DB_NAME"] == "app" and env["DB_SSL"] == "verify-full"
    assert env["DB_HOST"].endswith(".rds.amazonaws.com")
    assert env["FORWARDED_ALLOW_IPS"] == "10.0.0.0/16"
    assert (env["LOG_LEVEL"], env["LOG_JSON"]) == ("INFO", "true")


def test_uvicorn_keep_alive_outlasts_the_alb_idle_timeout(any_stack):
    _, run = any_stack
    env = {e["name"]: e["value"] for e in app_containers(run)["app"]["environment"]}
    idle = run.named("web-alb").inputs["idleTimeout"]
    assert int(env["UVICORN_TIMEOUT_KEEP_ALIVE"]) > idle


def test_rate_limits_from_stack_config_become_plain_environment(custom):
    env = {e["name"]: e["value"] for e in app_containers(custom)["app"]["environment"]}
    assert env["RATE_LIMIT_AUTH_TOKEN"] == "5/minute"


def test_task_definition_runs_the_pushed_digest_not_a_tag(any_stack):
    _, run = any_stack
    image = run.outputs["imageRef"]
    repo = run.outputs["repositoryUrl"]
    assert image.startswith(f"{repo}@sha256:") and len(image) == len(repo) + 1 + 71
    for td in run.of_type("aws:ecs/taskDefinition:TaskDefinition"):
        assert {c["image"] for c in containers(td).values()} == {image}, td.name
    assert TEST_IMAGE_TAG not in image


def test_task_definition_is_fargate_with_matching_platform(dev, custom):
    for run, arch, platform in ((dev, "X86_64", "linux/amd64"), (custom, "ARM64", "linux/arm64")):
        td = run.named("app-app").inputs
        assert td["runtimePlatform"] == {"cpuArchitecture": arch, "operatingSystemFamily": "LINUX"}
        assert td["requiresCompatibilities"] == ["FARGATE"] and td["networkMode"] == "awsvpc"
        assert run.named("image-image").inputs["platforms"] == [platform]


def test_service_has_circuit_breaker_with_rollback_and_waits_for_steady_state(any_stack):
    stack, run = any_stack
    svc = run.named("app-service")
    i = svc.inputs
    assert i["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}, stack
    assert i["waitForSteadyState"] is True
    assert i["deploymentMinimumHealthyPercent"] == 100
    assert i["deploymentMaximumPercent"] == 200
    assert i["healthCheckGracePeriodSeconds"] >= 60
    # prod's canary waits for its two 5-minute bakes on top of a rolling deployment's 20 minutes
    minutes = 30 if stack == "prod" else 20
    assert svc.custom_timeouts == {op: f"{minutes}m" for op in ("create", "update", "delete")}
    assert "desiredCount" in svc.ignore_changes


def test_service_is_registered_after_its_listener(any_stack):
    stack, run = any_stack
    listener = "web-https" if stack == "prod" else "web-http"
    assert run.named(listener).urn in run.named("app-service").dependencies


@pytest.mark.parametrize(("stack", "public"), [("dev", True), ("staging", False), ("prod", False)])
def test_tasks_get_a_public_ip_only_without_nat(stack_run, stack, public):
    run = stack_run(stack)
    net = run.named("app-service").inputs["networkConfiguration"]
    tier = "public" if public else "private"
    assert net["assignPublicIp"] is public
    assert net["securityGroups"] == [
        mock_id(run.named("network-tasks", "aws:ec2/securityGroup:SecurityGroup"))
    ]
    assert net["subnets"] == subnet_ids(run, tier)


def test_service_targets_the_app_container_on_8000(any_stack):
    _, run = any_stack
    (lb,) = run.named("app-service").inputs["loadBalancers"]
    assert (lb["containerName"], lb["containerPort"]) == ("app", 8000)
    assert app_containers(run)["app"]["portMappings"][0]["containerPort"] == 8000


def test_execution_role_reads_exactly_the_three_app_secrets(any_stack):
    _, run = any_stack
    (statement,) = policy_statements(run.named("app-execution-secrets"))
    assert statement["Action"] == ["secretsmanager:GetSecretValue"]
    referenced = {
        s["valueFrom"].removesuffix(":username::").removesuffix(":password::")
        for s in app_containers(run)["app"]["secrets"]
    }
    assert set(statement["Resource"]) == referenced and len(referenced) == 3


def test_cluster_has_container_insights_and_logs_have_retention(any_stack):
    stack, run = any_stack
    assert run.named("app-cluster").inputs["settings"] == [
        {"name": "containerInsights", "value": "enabled"}
    ]
    retention = run.named("app-logs").inputs["retentionInDays"]
    assert retention == {"dev": 7, "staging": 7, "prod": 90}[stack]
    log = app_containers(run)["app"]["logConfiguration"]
    assert log["logDriver"] == "awslogs"
    assert log["options"]["awslogs-group"] == f"/ecs/service-{stack}"


def test_prod_runs_at_least_two_tasks(prod):
    assert prod.named("app-service").inputs["desiredCount"] >= 2


def test_task_can_reread_only_the_rds_secret_after_rotation(any_stack):
    _, run = any_stack
    rds_secret = run.outputs["databaseSecretArn"]
    env = {e["name"]: e["value"] for e in app_containers(run)["app"]["environment"]}
    assert env["DB_PASSWORD_SECRET_ARN"] == rds_secret  # an ARN, not the secret value
    assert env["AWS_REGION"] == "us-east-1"
    (statement,) = policy_statements(run.named("app-task-db-secret"))
    assert statement["Action"] == ["secretsmanager:GetSecretValue"]
    assert statement["Resource"] == [rds_secret]


def trust_of(run: Run, role: str) -> dict:
    (statement,) = json.loads(run.named(role).plain_inputs()["assumeRolePolicy"])["Statement"]
    return statement


def test_task_role_trust_has_the_documented_confused_deputy_guard(any_stack):
    """ECS developer guide, task IAM role: ArnLike aws:SourceArn arn:aws:ecs:<region>:<account>:*
    (a single cluster is not supported) plus StringEquals aws:SourceAccount."""
    _, run = any_stack
    trust = trust_of(run, "app-task")
    assert trust["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}
    assert trust["Condition"] == {
        "StringEquals": {"aws:SourceAccount": "123456789012"},
        "ArnLike": {"aws:SourceArn": "arn:aws:ecs:us-east-1:123456789012:*"},
    }, trust["Condition"]


def test_execution_role_trust_is_limited_to_this_account(any_stack):
    _, run = any_stack
    trust = trust_of(run, "app-execution")
    assert trust["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}


# ---- logs that expire and are owned (issue 20) ------------------------------------------------
RETENTION = {"dev": 7, "staging": 7, "prod": 90}


def test_every_log_group_has_the_stacks_retention(any_stack):
    stack, run = any_stack
    groups = {r.inputs["name"]: r.inputs["retentionInDays"] for r in run.of_type(LOG_GROUP)}
    expected = {
        f"/ecs/service-{stack}": RETENTION[stack],
        f"/aws/ecs/containerinsights/service-{stack}/performance": RETENTION[stack],
        f"/aws/rds/instance/service-{stack}-db/postgresql": RETENTION[stack],
    }
    if stack == "prod":  # the WAF's (wafEnabled)
        expected[f"aws-waf-logs-service-{stack}"] = RETENTION[stack]
    assert groups == expected


def test_cluster_is_named_after_the_stack_and_created_after_its_insights_log_group(any_stack):
    stack, run = any_stack
    cluster = run.named("app-cluster")
    assert cluster.inputs["name"] == f"service-{stack}"
    assert run.named("app-insights-logs").urn in cluster.dependencies


def test_database_exports_postgresql_logs_only_into_its_own_log_group(any_stack):
    _, run = any_stack
    db = run.named("database-instance")
    group = run.named("database-postgresql-logs")
    assert db.inputs["enabledCloudwatchLogsExports"] == ["postgresql"]
    assert group.inputs["name"] == f"/aws/rds/instance/{db.inputs['identifier']}/postgresql"
    assert group.urn in db.dependencies


def test_tasks_verify_the_database_certificate_against_the_bundle_in_the_image(any_stack):
    _, run = any_stack
    for task in ("app-app", "worker-worker"):
        for name, c in containers(run.named(task)).items():
            env = {e["name"]: e["value"] for e in c["environment"]}
            assert env["DB_SSL"] == "verify-full", (task, name)
            assert env["DB_SSL_ROOT_CERT"] == "/etc/ssl/rds/global-bundle.pem", (task, name)


# ---- read-only root filesystem (issue 20) -----------------------------------------------------


@pytest.mark.parametrize(
    ("stack", "read_only"), [("dev", False), ("staging", False), ("prod", True)]
)
def test_essential_containers_are_read_only_with_a_writable_tmp_where_ecs_exec_is_off(
    stack_run, stack, read_only
):
    run = stack_run(stack)
    assert run.named("app-service").inputs["enableExecuteCommand"] is not read_only
    for task in ("app-app", "worker-worker"):
        definition = run.named(task).plain_inputs()
        for name, c in containers(run.named(task)).items():
            expected = read_only and c["essential"]
            assert c.get("readonlyRootFilesystem", False) is expected, (stack, name)
            mounts = c.get("mountPoints", [])
            assert mounts == (
                [{"sourceVolume": "tmp", "containerPath": "/tmp", "readOnly": False}]
                if expected
                else []
            ), (stack, name)
        assert definition.get("volumes", []) == ([{"name": "tmp"}] if read_only else []), task


def test_migration_container_stays_writable(prod):
    migrate = containers(prod.named("app-app"))["migrate"]
    assert migrate["essential"] is False and "readonlyRootFilesystem" not in migrate
