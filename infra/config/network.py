"""The network's settings: the VPC, its availability zones, NAT and interface endpoints."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from infra.config.reader import ConfigReader

NAT_MODES = ("none", "single", "per-az")
_AZ = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d[a-z]$")


@dataclass(frozen=True)
class NetworkConfig:
    vpc_cidr: str
    availability_zones: tuple[str, ...]
    nat_gateways: str  # one of NAT_MODES
    interface_endpoints: bool

    @property
    def tasks_in_public_subnets(self) -> bool:
        """Without NAT the tasks need a public IP to reach ECR, Secrets Manager and Logs."""
        return self.nat_gateways == "none"

    @classmethod
    def read(cls, r: ConfigReader, region: str) -> NetworkConfig:
        vpc_cidr = r.string("vpcCidr", "10.0.0.0/16")
        try:
            network = ipaddress.ip_network(vpc_cidr)
        except ValueError:
            r.fail("vpcCidr", "an IPv4 CIDR block such as 10.0.0.0/16", vpc_cidr)
        if network.version != 4 or not 16 <= network.prefixlen <= 20:
            r.fail("vpcCidr", "an IPv4 CIDR block between /16 and /20", vpc_cidr)

        azs = r.obj("availabilityZones", "a list of availability zone names")
        if azs is None or azs == []:  # [] is the Pulumi.yaml default (the engine needs one)
            azs = [f"{region}{suffix}" for suffix in "ab"]
        if (
            not isinstance(azs, list)
            or not 2 <= len(azs) <= 3
            or not all(isinstance(a, str) and _AZ.match(a) and a.startswith(region) for a in azs)
            or len(set(azs)) != len(azs)
        ):
            r.fail(
                "availabilityZones",
                f"a list of 2 or 3 distinct availability zones in {region}",
                azs,
            )
        return cls(
            vpc_cidr=str(network),
            availability_zones=tuple(azs),
            nat_gateways=r.choice("natGateways", "single", NAT_MODES),
            interface_endpoints=r.boolean("interfaceEndpoints", False),
        )
