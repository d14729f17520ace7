"""StackConfig: stack files load; bad values fail naming the key, the stack and the expectation."""

from __future__ import annotations

import re

import pytest

from infra.config import ConfigError, StackConfig
from infra.mocks import run_program
from infra.plan import load_stack_config


def load(stack: str, **overrides) -> StackConfig:
    config = load_stack_config(stack)
    config["service:imageTag"] = "test"
    for key, value in overrides.items():
        full = key if ":" in key else f"service:{key}"
        if value is None:
            config.pop(full, None)
        else:
            config[full] = value
    loaded: list[StackConfig] = []
    run_program(stack, config, program=lambda: loaded.append(StackConfig.load(offline=True)))
    return loaded[0]


def config_error(stack: str, **overrides) -> str:
    with pytest.raises(ConfigError) as caught:
        load(stack, **overrides)
    return str(caught.value)


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_every_stack_file_is_valid(stack):
    cfg = load(stack)
    assert cfg.stack == stack
    assert cfg.environment == stack


def test_stack_semantics_come_from_the_stack_files():
    dev, staging, prod = load("dev"), load("staging"), load("prod")
    assert (dev.ephemeral, dev.protect, dev.nat_gateways) == (False, False, "none")
    assert (staging.ephemeral, staging.protect) == (True, False)
    assert (prod.ephemeral, prod.protect, prod.nat_gateways) == (False, True, "per-az")
    assert len(prod.availability_zones) == 3 and len(dev.availability_zones) == 2
    assert prod.desired_count >= 2 and prod.min_count >= 2
    assert prod.certificate_arn is not None and prod.require_https


def test_invalid_fargate_memory_names_key_stack_and_allowed_values():
    message = config_error("prod", taskMemory=300)
    assert message == (
        "service:taskMemory in stack 'prod': expected a Fargate memory size for taskCpu=512: "
        "one of 1024, 2048, 3072, 4096, got 300"
    )


def test_unknown_nat_mode_is_rejected():
    message = config_error("dev", natGateways="two")
    assert message == (
        "service:natGateways in stack 'dev': expected one of none, single, per-az, got 'two'"
    )


def test_log_retention_must_be_a_cloudwatch_value():
    message = config_error("staging", logRetentionDays=10)
    assert message.startswith("service:logRetentionDays in stack 'staging': expected one of 1, 3,")
    assert message.endswith("got 10")


def test_non_integer_count_is_rejected():
    message = config_error("dev", desiredCount="two")
    assert message == "service:desiredCount in stack 'dev': expected an integer, got 'two'"


def test_missing_region_names_the_aws_namespace():
    message = config_error("dev", **{"aws:region": None})
    assert message == (
        "aws:region in stack 'dev': expected an AWS region such as us-east-1, it is not set"
    )


def test_https_required_without_certificate_is_rejected():
    message = config_error("prod", certificateArn=None)
    assert message == (
        "service:certificateArn in stack 'prod': expected an ACM certificate ARN because "
        "requireHttps is true, it is not set"
    )


def test_ephemeral_stack_cannot_be_protected():
    message = config_error("staging", protect=True)
    assert message.startswith("service:protect in stack 'staging': expected false because")


def test_availability_zones_must_belong_to_the_region():
    message = config_error("dev", availabilityZones=["eu-west-1a", "eu-west-1b"])
    assert "service:availabilityZones in stack 'dev'" in message
    assert "2 or 3 distinct availability zones in us-east-1" in message


def test_desired_count_outside_autoscaling_bounds_is_rejected():
    message = config_error("prod", desiredCount=20)
    assert message == (
        "service:desiredCount in stack 'prod': expected minCount (2) <= desiredCount <= "
        "maxCount (10), got 20"
    )


def test_unknown_alarm_threshold_key_is_rejected():
    message = config_error("prod", alarms={"cpu": 50})
    assert re.match(r"service:alarms\.cpu in stack 'prod': expected one of alb5xxPercent", message)


def test_unknown_stack_name_needs_an_explicit_environment():
    message = config_error("dev", environment="qa")
    assert message.startswith("service:environment in stack 'dev': expected one of dev, staging")


def test_defaults_apply_when_keys_are_absent():
    cfg = load("dev", taskCpu=None, taskMemory=None, idleTimeoutSeconds=None)
    assert (cfg.task_cpu, cfg.task_memory, cfg.idle_timeout_seconds) == (256, 512, 60)
    assert cfg.platform == "linux/amd64"


def test_unknown_rate_limit_variable_is_rejected_naming_the_valid_ones():
    message = config_error("dev", rateLimits={"RATE_LIMIT_LOGIN": "5/minute"})
    assert message.startswith("service:rateLimits in stack 'dev': expected keys among")
    assert "RATE_LIMIT_AUTH_TOKEN" in message and "RATE_LIMIT_LOGIN" in message


def test_malformed_rate_limit_value_is_rejected():
    message = config_error("dev", rateLimits={"RATE_LIMIT_ITEMS_CREATE": "lots"})
    assert message.startswith("service:rateLimits in stack 'dev': expected limits such as")
    assert "lots" in message


@pytest.mark.parametrize("stack", ["Feature_X", "pr--12", "x" * 30, "dev-"])
def test_stack_names_that_cannot_prefix_aws_physical_names_are_refused(stack):
    config = {**load_stack_config("dev"), "service:imageTag": "test"}
    with pytest.raises(ConfigError) as caught:
        run_program(stack, config, program=StackConfig.load)
    message = str(caught.value)
    assert message.startswith(f"stack name '{stack}' of project 'service': expected lowercase")
    assert "at most 34 characters" in message


def test_longest_accepted_stack_name_keeps_the_replication_group_id_within_40():
    stack = "s" + "1" * 25  # "service-" + 26 = 34, + "-redis" = 40
    config = {**load_stack_config("dev"), "service:imageTag": "test", "service:environment": "dev"}
    run = run_program(stack, config)
    group_id = run.named("cache-redis").inputs["replicationGroupId"]
    assert group_id == f"service-{stack}-redis" and len(group_id) == 40
    assert re.fullmatch(r"[a-z][a-z0-9-]*[a-z0-9]", group_id) and "--" not in group_id
