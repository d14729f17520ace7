"""Fixtures for the reliability suite (real servers on free ports) and its end-of-run summary."""

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from service.migrate import migrate
from tests.reliability.summary import SUMMARY
from tests.support.databases import create_postgres_database
from tests.support.loops import run_in_fresh_loop
from tests.support.settings import make_settings
from tests.support.throwaway_postgres import ThrowawayPostgres
from tests.support.throwaway_redis import ThrowawayRedis

SUMMARY_FILE = Path(".pytest_cache") / "reliability-summary.json"
_ran = {"reliability": False}


def pytest_runtest_setup(item: pytest.Item) -> None:
    if "tests/reliability/" in item.nodeid:
        _ran["reliability"] = True


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.failed and report.when == "call" and "test_schemathesis.py" in report.nodeid:
        SUMMARY.operations_failed += 1


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # type: ignore[no-untyped-def]
    if not _ran["reliability"]:
        return
    terminalreporter.section("reliability summary")
    for line in SUMMARY.lines():
        terminalreporter.write_line(line)
    path = config.rootpath / SUMMARY_FILE
    SUMMARY.write_json(path)
    terminalreporter.write_line(f"(written to {path.relative_to(config.rootpath)})")


@pytest.fixture
def redis_server() -> Iterator[ThrowawayRedis]:
    """A redis-server of our own on a free port, for the tests that kill or flood it."""
    server = ThrowawayRedis()
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[ThrowawayPostgres]:
    """A private PostgreSQL cluster the fault tests may stop, crash and restart."""
    with ThrowawayPostgres() as cluster:
        yield cluster


@pytest.fixture(scope="session")
def cluster_database(pg_cluster: ThrowawayPostgres) -> Callable[[], str]:
    """Factory: a new, migrated database in the private cluster; returns its URL."""

    def make() -> str:
        name = f"rel_{uuid.uuid4().hex[:10]}"
        run_in_fresh_loop(lambda: create_postgres_database(pg_cluster.admin_url, name))
        url = pg_cluster.url(name)
        run_in_fresh_loop(lambda: migrate(make_settings(url)))
        return url

    return make
