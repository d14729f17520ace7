"""The database's settings: RDS for PostgreSQL instance, storage, backups and monitoring."""

from __future__ import annotations

import re
from dataclasses import dataclass

from infra import catalog
from infra.config.reader import ConfigReader

_DB_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_DB_USERNAME = re.compile(r"^[a-z][a-z0-9_]{0,15}$")


@dataclass(frozen=True)
class DatabaseConfig:
    instance_class: str
    engine_version: str
    allocated_storage: int
    max_allocated_storage: int
    multi_az: bool
    backup_retention_days: int
    name: str
    username: str
    performance_insights: bool  # free tier: 7 days of history, Database Insights standard
    monitoring_interval: int  # Enhanced Monitoring seconds; 0 = off

    @classmethod
    def read(cls, r: ConfigReader) -> DatabaseConfig:
        instance_class = r.listed(
            "dbInstanceClass", "db.t4g.micro", catalog.RDS_INSTANCE_CLASSES, "a DB instance class"
        )
        performance_insights = r.boolean("dbPerformanceInsights", False)
        if performance_insights and not catalog.performance_insights_supported(
            "postgres", instance_class
        ):
            r.fail(
                "dbPerformanceInsights",
                f"false: RDS for PostgreSQL has no Performance Insights on {instance_class}",
                True,
            )

        storage = r.integer("dbAllocatedStorage", 20, minimum=20, maximum=65536)
        max_storage = r.integer(
            "dbMaxAllocatedStorage", storage * 5, minimum=storage, maximum=65536
        )
        return cls(
            instance_class=instance_class,
            engine_version=r.checked(
                "dbEngineVersion",
                "16",
                catalog.rds_engine_version_ok,
                "an RDS PostgreSQL version: a major ("
                + ", ".join(sorted(catalog.RDS_POSTGRES_MAJOR_VERSIONS, key=int))
                + ") or major.minor such as 16.4",
            ),
            allocated_storage=storage,
            max_allocated_storage=max_storage,
            multi_az=r.boolean("dbMultiAz", False),
            backup_retention_days=r.integer("dbBackupRetentionDays", 7, minimum=1, maximum=35),
            name=r.string(
                "dbName", "app", pattern=_DB_NAME, expected="a lowercase PostgreSQL identifier"
            ),
            username=r.string(
                "dbUsername",
                "app_admin",
                pattern=_DB_USERNAME,
                expected="a lowercase identifier of at most 16 characters",
            ),
            performance_insights=performance_insights,
            monitoring_interval=r.integer(
                "dbMonitoringInterval", 0, choices=catalog.RDS_MONITORING_INTERVALS
            ),
        )
