"""The ECS service and its task definition."""

from __future__ import annotations

import pytest

from infra.mocks import Run, mock_id
from tests.infra.conftest import TEST_IMAGE_TAG, containers, policy_statements

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
    assert env["DB_PORT"] == "5432" and env["DB_NAME"] == "app" and env["DB_SSL"] == "require"
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
    assert svc.custom_timeouts == {"create": "20m", "update": "20m", "delete": "20m"}
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
    assert all(s.startswith(f"network-{tier}-") for s in net["subnets"])


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
