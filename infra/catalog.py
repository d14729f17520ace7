"""The AWS values the stack configuration is checked against (stdlib only, no Pulumi).

These lists are what this project accepts, not a live mirror of AWS: a value AWS launches
later is refused until someone adds it here, which is how a new offering becomes accepted.
Checking config against them lets a wrong value fail at preview, naming the key.

Sources, all read 2026-11-30 (re-check them when adding a value):
  https://docs.aws.amazon.com/AmazonRDS/latest/PostgreSQLReleaseNotes/postgresql-versions.html
  https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Concepts.DBInstanceClass.Support.html
  https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_CacheNode.html
  https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/supported-engine-versions.html
  https://docs.aws.amazon.com/elasticloadbalancing/latest/application/describe-ssl-policies.html
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping

# Size ladders shared by several families (each family only has the sizes AWS sells).
_BURST_DB = ("micro", "small", "medium", "large", "xlarge", "2xlarge")
_BURST_CACHE = ("micro", "small", "medium")
_TO_16X = ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge")
_TO_24X = (*_TO_16X, "24xlarge")
_TO_32X = (*_TO_24X, "32xlarge")
_TO_48X = (*_TO_24X, "48xlarge")
_CACHE_GEN5 = ("large", "xlarge", "2xlarge", "4xlarge", "12xlarge", "24xlarge")


def _expand(prefix: str, families: Mapping[str, tuple[str, ...]]) -> frozenset[str]:
    return frozenset(f"{prefix}.{fam}.{size}" for fam, sizes in families.items() for size in sizes)


# RDS for PostgreSQL release notes, checked 2026-11-30; add a major here to accept it.
# 13 is past standard support (RDS Extended Support, charged); 19 is preview-only, so out.
RDS_POSTGRES_MAJOR_VERSIONS: frozenset[str] = frozenset({"13", "14", "15", "16", "17", "18"})

# RDS "Supported DB engines for DB instance classes", checked 2026-11-30; add families here.
# Some classes need a recent minor (m7i/r7i/*8g: 16.1+, 17.1+...); RDS checks that pair.
RDS_INSTANCE_CLASSES: frozenset[str] = _expand(
    "db",
    {
        "t3": _BURST_DB,
        "t4g": _BURST_DB,
        "m5": _TO_24X,
        "m6g": _TO_16X,
        "m6gd": _TO_16X,
        "m6i": _TO_32X,
        "m6id": _TO_32X,
        "m7g": _TO_16X,
        "m7i": _TO_48X,
        "m8g": _TO_48X,
        "r5": _TO_24X,
        "r6g": _TO_16X,
        "r6gd": _TO_16X,
        "r6i": _TO_32X,
        "r6id": _TO_32X,
        "r7g": _TO_16X,
        "r7i": _TO_48X,
        "r8g": _TO_48X,
    },
)

# ElastiCache API Reference "CacheNode" (also botocore's model), checked 2026-11-30; add here.
# r6gd is left out on purpose: it needs data tiering, which the cache component never enables.
ELASTICACHE_NODE_TYPES: frozenset[str] = _expand(
    "cache",
    {
        "t3": _BURST_CACHE,
        "t4g": _BURST_CACHE,
        "m5": _CACHE_GEN5,
        "m6g": _TO_16X,
        "m7g": _TO_16X,
        "r5": _CACHE_GEN5,
        "r6g": _TO_16X,
        "r7g": _TO_16X,
    },
)

# ElastiCache "Supported engine versions" (Redis OSS), checked 2026-11-30; add versions here.
# 7.2+ exist only for engine "valkey"; 4.0.10 and 5.0.6 are on paid Extended Support.
ELASTICACHE_REDIS_VERSIONS: tuple[str, ...] = ("6.2", "7.0", "7.1")

# ALB "Security policies for your Application Load Balancer", checked 2026-11-30; add here.
# The last two are not on that page (2015-05 is on the NLB one); older ELBv2 API docs list them.
ELB_SSL_POLICIES: frozenset[str] = frozenset(
    "ELBSecurityPolicy-" + suffix
    for suffix in (
        "TLS13-1-3-2021-06",
        "TLS13-1-3-PQ-2025-09",
        "TLS13-1-2-2021-06",
        "TLS13-1-2-PQ-2025-09",
        "TLS13-1-2-Res-2021-06",
        "TLS13-1-2-Res-PQ-2025-09",
        "TLS13-1-2-Ext1-2021-06",
        "TLS13-1-2-Ext1-PQ-2025-09",
        "TLS13-1-2-Ext2-2021-06",
        "TLS13-1-2-Ext2-PQ-2025-09",
        "TLS13-1-1-2021-06",
        "TLS13-1-0-2021-06",
        "TLS13-1-0-PQ-2025-09",
        "TLS13-1-3-FIPS-2023-04",
        "TLS13-1-3-FIPS-PQ-2025-09",
        "TLS13-1-2-FIPS-2023-04",
        "TLS13-1-2-FIPS-PQ-2025-09",
        "TLS13-1-2-Res-FIPS-2023-04",
        "TLS13-1-2-Res-FIPS-PQ-2025-09",
        "TLS13-1-2-Ext0-FIPS-2023-04",
        "TLS13-1-2-Ext0-FIPS-PQ-2025-09",
        "TLS13-1-2-Ext1-FIPS-2023-04",
        "TLS13-1-2-Ext1-FIPS-PQ-2025-09",
        "TLS13-1-2-Ext2-FIPS-2023-04",
        "TLS13-1-2-Ext2-FIPS-PQ-2025-09",
        "TLS13-1-1-FIPS-2023-04",
        "TLS13-1-0-FIPS-2023-04",
        "TLS13-1-0-FIPS-PQ-2025-09",
        "TLS13-1-3-RFC9151-FIPS-2023-07",
        "TLS13-1-2-RFC9151-FIPS-2023-07",
        "TLS13-1-2-Ext0-RFC9151-FIPS-2023-07",
        "TLS13-1-2-RFC9151-INTEROP1-FIPS-2023-07",
        "TLS13-1-2-RFC9151-INTEROP2-FIPS-2023-07",
        "TLS13-1-2-RFC9151-INTEROP3-FIPS-2023-07",
        "TLS13-1-2-RFC9151-INTEROP4-FIPS-2023-07",
        "FS-1-2-Res-2020-10",
        "FS-1-2-Res-2019-08",
        "FS-1-2-2019-08",
        "FS-1-1-2019-08",
        "FS-2018-06",
        "TLS-1-2-Ext-2018-06",
        "TLS-1-2-2017-01",
        "TLS-1-1-2017-01",
        "2016-08",
        "2015-05",
        "TLS-1-0-2015-04",
    )
)

# ASCII digits only ("\d" would let "١٦" through); no leading zeros, nothing after the minor.
_PG_VERSION = re.compile(r"(?P<major>[1-9][0-9]*)(?:\.(?:0|[1-9][0-9]*))?")


def did_you_mean(value: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``choices``, or ``""`` when none is close."""
    close = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def rds_engine_version_ok(value: str) -> bool:
    """A major ("16") or major.minor ("16.4") whose major RDS offers.

    The minor is not looked up: RDS adds and retires minors every quarter, and refuses an
    unknown one itself; pinning only the major keeps this list stable.
    """
    match = _PG_VERSION.fullmatch(value)
    return match is not None and match["major"] in RDS_POSTGRES_MAJOR_VERSIONS


def cache_engine_version_ok(value: str) -> bool:
    """An engine version a Redis OSS replication group accepts.

    The provider takes major.minor from 7 on, and for 6 also "6.x" (the newest 6 at creation).
    """
    return value in ELASTICACHE_REDIS_VERSIONS or value == "6.x"


# ECR references, as the program (service:imageRef) and infra/tools/promote.py both parse them.
_ECR_REGISTRY = (
    r"(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z]{2}(?:-[a-z]+)+-\d)"
    r"\.amazonaws\.com(?:\.cn)?"
)
_ECR_REPOSITORY = r"(?P<name>[a-z0-9]+(?:[._/-][a-z0-9]+)*)"
ECR_REPOSITORY_URL = re.compile(rf"^(?P<registry>{_ECR_REGISTRY})/{_ECR_REPOSITORY}$")
# An image by digest: a tag can be moved, a digest cannot.
ECR_IMAGE_REF = re.compile(
    rf"^(?P<registry>{_ECR_REGISTRY})/{_ECR_REPOSITORY}@(?P<digest>sha256:[0-9a-f]{{64}})$"
)


# ALB access logs: which principal may write to the log bucket. Regions available before August
# 2022 deliver as the region's Elastic Load Balancing account (the provider's
# aws.elb.get_service_account knows each id); every region launched since uses the service
# principal below. A region AWS launches from now on is therefore not listed here. Source: ELB
# user guide, "Enable access logs for your Application Load Balancer", step 2 (read 2026-12-01).
ELB_LOG_DELIVERY_PRINCIPAL = "logdelivery.elasticloadbalancing.amazonaws.com"
ELB_ACCOUNT_LOG_REGIONS: frozenset[str] = frozenset(
    {
        "us-east-1",
        "us-east-2",
        "us-west-1",
        "us-west-2",
        "af-south-1",
        "ap-east-1",
        "ap-south-1",
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-northeast-3",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-southeast-3",
        "ca-central-1",
        "eu-central-1",
        "eu-west-1",
        "eu-west-2",
        "eu-west-3",
        "eu-south-1",
        "eu-north-1",
        "me-south-1",
        "sa-east-1",
        "us-gov-west-1",
        "us-gov-east-1",
        "cn-north-1",
        "cn-northwest-1",
    }
)


def elb_logs_use_account_principal(region: str) -> bool:
    """True where ALB access logs are written by the region's ELB account (pre-August-2022
    regions), False where the log delivery service principal writes them."""
    return region in ELB_ACCOUNT_LOG_REGIONS


# Performance Insights (Database Insights) instance-class restrictions by engine: RDS user guide,
# "DB engine, Region, and instance class support for Database Insights" (read 2026-12-01).
# MariaDB and MySQL refuse the micro and small burstable classes; RDS for PostgreSQL has no
# class restriction, so db.t4g.micro (dev's default) may turn it on.
_SMALL_BURSTABLE = frozenset(
    f"db.{family}.{size}" for family in ("t2", "t3", "t4g") for size in ("micro", "small")
)
PERFORMANCE_INSIGHTS_UNSUPPORTED: Mapping[str, frozenset[str]] = {
    "postgres": frozenset(),
    "mysql": _SMALL_BURSTABLE,
    "mariadb": _SMALL_BURSTABLE,
}


def performance_insights_supported(engine: str, instance_class: str) -> bool:
    return instance_class not in PERFORMANCE_INSIGHTS_UNSUPPORTED.get(engine, frozenset())


# RDS Enhanced Monitoring intervals (CreateDBInstance MonitoringInterval); 0 turns it off.
RDS_MONITORING_INTERVALS: tuple[int, ...] = (0, 1, 5, 10, 15, 30, 60)
