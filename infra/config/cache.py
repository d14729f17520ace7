"""The cache's settings: the ElastiCache Redis node type, node count and engine version."""

from __future__ import annotations

from dataclasses import dataclass

from infra import catalog
from infra.config.reader import ConfigReader


@dataclass(frozen=True)
class CacheConfig:
    node_type: str
    nodes: int  # 1 = single node; >= 2 = primary + replicas with automatic failover
    engine_version: str

    @classmethod
    def read(cls, r: ConfigReader) -> CacheConfig:
        nodes = r.integer("cacheNodes", 1, minimum=1, maximum=6)
        return cls(
            node_type=r.listed(
                "cacheNodeType",
                "cache.t4g.micro",
                catalog.ELASTICACHE_NODE_TYPES,
                "an ElastiCache node type",
            ),
            nodes=nodes,
            engine_version=r.checked(
                "cacheEngineVersion",
                "7.1",
                catalog.cache_engine_version_ok,
                "a Redis OSS engine version: "
                + ", ".join(sorted(catalog.ELASTICACHE_REDIS_VERSIONS)),
            ),
        )
