"""StackConfig: stack files load; bad values fail naming the key, the stack and the expectation."""

from __future__ import annotations

import re

import pytest

from infra.config import ConfigError, StackConfig
from infra.tools.mocks import run_program
from infra.tools.plan import load_stack_config


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
    assert (dev.ephemeral, dev.protect, dev.network.nat_gateways) == (False, False, "none")
    assert (staging.ephemeral, staging.protect) == (True, False)
    assert (prod.ephemeral, prod.protect, prod.network.nat_gateways) == (False, True, "per-az")
    assert len(prod.network.availability_zones) == 3
    assert len(dev.network.availability_zones) == 2
    assert prod.task.desired_count >= 2 and prod.task.min_count >= 2
    assert prod.web.certificate_arn is not None and prod.web.require_https


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


def test_interface_endpoints_default_off_and_on_in_prod():
    assert not load("dev").network.interface_endpoints
    assert not load("staging").network.interface_endpoints
    assert load("prod").network.interface_endpoints is True


def test_interface_endpoints_must_be_a_boolean():
    message = config_error("dev", interfaceEndpoints="yes")
    assert message == "service:interfaceEndpoints in stack 'dev': expected true or false, got 'yes'"


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


def test_a_certificate_without_the_dns_name_it_covers_is_refused():
    """https://<ALB DNS name> can never match an ACM certificate: staging gets HTTPS with both."""
    cert = "arn:aws:acm:us-east-1:210987654321:certificate/1b2c3d4e-aaaa-bbbb-cccc-0123456789ab"
    message = config_error("staging", certificateArn=cert)
    assert message.startswith("service:domainName in stack 'staging': expected the DNS name")
    cfg = load("staging", certificateArn=cert, domainName="staging.example.com")
    assert cfg.web.https and not cfg.web.require_https


def test_access_log_expiry_is_bounded():
    message = config_error("prod", albAccessLogsExpireDays=0)
    assert message == (
        "service:albAccessLogsExpireDays in stack 'prod': expected an integer >= 1, got 0"
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
    assert (cfg.task.cpu, cfg.task.memory, cfg.web.idle_timeout_seconds) == (256, 512, 60)
    assert cfg.task.platform == "linux/amd64"


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


# ---- strict config: what a typo or a wrong value used to deploy in silence ----------------------


def test_unknown_key_is_refused_with_a_did_you_mean():
    message = config_error("prod", taskMemroy=1024)
    assert message == (
        "service:taskMemroy in stack 'prod': unknown key (did you mean 'taskMemory'?); "
        "the keys are declared in Pulumi.yaml"
    )


def test_every_declared_key_is_read_by_the_program_and_no_other():
    """Pulumi.yaml is the list of keys: the reader reads each one, so a key cannot be declared
    but ignored, or read but refused as unknown."""
    from infra.config import StackReader, declared_keys

    config = {**load_stack_config("prod"), "service:imageTag": "test"}
    readers: list[StackReader] = []

    def program():
        reader = StackReader("service", "prod", offline=True)
        reader.read()
        readers.append(reader)

    run_program("prod", config, program=program)
    assert readers[0].read_keys == set(declared_keys())


def test_each_section_reads_its_own_keys_and_no_other_sections():
    """Every key but the stack-wide ones belongs to exactly one section of StackConfig."""
    from infra.config import (
        CacheConfig,
        DatabaseConfig,
        NetworkConfig,
        OperationsConfig,
        ReleaseConfig,
        StackReader,
        TaskConfig,
        WebConfig,
        declared_keys,
    )

    region = "us-east-1"
    sections = {
        "network": lambda r: NetworkConfig.read(r, region),
        "task": TaskConfig.read,
        "release": lambda r: ReleaseConfig.read(r, region),
        "database": DatabaseConfig.read,
        "cache": CacheConfig.read,
        "web": lambda r: WebConfig.read(r, region),
        "operations": lambda r: OperationsConfig.read(r, region, protect=True),
    }
    owners: dict[str, set[str]] = {}

    def program():
        for name, read in sections.items():
            reader = StackReader("service", "prod", offline=True)
            read(reader)
            owners[name] = reader.read_keys

    run_program("prod", {**load_stack_config("prod"), "service:imageTag": "test"}, program=program)
    read = [key for keys in owners.values() for key in keys]
    assert len(read) == len(set(read)), owners
    stack_wide = {"environment", "ephemeral", "protect", "tags", "permissionsBoundaryArn"}
    assert set(read) == declared_keys() - stack_wide


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("dbEngineVersion", "99", "expected an RDS PostgreSQL version: a major (13, 14,"),
        ("dbInstanceClass", "db.t4g.mirco", "(did you mean 'db.t4g.micro'?)"),
        ("cacheNodeType", "cache.x1.mega", "expected an ElastiCache node type listed in"),
        ("cacheEngineVersion", "9.9", "expected a Redis OSS engine version: 6.2, 7.0, 7.1"),
        ("sslPolicy", "ELBSecurityPolicy-TLS13-1-2-2021-6", "(did you mean"),
    ],
)
def test_values_are_checked_against_the_catalog(key, value, expected):
    message = config_error("dev", **{key: value})
    assert message.startswith(f"service:{key} in stack 'dev': expected"), message
    assert expected in message and message.endswith(f"got {value!r}"), message


def test_certificate_must_be_in_the_stack_region():
    arn = "arn:aws:acm:eu-west-1:210987654321:certificate/1b2c3d4e-aaaa-bbbb-cccc-0123456789ab"
    message = config_error("prod", certificateArn=arn)
    assert message.startswith(
        "service:certificateArn in stack 'prod': expected a certificate in the stack's region "
        "us-east-1"
    ), message


def test_placeholder_certificate_is_refused_by_a_real_preview_or_up():
    config = {**load_stack_config("prod"), "service:imageTag": "test"}
    with pytest.raises(ConfigError) as caught:
        run_program("prod", config, program=StackConfig.load)  # offline=False: the real engine
    message = str(caught.value)
    assert message.startswith("service:certificateArn in stack 'prod': the committed placeholder")
    assert "pulumi config set service:certificateArn <arn> --stack prod" in message


def test_placeholder_alarm_email_is_refused_by_a_real_up():
    arn = "arn:aws:acm:us-east-1:210987654321:certificate/1b2c3d4e-aaaa-bbbb-cccc-0123456789ab"
    config = {
        **load_stack_config("prod"),
        "service:imageTag": "test",
        "service:certificateArn": arn,
    }
    with pytest.raises(ConfigError, match=r"service:alarmEmail in stack 'prod': the committed"):
        run_program("prod", config, program=StackConfig.load)
    config["service:alarmEmail"] = "oncall@acme.io"
    loaded = []
    run_program("prod", config, program=lambda: loaded.append(StackConfig.load()))
    assert loaded[0].web.certificate_arn == arn


def test_offline_plans_of_prod_keep_working_with_the_placeholders():
    assert load("prod").web.certificate_arn.endswith("00000000-0000-0000-0000-000000000000")


def test_protected_stack_needs_someone_to_alert():
    message = config_error("prod", alarmEmail=None)
    assert message.startswith("service:alarmEmail in stack 'prod': expected an on-call address")
    assert load("prod", alarmEmail=None, alarmTopicArn="arn:aws:sns:us-east-1:210987654321:pd")


def test_alarm_topic_in_another_region_is_refused():
    message = config_error("dev", alarmTopicArn="arn:aws:sns:eu-west-1:210987654321:pd")
    assert message.startswith("service:alarmTopicArn in stack 'dev': expected an SNS topic in")


# ---- stack files are read as the Pulumi CLI reads them ------------------------------------------


def stack_files(tmp_path, stack_yaml: str):
    from infra.config import REPO_ROOT

    (tmp_path / "Pulumi.yaml").write_text((REPO_ROOT / "Pulumi.yaml").read_text())
    (tmp_path / "Pulumi.qa.yaml").write_text(stack_yaml)
    return tmp_path


@pytest.mark.parametrize("word", ["yes", "on", "Yes"])
def test_yaml_1_1_booleans_are_strings_as_for_the_cli(tmp_path, word):
    """PyYAML reads `yes` as true; the CLI (YAML 1.2) passes the string "yes" to the program."""
    root = stack_files(tmp_path, f"config:\n  aws:region: us-east-1\n  service:ephemeral: {word}\n")
    config = load_stack_config("qa", root=root)
    assert config["service:ephemeral"] == word
    config.update({"service:imageTag": "test", "service:environment": "staging"})
    with pytest.raises(ConfigError) as caught:
        run_program("qa", config, program=lambda: StackConfig.load(offline=True))
    assert str(caught.value) == (
        f"service:ephemeral in stack 'qa': expected true or false, got '{word}'"
    )


def test_malformed_stack_file_names_the_file_and_line(tmp_path):
    from infra.stackfiles import StackFileError

    root = stack_files(tmp_path, "config:\n  aws:region: us-east-1\n  service:tags: {a: 1\n")
    with pytest.raises(StackFileError) as caught:
        load_stack_config("qa", root=root)
    message = str(caught.value)
    assert message.startswith("Pulumi.qa.yaml:4:"), message
    assert "invalid YAML" in message and "<unicode string>" not in message
