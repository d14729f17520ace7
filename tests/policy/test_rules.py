"""Each policy rule with a passing and a failing resource."""

import json

import pytest

from policy import rules
from policy.rules import Resource

TAGS = {"project": "service", "stack": "dev", "managed-by": "pulumi"}


def res(type_, props, *, name="r", protect=False, stack="dev", default_tags=None):
    return Resource(type=type_, name=name, props=props, protect=protect, stack=stack,
                    default_tags=TAGS if default_tags is None else default_tags)  # fmt: skip


def ingress_rule(name, cidr, port, protocol="tcp"):
    props = {"cidrIpv4": cidr, "fromPort": port, "toPort": port, "ipProtocol": protocol}
    return res(rules.SG_INGRESS, {**props, "securityGroupId": "sg-1"}, name=name)


# --- security groups -----------------------------------------------------------------------


@pytest.mark.parametrize("port", [80, 443, 80.0])
def test_alb_rule_may_open_80_and_443_to_the_world(port):
    assert rules.sg_no_open_ingress(ingress_rule("network-alb-https-in", "0.0.0.0/0", port)) == []


def test_alb_rule_may_not_open_other_ports_to_the_world():
    (msg,) = rules.sg_no_open_ingress(ingress_rule("network-alb-admin-in", "0.0.0.0/0", 8080))
    assert "only TCP 80 and 443" in msg


def test_non_alb_rule_may_not_be_open_to_the_world():
    (msg,) = rules.sg_no_open_ingress(ingress_rule("network-db-in", "0.0.0.0/0", 5432))
    assert "not the load balancer's" in msg


def test_rule_from_the_alb_is_not_the_albs_own():
    assert rules.sg_no_open_ingress(ingress_rule("network-tasks-from-alb", "::/0", 443)) != []
    # and with no open CIDR it is fine
    assert rules.sg_no_open_ingress(ingress_rule("network-tasks-from-alb", None, 8000)) == []


def test_ipv6_anywhere_counts_as_open():
    r = res(rules.SG_INGRESS, {"cidrIpv6": "::/0", "fromPort": 22, "toPort": 22,
                               "ipProtocol": "tcp"}, name="bastion-ssh")  # fmt: skip
    assert rules.sg_no_open_ingress(r) != []


def test_inline_ingress_on_a_security_group_is_checked():
    def sg(name, desc, ingress):
        return res(rules.SG, {"description": desc, "ingress": ingress}, name=name)

    web = [{"protocol": "tcp", "fromPort": 443, "toPort": 443, "cidrBlocks": ["0.0.0.0/0"]}]
    assert rules.sg_no_open_ingress(sg("network-alb", "Load balancer", web)) == []
    assert rules.sg_no_open_ingress(sg("network-tasks", "Tasks", web)) != []
    everything = [{"protocol": "-1", "fromPort": 0, "toPort": 0, "cidrBlocks": ["0.0.0.0/0"]}]
    assert rules.sg_no_open_ingress(sg("network-alb", "Load balancer", everything)) != []


def test_legacy_security_group_rule_egress_is_ignored_and_ingress_checked():
    base = {"cidrBlocks": ["0.0.0.0/0"], "fromPort": 5432, "toPort": 5432, "protocol": "tcp"}
    assert rules.sg_no_open_ingress(res(rules.SG_RULE, {**base, "type": "egress"})) == []
    assert rules.sg_no_open_ingress(res(rules.SG_RULE, {**base, "type": "ingress"})) != []


# --- data stores -----------------------------------------------------------------------------


def test_rds_encrypted_and_private_passes():
    r = res(rules.RDS_INSTANCE, {"storageEncrypted": True, "publiclyAccessible": False})
    assert rules.rds_encrypted_and_private(r) == []


def test_rds_unencrypted_or_public_fails():
    r = res(rules.RDS_INSTANCE, {"storageEncrypted": False, "publiclyAccessible": True})
    msgs = rules.rds_encrypted_and_private(r)
    assert len(msgs) == 2 and "encrypted" in msgs[0] and "publicly" in msgs[1]
    assert rules.rds_encrypted_and_private(res(rules.RDS_INSTANCE, {})) != [], "unset = unencrypted"


def test_redis_encrypted_in_transit_and_at_rest_passes():
    r = res(rules.REDIS_GROUP, {"transitEncryptionEnabled": True, "atRestEncryptionEnabled": True})
    assert rules.redis_encrypted(r) == []


def test_redis_without_transit_encryption_fails():
    r = res(rules.REDIS_GROUP, {"transitEncryptionEnabled": False, "atRestEncryptionEnabled": True})
    (msg,) = rules.redis_encrypted(r)
    assert "in transit" in msg


def test_redis_without_at_rest_encryption_fails():
    r = res(rules.REDIS_GROUP, {"transitEncryptionEnabled": True})
    (msg,) = rules.redis_encrypted(r)
    assert "at rest" in msg


def test_standalone_redis_cache_cluster_fails():
    assert rules.redis_encrypted(res(rules.CACHE_CLUSTER, {"engine": "redis"})) != []


# --- registry / compute / logs / load balancer ----------------------------------------------


def test_ecr_scan_on_push_passes():
    r = res(rules.ECR_REPO, {"imageScanningConfiguration": {"scanOnPush": True}})
    assert rules.ecr_scan_on_push(r) == []


def test_ecr_without_scan_on_push_fails():
    assert rules.ecr_scan_on_push(res(rules.ECR_REPO, {})) != []
    r = res(rules.ECR_REPO, {"imageScanningConfiguration": {"scanOnPush": False}})
    assert rules.ecr_scan_on_push(r) != []


def task(environment, secrets=()):
    containers = [{"name": "app", "image": "x", "environment": environment,
                   "secrets": list(secrets)}]  # fmt: skip
    return res(rules.TASK_DEFINITION, {"containerDefinitions": json.dumps(containers)})


def test_task_definition_with_secrets_via_value_from_passes():
    env = [{"name": "DB_HOST", "value": "db"}, {"name": "LOG_LEVEL", "value": "INFO"}]
    secrets = [{"name": "DB_PASSWORD", "valueFrom": "arn:aws:secretsmanager:...:secret:x"}]
    assert rules.no_plaintext_secrets_in_environment(task(env, secrets)) == []


@pytest.mark.parametrize(
    "var", ["DB_PASSWORD", "JWT_SECRET", "GITHUB_TOKEN", "API_KEY", "AWS_SECRET_ACCESS_KEY",
            "KEY", "stripe_key"],
)  # fmt: skip
def test_secret_looking_plain_environment_variable_fails(var):
    (msg,) = rules.no_plaintext_secrets_in_environment(task([{"name": var, "value": "v"}]))
    assert var in msg and "valueFrom" in msg


def test_url_with_embedded_credentials_fails():
    env = [{"name": "REDIS_URL", "value": "rediss://:tok3n@master.example:6379/0"}]
    (msg,) = rules.no_plaintext_secrets_in_environment(task(env))
    assert "REDIS_URL" in msg


def test_secret_arn_reference_in_plain_environment_passes():
    arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db-1a2b"
    env = [{"name": "DB_PASSWORD_SECRET_ARN", "value": arn}]
    assert rules.no_plaintext_secrets_in_environment(task(env)) == []


def test_secret_value_disguised_as_arn_variable_fails():
    env = [{"name": "DB_PASSWORD_SECRET_ARN", "value": "hunter2"}]
    (msg,) = rules.no_plaintext_secrets_in_environment(task(env))
    assert "DB_PASSWORD_SECRET_ARN" in msg


@pytest.mark.parametrize("var", ["KEYSPACE", "MONKEY_MODE", "DB_HOST"])
def test_names_merely_containing_key_letters_pass(var):
    assert rules.no_plaintext_secrets_in_environment(task([{"name": var, "value": "v"}])) == []


def test_container_definitions_as_a_list_are_accepted():
    r = res(rules.TASK_DEFINITION, {"containerDefinitions": [{"name": "a", "environment": [
        {"name": "SECRET", "value": "x"}]}]})  # fmt: skip
    assert rules.no_plaintext_secrets_in_environment(r) != []


def test_log_group_with_retention_passes():
    assert rules.log_group_retention(res(rules.LOG_GROUP, {"retentionInDays": 30})) == []


def test_log_group_without_retention_fails():
    assert rules.log_group_retention(res(rules.LOG_GROUP, {})) != []
    assert rules.log_group_retention(res(rules.LOG_GROUP, {"retentionInDays": 0})) != []


def test_alb_dropping_invalid_headers_passes():
    r = res("aws:lb/loadBalancer:LoadBalancer", {"dropInvalidHeaderFields": True})
    assert rules.alb_drops_invalid_headers(r) == []


def test_alb_keeping_invalid_headers_fails():
    r = res("aws:lb/loadBalancer:LoadBalancer", {"loadBalancerType": "application"})
    assert rules.alb_drops_invalid_headers(r) != []
    nlb = res("aws:lb/loadBalancer:LoadBalancer", {"loadBalancerType": "network"})
    assert rules.alb_drops_invalid_headers(nlb) == [], "NLBs have no such setting"


# --- tags ------------------------------------------------------------------------------------


def test_required_tags_from_provider_default_tags_pass():
    r = res("aws:ec2/vpc:Vpc", {"tags": {"Name": "net"}})
    assert rules.required_tags(r) == []


def test_required_tags_on_the_resource_itself_pass():
    r = res("aws:ec2/vpc:Vpc", {"tags": dict(TAGS)}, default_tags={})
    assert rules.required_tags(r) == []


def test_missing_required_tags_fail():
    r = res("aws:ec2/vpc:Vpc", {"tags": {"project": "service"}}, default_tags={})
    (msg,) = rules.required_tags(r)
    assert "stack" in msg and "managed-by" in msg
    untagged = res("aws:rds/instance:Instance", {}, default_tags={})
    assert rules.required_tags(untagged) != [], "taggable types are checked even without tags"


def test_non_aws_resources_are_not_tag_checked():
    image = res("docker-build:index:Image", {"tags": ["repo:abc"]}, default_tags={})
    assert rules.required_tags(image) == []


def test_default_tags_from_the_provider_inputs():
    props = {"defaultTags": json.dumps({"tags": TAGS})}
    assert rules.default_tags_from_provider(props) == TAGS
    assert rules.default_tags_from_provider({"defaultTags": {"tags": TAGS}}) == TAGS
    assert rules.default_tags_from_provider({}) == {}


# --- prod protection ---------------------------------------------------------------------------


def test_prod_data_protected_with_deletion_protection_passes():
    r = res(rules.RDS_INSTANCE, {"deletionProtection": True}, protect=True, stack="prod")
    assert rules.prod_data_protected(r) == []


def test_prod_data_unprotected_fails():
    r = res(rules.RDS_INSTANCE, {"deletionProtection": False}, protect=False, stack="prod")
    msgs = rules.prod_data_protected(r)
    assert len(msgs) == 2 and "protect" in msgs[0] and "deletionProtection" in msgs[1]
    assert rules.prod_data_protected(res(rules.REDIS_GROUP, {}, stack="acme/service/prod")) != []


def test_unprotected_data_outside_prod_is_fine():
    assert rules.prod_data_protected(res(rules.RDS_INSTANCE, {}, stack="staging")) == []


# --- the whole set ----------------------------------------------------------------------------


def test_every_rule_is_a_documented_function_and_check_prefixes_the_rule_name():
    assert len(rules.RULES) >= 9
    assert all(callable(f) and f.__doc__ for f in rules.RULES.values())
    lines = rules.check([res(rules.LOG_GROUP, {})])
    assert lines and lines[0].startswith("log-group-retention: ")


def test_resources_from_plan_applies_provider_default_tags_and_skips_pulumi_types():
    plan = [
        {"type": "pulumi:providers:aws", "name": "aws", "parent": None, "protect": False,
         "inputs": {"defaultTags": json.dumps({"tags": TAGS})}},
        {"type": "service:infra:Network", "name": "network", "parent": None, "protect": False,
         "inputs": {}},
        {"type": "aws:ec2/vpc:Vpc", "name": "vpc", "parent": "network", "protect": True,
         "inputs": {"tags": {"Name": "x"}}},
    ]  # fmt: skip
    (network, vpc) = sorted(rules.resources_from_plan(plan, "prod"), key=lambda r: r.name)
    assert vpc.default_tags == TAGS and vpc.protect and vpc.stack == "prod"
    assert network.type == "service:infra:Network"
    assert rules.check([vpc, network]) == []
