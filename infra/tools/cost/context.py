"""What a pricing rule is given (the plan, the region's prices, the assumptions) and what it
returns (line items, or :class:`Unpriced`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from infra.tools.cost.prices import RegionPrices
from infra.tools.cost.schedules import runs_per_month

# Here rather than in render: the rules write it into their assumptions too.
TIMES = "\N{MULTIPLICATION SIGN}"

TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
ECS_SERVICE = "aws:ecs/service:Service"
SCHEDULE = "aws:scheduler/schedule:Schedule"
VPC_ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"


def ecs_parameters(schedule: dict[str, Any]) -> dict[str, Any] | None:
    return ((schedule["inputs"].get("target") or {}).get("ecsParameters")) or None


@dataclass
class Item:
    resource: str
    type: str
    description: str
    quantity: float
    unit: str
    unit_price: float
    assumption: str = ""

    @property
    def monthly(self) -> float:
        return self.quantity * self.unit_price

    def to_dict(self) -> dict[str, Any]:
        return {
            "resource": self.resource,
            "type": self.type,
            "description": self.description,
            "quantity": round(self.quantity, 6),
            "unit": self.unit,
            "unit_price": self.unit_price,
            "monthly": round(self.monthly, 4),
            "assumption": self.assumption,
        }


def line_item(
    r: Mapping[str, Any],
    description: str,
    quantity: float,
    unit: str,
    price: float,
    assumption: str = "",
) -> Item:
    """A line item of resource ``r`` (a plan entry)."""
    return Item(r["name"], r["type"], description, quantity, unit, price, assumption)


class Unpriced(Exception):
    """The resource is billable but the table has no price for it (the reason says which)."""


@dataclass
class Context:
    resources: list[dict[str, Any]]
    prices: RegionPrices
    assumptions: dict[str, float]
    warnings: list[str] = field(default_factory=list)

    @property
    def hours(self) -> float:
        return self.assumptions["hours_per_month"]

    def price(self, *path: str) -> float:
        value = self.prices.get(*path)
        if value is None:
            raise Unpriced(f"no price {'.'.join(path)} for {self.prices.region}")
        return value

    def of_type(self, *types: str) -> list[dict[str, Any]]:
        return [r for r in self.resources if r["type"] in types]

    def task_definition(self, arn: Any) -> dict[str, Any] | None:
        match = re.search(r"task-definition/([^:/]+)", str(arn or ""))
        if not match:
            return None
        family = match.group(1)
        return next(
            (td for td in self.of_type(TASK_DEFINITION) if td["inputs"].get("family") == family),
            None,
        )

    def private_task_runs(self) -> tuple[list[dict], list[dict]]:
        """Services and worker schedules whose tasks sit in private subnets (behind NAT)."""
        services = [
            s
            for s in self.of_type(ECS_SERVICE)
            if not (s["inputs"].get("networkConfiguration") or {}).get("assignPublicIp")
        ]
        schedules = [
            s
            for s in self.of_type(SCHEDULE)
            if ecs_parameters(s) is not None
            and not (ecs_parameters(s).get("networkConfiguration") or {}).get("assignPublicIp")
        ]
        return services, schedules

    def worker_runs(self, schedule: dict) -> float:
        """Task runs a month of a worker schedule (none while it is disabled)."""
        inputs = schedule["inputs"]
        if inputs.get("state", "ENABLED") != "ENABLED":
            return 0.0
        expr = str(inputs.get("scheduleExpression", ""))
        ecs = ecs_parameters(schedule) or {}
        return runs_per_month(expr, self.hours) * int(ecs.get("taskCount", 1))

    def has_endpoint(self, service_suffix: str, endpoint_type: str) -> bool:
        return any(
            str(e["inputs"].get("serviceName", "")).endswith(service_suffix)
            and str(e["inputs"].get("vpcEndpointType", "Gateway")) == endpoint_type
            for e in self.of_type(VPC_ENDPOINT)
        )
