"""Network: subnets and NAT per stack, and security-group rules that open nothing else."""

from __future__ import annotations

import pytest

from infra.tools.mocks import Run, mock_id

INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
SG = "aws:ec2/securityGroup:SecurityGroup"


def group_names(run: Run) -> dict[str, str]:
    """Mock ids of the security groups -> a short role name (alb, tasks, database, cache)."""
    return {mock_id(r): r.name.removeprefix("network-") for r in run.of_type(SG)}


def nat_id(run: Run, index: int) -> str:
    return mock_id(run.named(f"network-nat-{index}", "aws:ec2/natGateway:NatGateway"))


def rules(run: Run, type_: str) -> set[tuple[str, int, int, str]]:
    """(group, from_port, to_port, peer) for every rule; peer is a group role or a CIDR."""
    groups = group_names(run)
    out = set()
    for r in run.of_type(type_):
        i = r.plain_inputs()
        assert i["ipProtocol"] == "tcp", f"{r.name}: expected tcp, got {i['ipProtocol']}"
        peer = groups.get(i.get("referencedSecurityGroupId")) or i.get("cidrIpv4")
        out.add((groups[i["securityGroupId"]], int(i["fromPort"]), int(i["toPort"]), peer))
    return out


EXPECTED_INGRESS = {
    ("alb", 80, 80, "0.0.0.0/0"),
    ("alb", 443, 443, "0.0.0.0/0"),
    ("tasks", 8000, 8000, "alb"),
    ("database", 5432, 5432, "tasks"),
    ("cache", 6379, 6379, "tasks"),
}
# prod only (service:interfaceEndpoints): the interface endpoints take HTTPS from tasks only.
ENDPOINT_INGRESS = ("endpoints", 443, 443, "tasks")
EXPECTED_EGRESS = {
    ("alb", 8000, 8000, "tasks"),
    ("tasks", 443, 443, "0.0.0.0/0"),
    ("tasks", 5432, 5432, "database"),
    ("tasks", 6379, 6379, "cache"),
}


def test_ingress_is_exactly_alb_from_anywhere_tasks_from_alb_data_from_tasks(any_stack):
    stack, run = any_stack
    expected = EXPECTED_INGRESS | ({ENDPOINT_INGRESS} if stack == "prod" else set())
    assert rules(run, INGRESS) == expected, f"stack {stack}"


def test_egress_is_limited_and_database_and_cache_have_none(any_stack):
    stack, run = any_stack
    egress = rules(run, EGRESS)
    assert egress == EXPECTED_EGRESS, f"stack {stack}"
    assert not [e for e in egress if e[0] in ("database", "cache")]


def test_security_groups_have_no_inline_rules_and_no_legacy_rule_resources(any_stack):
    stack, run = any_stack
    assert {r.name for r in run.of_type(SG)} == {
        "network-alb",
        "network-tasks",
        "network-database",
        "network-cache",
        *(["network-endpoints"] if stack == "prod" else []),
    }
    for sg in run.of_type(SG):
        assert "ingress" not in sg.inputs and "egress" not in sg.inputs, sg.name
    assert run.of_type("aws:ec2/securityGroupRule:SecurityGroupRule") == []


def test_database_and_cache_use_their_own_groups(any_stack):
    _, run = any_stack
    db = run.named("database-instance").plain_inputs()
    cache = run.named("cache-redis").plain_inputs()
    assert db["vpcSecurityGroupIds"] == [mock_id(run.named("network-database", SG))]
    assert cache["securityGroupIds"] == [mock_id(run.named("network-cache", SG))]


@pytest.mark.parametrize(
    ("stack", "azs", "nats"),
    [("dev", 2, 0), ("staging", 2, 1), ("prod", 3, 3)],
)
def test_subnets_and_nat_gateways_per_stack(stack_run, stack, azs, nats):
    run = stack_run(stack)
    subnets = run.of_type("aws:ec2/subnet:Subnet")
    public = [s for s in subnets if s.name.startswith("network-public")]
    private = [s for s in subnets if s.name.startswith("network-private")]
    assert (len(public), len(private)) == (azs, azs)
    assert len({s.inputs["availabilityZone"] for s in private}) == azs
    assert len(run.of_type("aws:ec2/natGateway:NatGateway")) == nats
    assert len(run.of_type("aws:ec2/eip:Eip")) == nats


def test_private_subnets_route_through_their_own_az_nat_in_prod(prod):
    routes = {
        r.name: r.inputs.get("natGatewayId")
        for r in prod.of_type("aws:ec2/route:Route")
        if r.name.startswith("network-private")
    }
    assert routes == {f"network-private-{i}-default": nat_id(prod, i) for i in range(3)}


def test_staging_private_subnets_share_one_nat(staging):
    nat_ids = {
        r.inputs["natGatewayId"]
        for r in staging.of_type("aws:ec2/route:Route")
        if "natGatewayId" in r.inputs
    }
    assert nat_ids == {nat_id(staging, 0)}


def test_subnet_cidrs_do_not_overlap_and_sit_inside_the_vpc(any_stack):
    import ipaddress

    _, run = any_stack
    vpc = ipaddress.ip_network(run.named("network-vpc").inputs["cidrBlock"])
    blocks = [
        ipaddress.ip_network(s.inputs["cidrBlock"]) for s in run.of_type("aws:ec2/subnet:Subnet")
    ]
    assert all(b.subnet_of(vpc) for b in blocks)
    assert not any(a.overlaps(b) for i, a in enumerate(blocks) for b in blocks[i + 1 :])


def test_public_subnets_do_not_hand_out_public_ips(any_stack):
    _, run = any_stack
    for s in run.of_type("aws:ec2/subnet:Subnet"):
        assert s.inputs.get("mapPublicIpOnLaunch") in (None, False), s.name


ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
INTERFACE_SERVICES = ("ecr.api", "ecr.dkr", "logs", "secretsmanager")


def route_table_ids(run: Run, *names: str) -> set[str]:
    return {mock_id(run.named(n, "aws:ec2/routeTable:RouteTable")) for n in names}


@pytest.mark.parametrize(
    ("stack", "tables"),
    [
        # no NAT: the tasks run in the public subnets, whose route table needs the endpoint
        ("dev", ("network-private-0", "network-private-1", "network-public")),
        ("staging", ("network-private-0", "network-private-1")),
        ("prod", ("network-private-0", "network-private-1", "network-private-2")),
    ],
)
def test_s3_gateway_endpoint_is_on_every_route_table_the_tasks_use(stack_run, stack, tables):
    run = stack_run(stack)
    s3 = run.named("network-s3", ENDPOINT).plain_inputs()
    assert s3["vpcEndpointType"] == "Gateway"
    assert s3["serviceName"] == "com.amazonaws.us-east-1.s3"
    assert s3["vpcId"] == mock_id(run.named("network-vpc"))
    assert set(s3["routeTableIds"]) == route_table_ids(run, *tables), s3["routeTableIds"]
    assert "subnetIds" not in s3 and "securityGroupIds" not in s3


@pytest.mark.parametrize("stack", ["dev", "staging"])
def test_interface_endpoints_are_off_by_default(stack_run, stack):
    run = stack_run(stack)
    kinds = [r.inputs.get("vpcEndpointType") for r in run.of_type(ENDPOINT)]
    assert kinds == ["Gateway"], kinds


def test_prod_interface_endpoints_use_private_dns_private_subnets_and_their_own_group(prod):
    private = {mock_id(s) for s in prod.of_type("aws:ec2/subnet:Subnet") if "private" in s.name}
    group = mock_id(prod.named("network-endpoints", SG))
    found = {}
    for r in prod.of_type(ENDPOINT):
        i = r.plain_inputs()
        if i["vpcEndpointType"] != "Interface":
            continue
        found[i["serviceName"].removeprefix("com.amazonaws.us-east-1.")] = r.name
        assert i["privateDnsEnabled"] is True, r.name
        assert set(i["subnetIds"]) == private, (r.name, i["subnetIds"])
        assert i["securityGroupIds"] == [group], (r.name, i["securityGroupIds"])
        assert "routeTableIds" not in i, r.name
    assert sorted(found) == sorted(INTERFACE_SERVICES), found


def test_interface_endpoints_follow_the_config_key(stack_run):
    run = stack_run("staging", interfaceEndpoints=True)
    services = sorted(
        r.inputs["serviceName"].removeprefix("com.amazonaws.us-east-1.")
        for r in run.of_type(ENDPOINT)
        if r.inputs.get("vpcEndpointType") == "Interface"
    )
    assert services == sorted(INTERFACE_SERVICES)
    assert ("endpoints", 443, 443, "tasks") in rules(run, INGRESS)
