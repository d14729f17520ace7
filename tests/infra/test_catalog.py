"""infra.catalog: the project's defaults are accepted, the values from the bug report are not."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

from infra import catalog
from infra.catalog import (
    ELASTICACHE_NODE_TYPES,
    ELASTICACHE_REDIS_VERSIONS,
    ELB_SSL_POLICIES,
    RDS_INSTANCE_CLASSES,
    RDS_POSTGRES_MAJOR_VERSIONS,
    cache_engine_version_ok,
    did_you_mean,
    rds_engine_version_ok,
)

LISTS = {
    "RDS_POSTGRES_MAJOR_VERSIONS": RDS_POSTGRES_MAJOR_VERSIONS,
    "RDS_INSTANCE_CLASSES": RDS_INSTANCE_CLASSES,
    "ELASTICACHE_NODE_TYPES": ELASTICACHE_NODE_TYPES,
    "ELASTICACHE_REDIS_VERSIONS": ELASTICACHE_REDIS_VERSIONS,
    "ELB_SSL_POLICIES": ELB_SSL_POLICIES,
}


@pytest.mark.parametrize(
    ("value", "choices"),
    [
        ("db.t4g.micro", RDS_INSTANCE_CLASSES),
        ("db.t4g.medium", RDS_INSTANCE_CLASSES),
        ("cache.t4g.micro", ELASTICACHE_NODE_TYPES),
        ("cache.t4g.small", ELASTICACHE_NODE_TYPES),
        ("16", RDS_POSTGRES_MAJOR_VERSIONS),
        ("7.1", ELASTICACHE_REDIS_VERSIONS),
        ("ELBSecurityPolicy-TLS13-1-2-2021-06", ELB_SSL_POLICIES),
    ],
)
def test_project_defaults_are_accepted(value, choices):
    assert value in choices


def test_default_engine_versions_pass_the_checks():
    assert rds_engine_version_ok("16")
    assert cache_engine_version_ok("7.1")


@pytest.mark.parametrize(
    ("value", "choices"),
    [
        ("99", RDS_POSTGRES_MAJOR_VERSIONS),
        ("cache.x1.mega", ELASTICACHE_NODE_TYPES),
        ("ELBSecurityPolicy-TLS13-9-9", ELB_SSL_POLICIES),
    ],
)
def test_bug_report_values_are_refused(value, choices):
    assert value not in choices


def test_bug_report_engine_version_fails_the_check():
    assert not rds_engine_version_ok("99")


def test_did_you_mean_suggests_the_close_instance_class():
    assert did_you_mean("db.t4g.mirco", RDS_INSTANCE_CLASSES) == " (did you mean 'db.t4g.micro'?)"


def test_did_you_mean_suggests_the_close_ssl_policy():
    hint = did_you_mean("ELBSecurityPolicy-TLS13-1-2-2021-6", ELB_SSL_POLICIES)
    assert hint == " (did you mean 'ELBSecurityPolicy-TLS13-1-2-2021-06'?)"


@pytest.mark.parametrize("value", ["zzz", "", "cache.x1.mega"])
def test_did_you_mean_is_empty_when_nothing_is_close(value):
    assert did_you_mean(value, RDS_INSTANCE_CLASSES) == ""


def test_did_you_mean_accepts_any_iterable():
    assert did_you_mean("7.l", iter(ELASTICACHE_REDIS_VERSIONS)) == " (did you mean '7.1'?)"


@pytest.mark.parametrize("value", ["13", "16", "16.4", "17.7", "18", "18.3", "16.0"])
def test_rds_engine_version_accepts_major_or_major_minor(value):
    assert rds_engine_version_ok(value)


@pytest.mark.parametrize(
    "value",
    [
        "16.",  # dangling dot
        "16.4.1",  # PostgreSQL has no patch level
        "v16",
        "16.x",
        ".4",
        "",
        " 16",
        "16 ",
        "16\n",
        "016",  # leading zero
        "16.04",
        "١٦",  # Arabic-Indic digits match \d but are no version
        "12",  # Extended Support only
        "12.22",
        "19",  # preview only
        "99",
        "99.1",
    ],
)
def test_rds_engine_version_refuses(value):
    assert not rds_engine_version_ok(value)


@pytest.mark.parametrize("value", ["6.2", "7.0", "7.1", "6.x"])
def test_cache_engine_version_accepts(value):
    assert cache_engine_version_ok(value)


@pytest.mark.parametrize(
    "value",
    ["7", "7.2", "8.0", "7.1.0", "5.0.6", "4.0.10", "7.x", "6", "", "v7.1"],
)
def test_cache_engine_version_refuses(value):
    assert not cache_engine_version_ok(value)


@pytest.mark.parametrize(
    ("present", "absent"),
    [
        ("db.m7i.48xlarge", "db.m7i.32xlarge"),
        ("db.m6i.32xlarge", "db.m6i.48xlarge"),
        ("db.m5.24xlarge", "db.m5.32xlarge"),
        ("db.r6g.16xlarge", "db.r6g.24xlarge"),
        ("db.t3.2xlarge", "db.t3.4xlarge"),
        ("db.r5.large", "db.r5.medium"),
    ],
)
def test_instance_classes_follow_each_family_sizes(present, absent):
    assert present in RDS_INSTANCE_CLASSES
    assert absent not in RDS_INSTANCE_CLASSES


@pytest.mark.parametrize(
    ("present", "absent"),
    [
        ("cache.m5.24xlarge", "cache.m5.8xlarge"),
        ("cache.r5.12xlarge", "cache.r5.16xlarge"),
        ("cache.r7g.16xlarge", "cache.r7g.24xlarge"),
        ("cache.t3.medium", "cache.t3.large"),
        ("cache.m6g.large", "cache.r6gd.xlarge"),
    ],
)
def test_node_types_follow_each_family_sizes(present, absent):
    assert present in ELASTICACHE_NODE_TYPES
    assert absent not in ELASTICACHE_NODE_TYPES


def test_values_have_the_shape_the_config_patterns_expect():
    assert all(re.fullmatch(r"db\.[a-z0-9]+\.[a-z0-9]+", c) for c in RDS_INSTANCE_CLASSES)
    assert all(re.fullmatch(r"cache\.[a-z0-9]+\.[a-z0-9]+", n) for n in ELASTICACHE_NODE_TYPES)
    assert all(re.fullmatch(r"ELBSecurityPolicy-[A-Za-z0-9-]+", p) for p in ELB_SSL_POLICIES)
    assert all(rds_engine_version_ok(major) for major in RDS_POSTGRES_MAJOR_VERSIONS)


def test_post_quantum_policies_are_accepted():
    assert "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09" in ELB_SSL_POLICIES
    assert "ELBSecurityPolicy-TLS13-1-3-FIPS-PQ-2025-09" in ELB_SSL_POLICIES


@pytest.mark.parametrize("name", sorted(LISTS))
def test_lists_are_immutable_and_non_empty(name):
    assert isinstance(LISTS[name], frozenset | tuple)
    assert LISTS[name]


def test_module_imports_only_the_standard_library():
    tree = ast.parse(Path(catalog.__file__).read_text(encoding="utf-8"))
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        node.module.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module
    }
    assert imported <= sys.stdlib_module_names
