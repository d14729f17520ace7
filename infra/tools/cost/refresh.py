"""``refresh-prices``: rebuild the price table from the AWS Price List API
(``pricing:GetProducts``; the only part of the tool that needs credentials)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from infra.tools.cost.errors import CostError
from infra.tools.cost.prices import CURRENCY, PriceTable


@dataclass(frozen=True)
class PriceQuery:
    """Where one price of the table comes from in ``pricing:GetProducts``.

    ``filters`` are TERM_MATCH filters (``regionCode`` is added); a product is taken when its
    ``usagetype`` ends with ``usagetype`` (usage types carry a region prefix such as ``USE2-``,
    none in us-east-1 for some services). ``scale`` converts the API's unit to the table's
    (per request -> per million requests).
    """

    path: tuple[str, ...]
    service: str
    filters: tuple[tuple[str, str], ...] = ()
    usagetype: str = ""
    scale: float = 1.0


# Prices with one product per region: (table path, ServiceCode, productFamily or "", usagetype
# suffix). Usage types carry a region prefix (USW2-, EUC1-; none for some us-east-1 ones).
_FIXED_QUERIES: tuple[tuple[str, str, str, str], ...] = (
    ("fargate.X86_64.vcpu_hour", "AmazonECS", "", "Fargate-vCPU-Hours:perCPU"),
    ("fargate.X86_64.gb_hour", "AmazonECS", "", "Fargate-GB-Hours"),
    ("fargate.ARM64.vcpu_hour", "AmazonECS", "", "Fargate-ARM-vCPU-Hours:perCPU"),
    ("fargate.ARM64.gb_hour", "AmazonECS", "", "Fargate-ARM-GB-Hours"),
    ("nat_gateway.hour", "AmazonEC2", "NAT Gateway", "NatGateway-Hours"),
    ("nat_gateway.gb", "AmazonEC2", "NAT Gateway", "NatGateway-Bytes"),
    ("alb.hour", "AWSELB", "Load Balancer-Application", "LoadBalancerUsage"),
    ("alb.lcu_hour", "AWSELB", "Load Balancer-Application", "LCUUsage"),
    ("rds_postgres.gp3_gb_month", "AmazonRDS", "Database Storage", "RDS:GP3-Storage"),
    ("rds_postgres.gp2_gb_month", "AmazonRDS", "Database Storage", "RDS:GP2-Storage"),
    ("rds_postgres.backup_gb_month", "AmazonRDS", "", "RDS:ChargedBackupUsage"),
    ("public_ipv4.hour", "AmazonVPC", "", "PublicIPv4:InUseAddress"),
    ("vpc_endpoint.interface_az_hour", "AmazonVPC", "", "VpcEndpoint-Hours"),
    ("vpc_endpoint.gb", "AmazonVPC", "", "VpcEndpoint-Bytes"),
    ("secrets_manager.secret_month", "AWSSecretsManager", "", "AWSSecretsManager-Secrets"),
    ("cloudwatch.alarm_metric_month", "AmazonCloudWatch", "", "CW:AlarmMonitorUsage"),
    ("cloudwatch.logs_ingest_gb", "AmazonCloudWatch", "", "DataProcessing-Bytes"),
    ("cloudwatch.logs_storage_gb_month", "AmazonCloudWatch", "", "TimedStorage-ByteHrs"),
    ("ecr.storage_gb_month", "AmazonECR", "", "TimedStorage-ByteHrs"),
    ("s3.standard_gb_month", "AmazonS3", "Storage", "TimedStorage-ByteHrs"),
)
# The same, for prices the API quotes per request while the table keeps them per 1,000 or per
# million requests: (table path, ServiceCode, productFamily, usagetype suffix, scale).
_SCALED_QUERIES: tuple[tuple[str, str, str, str, float], ...] = (
    ("s3.put_requests_1k", "AmazonS3", "API Request", "Requests-Tier1", 1e3),
    ("sqs.million_requests", "AWSQueueService", "API Request", "Requests-RBP", 1e6),
)

# Prices per instance or node class: (table group, key, ServiceCode, productFamily, filters
# after instanceType). Only the classes already in the table are queried.
_CLASS_QUERIES: tuple[tuple[str, str, str, str, tuple[tuple[str, str], ...]], ...] = (
    (
        "rds_postgres",
        "instance_hour",
        "AmazonRDS",
        "Database Instance",
        (("databaseEngine", "PostgreSQL"), ("deploymentOption", "Single-AZ")),
    ),
    (
        "elasticache",
        "node_hour",
        "AmazonElastiCache",
        "Cache Instance",
        (("cacheEngine", "Redis"),),
    ),
)


def price_queries(table_region: Mapping[str, Any]) -> list[PriceQuery]:
    """The queries for one region; instance and node classes follow the classes already in the
    table (add a class to the table to have it priced)."""
    fixed = [(*query, 1.0) for query in _FIXED_QUERIES] + list(_SCALED_QUERIES)
    queries = [
        PriceQuery(
            tuple(path.split(".")),
            service,
            (("productFamily", family),) if family else (),
            usagetype,
            scale,
        )
        for path, service, family, usagetype, scale in fixed
    ]
    for group, key, service, family, engine_filters in _CLASS_QUERIES:
        classes = (table_region.get(group) or {}).get(key) or {}
        queries += [
            PriceQuery(
                (group, key, cls),
                service,
                (("productFamily", family), ("instanceType", cls), *engine_filters),
                "",
            )
            for cls in sorted(classes)
        ]
    return queries


def _on_demand_price(product: Mapping[str, Any]) -> float | None:
    for term in (product.get("terms", {}).get("OnDemand") or {}).values():
        for dim in (term.get("priceDimensions") or {}).values():
            if str(dim.get("beginRange", "0")) in ("0", "0.0"):
                usd = (dim.get("pricePerUnit") or {}).get("USD")
                if usd is not None:
                    return float(usd)
    return None


def fetch_price(client: Any, region: str, query: PriceQuery) -> float | None:
    """The on-demand price of ``query`` in ``region`` (first tier), or None if not found or
    ambiguous (several products with different prices)."""
    filters = [{"Type": "TERM_MATCH", "Field": "regionCode", "Value": region}]
    filters += [{"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in query.filters]
    found: set[float] = set()
    token = None
    while True:
        params: dict[str, Any] = {
            "ServiceCode": query.service,
            "Filters": filters,
            "FormatVersion": "aws_v1",
            "MaxResults": 100,
        }
        if token:
            params["NextToken"] = token
        page = client.get_products(**params)
        for raw in page.get("PriceList", []):
            product = json.loads(raw) if isinstance(raw, str) else raw
            usage = str(product.get("product", {}).get("attributes", {}).get("usagetype", ""))
            if query.usagetype and not (
                usage == query.usagetype or usage.endswith("-" + query.usagetype)
            ):
                continue
            price = _on_demand_price(product)
            if price is not None and price > 0:
                found.add(round(price * query.scale, 10))
        token = page.get("NextToken")
        if not token:
            break
    return found.pop() if len(found) == 1 else None


def refresh_prices(
    table: PriceTable, regions: Iterable[str], client: Any, today: str
) -> tuple[dict[str, Any], list[str]]:
    """A new price table (as JSON data) with every price ``price_queries`` can find replaced by
    the Price List API's; prices it cannot find are kept and reported."""
    data_regions = json.loads(json.dumps(table.regions))
    report: list[str] = []
    for region in regions:
        current = data_regions.setdefault(region, {})
        kept = []
        for query in price_queries(current or table.regions.get("us-east-1", {})):
            value = fetch_price(client, region, query)
            if value is None:
                kept.append(".".join(query.path))
                continue
            node = current
            for part in query.path[:-1]:
                node = node.setdefault(part, {})
            node[query.path[-1]] = value
        current["verified"] = True
        current["notes"] = f"refreshed from the AWS Price List API on {today}" + (
            f"; kept from the previous table: {', '.join(kept)}" if kept else ""
        )
        report.append(f"{region}: {len(kept)} price(s) kept from the previous table")
    data = {
        "source": "AWS Price List API (pricing:GetProducts, on-demand, first tier); kept values: "
        + table.source,
        "date": today,
        "currency": CURRENCY,
        "regions": data_regions,
    }
    return data, report


def pricing_client() -> Any:
    import boto3

    session = boto3.Session()
    if session.get_credentials() is None:
        raise CostError(
            "refresh-prices needs AWS credentials (pricing:GetProducts); none found. The "
            "estimate itself never needs them."
        )
    # The Price List API answers from us-east-1 (and eu-central-1, ap-south-1) only.
    return session.client("pricing", region_name="us-east-1")
