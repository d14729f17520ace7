"""PostgreSQL outages under a write load, against a real uvicorn and a private PostgreSQL cluster.

Three faults, one after the other, while writers keep POSTing items:
- crash: `pg_ctl stop -m immediate` (backends die mid-query, crash recovery on restart);
- shutdown: `pg_ctl stop -m fast` (sessions terminated by the server, clean restart);
- terminate: `pg_terminate_backend` on every app connection while PostgreSQL stays up
  (connections reset mid-query; the pool must notice and reconnect).

Expected: every request is answered 201 or 503 (never 500, never a hang), the service answers 201
again within RECOVERY_BOUND_SECONDS of PostgreSQL accepting connections, and every item that was
answered 201 is in the database afterwards.
"""

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.reliability.summary import SUMMARY
from tests.support.sql import run_sql
from tests.support.throwaway_postgres import ThrowawayPostgres
from tests.support.uvicorn_server import UvicornServer

WRITERS = 6
MAX_WRITES = 4_000  # hard bound on the load, whatever the timing
LOAD_DEADLINE_SECONDS = 90.0  # hard bound on the whole scenario
OUTAGE_SECONDS = 2.0
STEADY_SECONDS = 1.5
RECOVERY_BOUND_SECONDS = 5.0
# "Not hang": the slowest 503 must still come back well inside the client's patience.
CLIENT_TIMEOUT_SECONDS = 20.0
SLOWEST_503_BOUND_SECONDS = 12.0
PASSWORD = "correct horse battery staple"


@dataclass
class Write:
    name: str
    started: float
    finished: float = 0.0
    status: int | None = None
    error: str | None = None


@dataclass
class Load:
    writes: list[Write] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    def acknowledged(self) -> list[Write]:
        return [write for write in self.writes if write.status == 201]


async def _writer(http: httpx.AsyncClient, headers: dict[str, str], load: Load, index: int) -> None:
    number = 0
    while not load.stop.is_set() and len(load.writes) < MAX_WRITES:
        number += 1
        write = Write(name=f"w{index}-{number}-{uuid.uuid4().hex[:8]}", started=time.monotonic())
        load.writes.append(write)
        try:
            response = await http.post(
                "/items", json={"name": write.name, "price": "1.00"}, headers=headers
            )
            write.status = response.status_code
        except httpx.HTTPError as exc:
            write.error = type(exc).__name__
        write.finished = time.monotonic()
        await asyncio.sleep(0.01)


async def _wait_until_accepting(cluster: ThrowawayPostgres, deadline: float) -> float:
    """The moment PostgreSQL answers a query again (what recovery is measured from)."""
    engine = create_async_engine(cluster.admin_url, pool_size=1, connect_args={"timeout": 1})
    try:
        while time.monotonic() < deadline:
            try:
                async with engine.connect() as connection:
                    await connection.execute(text("SELECT 1"))
                return time.monotonic()
            except Exception:
                await asyncio.sleep(0.05)
    finally:
        await engine.dispose()
    raise TimeoutError("PostgreSQL did not accept connections again")


async def _wait_for_recovery(load: Load, since: float, deadline: float) -> float:
    """Seconds from `since` to the first 201 for a request sent after `since`."""
    while time.monotonic() < deadline:
        done = [w for w in load.writes if w.started >= since and w.status == 201]
        if done:
            return min(w.finished for w in done) - since
        await asyncio.sleep(0.05)
    raise TimeoutError("the service did not answer 201 again")


async def _terminate_app_connections(cluster: ThrowawayPostgres, database: str) -> int:
    rows = await run_sql(
        cluster.admin_url,
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE datname = :name AND pid <> pg_backend_pid()",
        {"name": database},
        autocommit=True,
    )
    return int(rows[0][0])


async def _stored_names(url: str, owner_id: int) -> set[str]:
    rows = await run_sql(url, "SELECT name FROM items WHERE owner_id = :owner", {"owner": owner_id})
    return {row[0] for row in rows}


async def _register(http: httpx.AsyncClient) -> tuple[int, dict[str, str]]:
    email = f"load-{uuid.uuid4().hex[:8]}@example.com"
    created = await http.post("/users", json={"email": email, "password": PASSWORD})
    assert created.status_code == 201, created.text
    token = await http.post("/auth/token", data={"username": email, "password": PASSWORD})
    assert token.status_code == 200, token.text
    return created.json()["id"], {"Authorization": f"Bearer {token.json()['access_token']}"}


def _outcomes(writes: list[Write]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for write in writes:
        key = str(write.status) if write.status is not None else f"error:{write.error}"
        counts[key] = counts.get(key, 0) + 1
    return counts


@pytest.fixture
def app_server(pg_cluster: ThrowawayPostgres, cluster_database, tmp_path: Path):  # type: ignore[no-untyped-def]
    url = cluster_database()
    server = UvicornServer(
        {
            "DATABASE_URL": url,
            "RATE_LIMIT_ENABLED": "false",
            "DB_POOL_SIZE": "5",
            "DB_MAX_OVERFLOW": "5",
            "DB_POOL_TIMEOUT": "3",
        },
        log_path=tmp_path / "uvicorn.log",
    )
    with server:
        yield server, url


async def test_postgres_outages_under_write_load_answer_503_recover_and_lose_nothing(
    pg_cluster: ThrowawayPostgres, app_server
):
    server, url = app_server
    database = url.rsplit("/", 1)[1]
    deadline = time.monotonic() + LOAD_DEADLINE_SECONDS
    load = Load()
    faults: list[tuple[str, float, float]] = []  # (name, outage start, back)
    timeout = httpx.Timeout(CLIENT_TIMEOUT_SECONDS)
    limits = httpx.Limits(max_connections=WRITERS + 2)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=timeout, limits=limits) as http:
        owner_id, headers = await _register(http)
        writers = [
            asyncio.create_task(_writer(http, headers, load, index)) for index in range(WRITERS)
        ]
        try:
            await asyncio.sleep(STEADY_SECONDS)
            for name, mode in (("crash", "immediate"), ("shutdown", "fast")):
                down = time.monotonic()
                await asyncio.to_thread(pg_cluster.stop, mode)
                await asyncio.sleep(OUTAGE_SECONDS)
                await asyncio.to_thread(pg_cluster.start)
                back = await _wait_until_accepting(pg_cluster, deadline)
                faults.append((name, down, back))
                SUMMARY.recovery_seconds.append(
                    await _wait_for_recovery(load, back, min(deadline, back + 30))
                )
                await asyncio.sleep(STEADY_SECONDS)
            down = time.monotonic()
            terminated = await _terminate_app_connections(pg_cluster, database)
            faults.append((f"terminate ({terminated} connections)", down, time.monotonic()))
            SUMMARY.recovery_seconds.append(
                await _wait_for_recovery(load, down, min(deadline, down + 30))
            )
            await asyncio.sleep(STEADY_SECONDS)
        finally:
            load.stop.set()
            await asyncio.wait_for(asyncio.gather(*writers), timeout=CLIENT_TIMEOUT_SECONDS + 5)

    stored = await _stored_names(url, owner_id)
    acknowledged = load.acknowledged()
    lost = [write.name for write in acknowledged if write.name not in stored]
    SUMMARY.writes_acknowledged += len(acknowledged)
    SUMMARY.writes_found += len(acknowledged) - len(lost)
    outcomes = _outcomes(load.writes)

    for name, down, back in faults:
        during = [w for w in load.writes if down <= w.started <= back]
        failed = [w for w in during if w.status == 503]
        survived = all(w.status in (201, 503) for w in during) and (
            bool(failed) or name.startswith("terminate")
        )
        SUMMARY.record_fault(f"PostgreSQL {name} under load", survived=survived)

    unexpected = [w for w in load.writes if w.status not in (201, 503)]
    assert not unexpected, (
        f"expected only 201/503 during outages, got {outcomes}; log:\n{server.log_text()[-3000:]}"
    )
    assert outcomes.get("503", 0) > 0, f"no request saw an outage: {outcomes}"
    slowest_503 = max(w.finished - w.started for w in load.writes if w.status == 503)
    assert slowest_503 < SLOWEST_503_BOUND_SECONDS, f"a 503 took {slowest_503:.1f}s (hang?)"
    assert not lost, f"{len(lost)} acknowledged writes missing from the database: {lost[:5]}"
    assert all(seconds <= RECOVERY_BOUND_SECONDS for seconds in SUMMARY.recovery_seconds[-3:]), (
        f"recovery took {SUMMARY.recovery_seconds[-3:]} s (bound {RECOVERY_BOUND_SECONDS} s)"
    )
