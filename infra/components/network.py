"""VPC, subnets, routing, NAT and every security group with its rules."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

APP_PORT = 8000
POSTGRES_PORT = 5432
REDIS_PORT = 6379
HTTPS_PORT = 443
ANYWHERE = "0.0.0.0/0"
# What a task reaches AWS for: image manifests and auth (ecr.api), layers' signed URLs
# (ecr.dkr; the layers themselves come from S3), awslogs, and valueFrom secrets at start.
INTERFACE_ENDPOINT_SERVICES = ("ecr.api", "ecr.dkr", "logs", "secretsmanager")


@dataclass(frozen=True)
class NetworkArgs:
    cidr: str
    availability_zones: Sequence[str]
    nat_gateways: str  # "none" | "single" | "per-az"
    region: str = "us-east-1"
    # Interface endpoints for ECR, Logs and Secrets Manager: the task start-up traffic stays off
    # the NAT gateways (and works without them). The S3 gateway endpoint is always there.
    interface_endpoints: bool = False


def subnet_cidrs(cidr: str, count: int) -> tuple[list[str], list[str]]:
    """Public and private subnet CIDRs: the VPC split in 16, public first, private from the 9th."""
    network = ipaddress.ip_network(cidr)
    blocks = [str(b) for b in network.subnets(new_prefix=network.prefixlen + 4)]
    return blocks[:count], blocks[8 : 8 + count]


class Network(pulumi.ComponentResource):
    """A VPC over 2-3 AZs with public and private subnets and the service's security groups.

    Security groups (rules are separate ``aws.vpc.SecurityGroup*Rule`` resources, never inline):
    ``alb`` 80/443 from anywhere; ``tasks`` 8000 from the ALB only; ``database`` 5432 from tasks
    only; ``cache`` 6379 from tasks only. The database and cache groups have no egress at all.
    """

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("service:infra:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        azs = list(args.availability_zones)
        public_cidrs, private_cidrs = subnet_cidrs(args.cidr, len(azs))

        self.cidr = args.cidr
        self.vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args.cidr,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags={"Name": name},
            opts=child,
        )
        igw = aws.ec2.InternetGateway(
            f"{name}-igw", vpc_id=self.vpc.id, tags={"Name": name}, opts=child
        )

        public_rt = aws.ec2.RouteTable(
            f"{name}-public", vpc_id=self.vpc.id, tags={"Name": f"{name}-public"}, opts=child
        )
        aws.ec2.Route(
            f"{name}-public-default",
            route_table_id=public_rt.id,
            destination_cidr_block=ANYWHERE,
            gateway_id=igw.id,
            opts=child,
        )

        self.public_subnets: list[aws.ec2.Subnet] = []
        self.private_subnets: list[aws.ec2.Subnet] = []
        private_rts: list[aws.ec2.RouteTable] = []
        nat_ids: list[pulumi.Output[str]] = []
        for i, az in enumerate(azs):
            public = aws.ec2.Subnet(
                f"{name}-public-{i}",
                vpc_id=self.vpc.id,
                cidr_block=public_cidrs[i],
                availability_zone=az,
                map_public_ip_on_launch=False,
                tags={"Name": f"{name}-public-{az}", "tier": "public"},
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-public-{i}", subnet_id=public.id, route_table_id=public_rt.id, opts=child
            )
            self.public_subnets.append(public)

            if args.nat_gateways == "per-az" or (args.nat_gateways == "single" and i == 0):
                eip = aws.ec2.Eip(
                    f"{name}-nat-{i}", domain="vpc", tags={"Name": f"{name}-nat-{az}"}, opts=child
                )
                nat = aws.ec2.NatGateway(
                    f"{name}-nat-{i}",
                    allocation_id=eip.id,
                    subnet_id=public.id,
                    tags={"Name": f"{name}-nat-{az}"},
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[igw]),
                )
                nat_ids.append(nat.id)

        for i, az in enumerate(azs):
            private = aws.ec2.Subnet(
                f"{name}-private-{i}",
                vpc_id=self.vpc.id,
                cidr_block=private_cidrs[i],
                availability_zone=az,
                tags={"Name": f"{name}-private-{az}", "tier": "private"},
                opts=child,
            )
            rt = aws.ec2.RouteTable(
                f"{name}-private-{i}",
                vpc_id=self.vpc.id,
                tags={"Name": f"{name}-private-{az}"},
                opts=child,
            )
            if nat_ids:
                aws.ec2.Route(
                    f"{name}-private-{i}-default",
                    route_table_id=rt.id,
                    destination_cidr_block=ANYWHERE,
                    nat_gateway_id=nat_ids[i % len(nat_ids)],
                    opts=child,
                )
            aws.ec2.RouteTableAssociation(
                f"{name}-private-{i}", subnet_id=private.id, route_table_id=rt.id, opts=child
            )
            self.private_subnets.append(private)
            private_rts.append(rt)

        self.vpc_id = self.vpc.id
        self.public_subnet_ids = [s.id for s in self.public_subnets]
        self.private_subnet_ids = [s.id for s in self.private_subnets]
        self.has_nat = bool(nat_ids)

        # S3 gateway endpoint (no charge): ECR serves image layers from S3, so a task start pulls
        # them through here instead of through a NAT gateway. Without NAT the tasks run in the
        # public subnets: their route table gets it too.
        gateway_rts = [rt.id for rt in private_rts]
        if not nat_ids:
            gateway_rts.append(public_rt.id)
        self.s3_endpoint = aws.ec2.VpcEndpoint(
            f"{name}-s3",
            vpc_id=self.vpc.id,
            service_name=f"com.amazonaws.{args.region}.s3",
            vpc_endpoint_type="Gateway",
            route_table_ids=gateway_rts,
            tags={"Name": f"{name}-s3"},
            opts=child,
        )

        # ---- security groups ------------------------------------------------------------------
        def group(key: str, description: str) -> aws.ec2.SecurityGroup:
            return aws.ec2.SecurityGroup(
                f"{name}-{key}",
                vpc_id=self.vpc.id,
                description=description,
                revoke_rules_on_delete=True,
                tags={"Name": f"{name}-{key}"},
                opts=child,
            )

        self.alb_sg = group("alb", "Load balancer: HTTP/HTTPS from anywhere")
        self.task_sg = group("tasks", "Service, migration and worker tasks")
        self.db_sg = group("database", "PostgreSQL: from service tasks only")
        self.cache_sg = group("cache", "Redis: from service tasks only")
        self.endpoint_sg = (
            group("endpoints", "AWS interface endpoints: HTTPS from service tasks only")
            if args.interface_endpoints
            else None
        )

        def ingress(rule: str, sg, port: int, description: str, *, cidr=None, source=None):
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-{rule}",
                security_group_id=sg.id,
                ip_protocol="tcp",
                from_port=port,
                to_port=port,
                cidr_ipv4=cidr,
                referenced_security_group_id=source.id if source is not None else None,
                description=description,
                opts=child,
            )

        def egress(rule: str, sg, port: int, description: str, *, cidr=None, target=None):
            aws.vpc.SecurityGroupEgressRule(
                f"{name}-{rule}",
                security_group_id=sg.id,
                ip_protocol="tcp",
                from_port=port,
                to_port=port,
                cidr_ipv4=cidr,
                referenced_security_group_id=target.id if target is not None else None,
                description=description,
                opts=child,
            )

        ingress("alb-http-in", self.alb_sg, 80, "HTTP from anywhere", cidr=ANYWHERE)
        ingress("alb-https-in", self.alb_sg, 443, "HTTPS from anywhere", cidr=ANYWHERE)
        egress("alb-to-tasks", self.alb_sg, APP_PORT, "To service tasks", target=self.task_sg)

        ingress("tasks-from-alb", self.task_sg, APP_PORT, "From the ALB", source=self.alb_sg)
        egress(
            "tasks-https-out",
            self.task_sg,
            HTTPS_PORT,
            "ECR, Secrets Manager, Logs",
            cidr=ANYWHERE,
        )
        egress("tasks-to-db", self.task_sg, POSTGRES_PORT, "To PostgreSQL", target=self.db_sg)
        egress("tasks-to-cache", self.task_sg, REDIS_PORT, "To Redis", target=self.cache_sg)

        ingress("db-from-tasks", self.db_sg, POSTGRES_PORT, "From tasks", source=self.task_sg)
        ingress("cache-from-tasks", self.cache_sg, REDIS_PORT, "From tasks", source=self.task_sg)

        self.interface_endpoints: dict[str, aws.ec2.VpcEndpoint] = {}
        if self.endpoint_sg is not None:
            ingress(
                "endpoints-from-tasks",
                self.endpoint_sg,
                HTTPS_PORT,
                "HTTPS from tasks",
                source=self.task_sg,
            )
            for service in INTERFACE_ENDPOINT_SERVICES:
                key = service.replace(".", "-")
                self.interface_endpoints[service] = aws.ec2.VpcEndpoint(
                    f"{name}-{key}",
                    vpc_id=self.vpc.id,
                    service_name=f"com.amazonaws.{args.region}.{service}",
                    vpc_endpoint_type="Interface",
                    private_dns_enabled=True,
                    subnet_ids=self.private_subnet_ids,
                    security_group_ids=[self.endpoint_sg.id],
                    tags={"Name": f"{name}-{key}"},
                    opts=child,
                )

        self.register_outputs(
            {
                "vpcId": self.vpc_id,
                "publicSubnetIds": self.public_subnet_ids,
                "privateSubnetIds": self.private_subnet_ids,
            }
        )
