"""PostgreSQL faults under a read load, against a real uvicorn and the private cluster.

The hot reads (service/db_reads.py) do not ping before use: a pooled connection that turns out
dead is replaced and the read retried once. So:
- every app connection terminated while PostgreSQL stays up: readers never notice (only 200s);
- a crash (`pg_ctl stop -m immediate`): reads answer 503 while it is down (never 500, never a
  hang) and 200 again within RECOVERY_BOUND_SECONDS of PostgreSQL accepting connections.
"""

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.reliability.summary import SUMMARY
from tests.reliability.test_postgres_faults import _register, _wait_until_accepting
from tests.support.sql import run_sql
from tests.support.throwaway_postgres import ThrowawayPostgres
from tests.support.uvicorn_server import UvicornServer

READERS = 6
MAX_READS = 20_000  # hard bound on the load, whatever the timing
DEADLINE_SECONDS = 60.0
OUTAGE_SECONDS = 2.0
STEADY_SECONDS = 1.0
RECOVERY_BOUND_SECONDS = 5.0
CLIENT_TIMEOUT_SECONDS = 20.0


@dataclass
class Reads:
    log: list[tuple[float, int | str]] = field(default_factory=list)  # (sent at, status or error)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    def between(self, start: float, end: float) -> Counter:
        return Counter(outcome for sent, outcome in self.log if start <= sent <= end)


async def _reader(http: httpx.AsyncClient, paths: list[str], headers, reads: Reads) -> None:  # type: ignore[no-untyped-def]
    number = 0
    while not reads.stop.is_set() and len(reads.log) < MAX_READS:
        number += 1
        sent = time.monotonic()
        try:
            response = await http.get(paths[number % len(paths)], headers=headers)
            reads.log.append((sent, response.status_code))
        except httpx.HTTPError as exc:
            reads.log.append((sent, type(exc).__name__))
        await asyncio.sleep(0.005)


@pytest.fixture
def read_server(pg_cluster: ThrowawayPostgres, cluster_database, tmp_path: Path):  # type: ignore[no-untyped-def]
    url = cluster_database()
    server = UvicornServer(
        {"DATABASE_URL": url, "RATE_LIMIT_ENABLED": "false", "DB_POOL_SIZE": "4"},
        log_path=tmp_path / "uvicorn.log",
    )
    with server:
        yield server, url.rsplit("/", 1)[1]


async def test_reads_survive_terminated_connections_and_answer_503_only_while_down(
    pg_cluster: ThrowawayPostgres, read_server
):
    server, database = read_server
    deadline = time.monotonic() + DEADLINE_SECONDS
    reads = Reads()
    timeout = httpx.Timeout(CLIENT_TIMEOUT_SECONDS)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=timeout) as http:
        _, headers = await _register(http)
        created = await http.post(
            "/items", json={"name": "read me", "price": "1.00"}, headers=headers
        )
        assert created.status_code == 201, created.text
        paths = [f"/items/{created.json()['id']}", "/items?limit=5"]
        readers = [
            asyncio.create_task(_reader(http, paths, headers, reads)) for _ in range(READERS)
        ]
        try:
            await asyncio.sleep(STEADY_SECONDS)  # the pool is full of live connections
            terminated_at = time.monotonic()
            rows = await run_sql(
                pg_cluster.admin_url,
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = :name AND pid <> pg_backend_pid()",
                {"name": database},
                autocommit=True,
            )
            assert int(rows[0][0]) > 0, "the readers should hold pooled connections"
            await asyncio.sleep(STEADY_SECONDS)
            after_terminate = reads.between(terminated_at, time.monotonic())

            down = time.monotonic()
            await asyncio.to_thread(pg_cluster.stop, "immediate")
            await asyncio.sleep(OUTAGE_SECONDS)
            await asyncio.to_thread(pg_cluster.start)
            back = await _wait_until_accepting(pg_cluster, deadline)
            recovered = None
            while recovered is None and time.monotonic() < min(deadline, back + 30):
                ok = [sent for sent, outcome in reads.log if sent >= back and outcome == 200]
                recovered = min(ok) - back if ok else None
                await asyncio.sleep(0.05)
        finally:
            reads.stop.set()
            await asyncio.wait_for(asyncio.gather(*readers), timeout=CLIENT_TIMEOUT_SECONDS + 5)

    during_outage = reads.between(down, back)
    everything = Counter(outcome for _, outcome in reads.log)
    SUMMARY.record_fault(
        f"PostgreSQL terminate under read load ({sum(after_terminate.values())} reads)",
        survived=set(after_terminate) == {200},
    )
    SUMMARY.record_fault(
        "PostgreSQL crash under read load",
        survived=set(during_outage) <= {200, 503} and recovered is not None,
    )
    assert set(after_terminate) == {200}, (
        f"a terminated pooled connection should cost a read nothing (retried on a fresh one): "
        f"{after_terminate}; log:\n{server.log_text()[-3000:]}"
    )
    assert set(everything) <= {200, 503}, f"expected only 200/503, got {everything}"
    assert during_outage.get(503, 0) > 0, f"no read saw the outage: {during_outage}"
    assert recovered is not None and recovered <= RECOVERY_BOUND_SECONDS, (
        f"reads answered 200 again {recovered} s after PostgreSQL came back "
        f"(bound {RECOVERY_BOUND_SECONDS} s)"
    )
