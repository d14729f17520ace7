"""The offline plan's fake ids and ARNs look like AWS's: prefixes, services, regions, accounts."""

from __future__ import annotations

import json
import re

import pytest

from infra.tools.mocks import ID_PREFIXES, mock_id, resource_id

# Inside JSON documents (policies, container definitions) the ARN ends at an escaped quote.
ARN = re.compile(r"arn:aws:[a-z0-9-]+:[a-z0-9-]*:(\d{12}|aws)?:[^\s\"\\]+")


@pytest.mark.parametrize(
    ("rtype", "prefix"),
    [
        ("aws:ec2/vpc:Vpc", "vpc"),
        ("aws:ec2/subnet:Subnet", "subnet"),
        ("aws:ec2/securityGroup:SecurityGroup", "sg"),
        ("aws:ec2/routeTable:RouteTable", "rtb"),
        ("aws:ec2/internetGateway:InternetGateway", "igw"),
        ("aws:ec2/natGateway:NatGateway", "nat"),
        ("aws:ec2/eip:Eip", "eipalloc"),
        ("aws:ec2/vpcEndpoint:VpcEndpoint", "vpce"),
    ],
)
def test_ec2_ids_carry_the_aws_prefix_and_the_identity_hash(prod, rtype, prefix):
    resources = prod.of_type(rtype)
    assert resources, rtype
    for r in resources:
        assert re.fullmatch(rf"{prefix}-[0-9a-f]{{8}}", mock_id(r)), (r.name, mock_id(r))


def test_other_ids_keep_the_logical_name():
    assert resource_id("aws:iam/role:Role", "app-task", "0123abcd") == "app-task-0123abcd"
    assert resource_id("aws:ec2/vpc:Vpc", "network-vpc", "0123abcd") == "vpc-0123abcd"
    assert set(ID_PREFIXES.values()) >= {"vpc", "subnet", "sg", "rtb", "igw", "nat", "eipalloc"}


def test_dependents_receive_the_aws_style_ids(dev):
    subnet = dev.named("network-private-0", "aws:ec2/subnet:Subnet").inputs
    assert subnet["vpcId"] == mock_id(dev.named("network-vpc"))
    assert subnet["vpcId"].startswith("vpc-")
    s3 = dev.named("network-s3").inputs
    assert all(rt.startswith("rtb-") for rt in s3["routeTableIds"])


def arns_in(run) -> set[str]:
    return {m.group(0) for r in run.resources for m in ARN.finditer(json.dumps(r.plain_inputs()))}


# IAM ARNs in the plan that are not the stack's roles: AWS managed policies, and the us-east-1
# Elastic Load Balancing account that writes the access logs (the provider's answer).
NOT_OURS = re.compile(r"arn:aws:iam::aws:policy/(service-role/)?\w+|arn:aws:iam::127311923021:root")


def test_iam_arns_have_no_region_and_sit_under_the_stack_path(prod):
    iam = {a for a in arns_in(prod) if a.startswith("arn:aws:iam:")}
    assert iam, "expected IAM ARNs in the plan"
    for arn in {a for a in iam if not NOT_OURS.fullmatch(a)}:
        assert re.fullmatch(r"arn:aws:iam::123456789012:role/service-prod/[\w+=,.@-]+", arn), arn


@pytest.mark.parametrize(
    ("service", "shape"),
    [
        ("ecs", r"arn:aws:ecs:us-east-1:123456789012:(cluster/service-prod|task-definition/.+|\*)"),
        (
            "elasticloadbalancing",
            r"arn:aws:elasticloadbalancing:us-east-1:123456789012:"
            r"((loadbalancer/app|targetgroup)/[\w-]+/[0-9a-f]{16}"
            # a listener and its rule: <lb name>/<lb id>/<listener id>[/<rule id>]
            r"|listener/app/[\w-]+/[0-9a-f]{16}/[0-9a-f]{8}"
            r"|listener-rule/app/[\w-]+/[0-9a-f]{16}/[0-9a-f]{8}/[0-9a-f]{8})",
        ),
        ("secretsmanager", r"arn:aws:secretsmanager:us-east-1:123456789012:secret:.+"),
        ("wafv2", r"arn:aws:wafv2:us-east-1:123456789012:regional/webacl/[\w-]+/[0-9a-f]{8}"),
        ("sns", r"arn:aws:sns:us-east-1:123456789012:[\w-]+"),
        ("sqs", r"arn:aws:sqs:us-east-1:123456789012:service-prod-worker-dlq"),
        # S3 bucket ARNs have neither region nor account
        ("s3", r"arn:aws:s3:::service-prod-alb-logs-123456789012(/AWSLogs/123456789012)?(/\*)?"),
        ("logs", r"arn:aws:logs:us-east-1:123456789012:(log-group:[\w/.-]+(:\*)?|\*)"),
        ("rds", r"arn:aws:rds:us-east-1:123456789012:db:service-prod-db"),
    ],
)
def test_regional_arns_put_service_region_and_account_where_aws_does(prod, service, shape):
    arns = {a for a in arns_in(prod) if a.startswith(f"arn:aws:{service}:")}
    assert arns, service
    for arn in arns:
        assert re.fullmatch(shape, arn), arn


def test_s3_buckets_and_sqs_queues_have_the_providers_ids(prod):
    bucket = prod.named("web-access-logs-bucket")
    assert mock_id(bucket) == "service-prod-alb-logs-123456789012"
    assert prod.named("web-access-logs-policy").inputs["bucket"] == mock_id(bucket)
    queue = mock_id(prod.named("worker-dlq"))
    assert queue == "https://sqs.us-east-1.amazonaws.com/123456789012/service-prod-worker-dlq"
