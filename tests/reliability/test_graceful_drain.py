"""SIGTERM to a real uvicorn while requests are in flight: every one completes, the process exits.

ECS stops a task with SIGTERM (then SIGKILL after the stop timeout). To have requests truly in
flight when the signal lands, without relying on timing, the test holds an ACCESS EXCLUSIVE lock on
`items` in the private PostgreSQL cluster: the requests block inside the database until
pg_stat_activity shows every one of them waiting, then SIGTERM is sent, then the lock is released.
"""

import asyncio
import signal
import socket
import time
import uuid
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.reliability.summary import SUMMARY
from tests.support.processes import HOST
from tests.support.sql import run_sql
from tests.support.throwaway_postgres import ThrowawayPostgres
from tests.support.uvicorn_server import UvicornServer

IN_FLIGHT = 8
WAIT_BOUND_SECONDS = 20.0
EXIT_BOUND_SECONDS = 20.0
PASSWORD = "correct horse battery staple"
EXPECTED_STATUSES = sorted([201, 200] * (IN_FLIGHT // 2))
# After a complete graceful shutdown, uvicorn (>= 0.29) restores the default SIGTERM handler and
# re-raises the signal it caught, so the process ends "killed by SIGTERM" (Popen: -15, shell and
# ECS: 143) rather than 0. Either is a clean, self-initiated exit: no SIGKILL was needed.
CLEAN_EXIT_CODES = (0, -signal.SIGTERM)


async def _waiting_on_lock(admin_url: str, database: str) -> int:
    rows = await run_sql(
        admin_url,
        "SELECT count(*) FROM pg_stat_activity WHERE datname = :name AND wait_event_type = 'Lock'",
        {"name": database},
    )
    return int(rows[0][0])


async def _drained_items(url: str) -> int:
    rows = await run_sql(url, "SELECT count(*) FROM items")
    return int(rows[0][0])


def _port_refuses(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.5):
            return False
    except OSError:
        return True


@pytest.fixture
def drain_server(pg_cluster: ThrowawayPostgres, cluster_database, tmp_path: Path):  # type: ignore[no-untyped-def]
    url = cluster_database()
    server = UvicornServer(
        {"DATABASE_URL": url, "RATE_LIMIT_ENABLED": "false", "DB_POOL_SIZE": str(IN_FLIGHT)},
        log_path=tmp_path / "uvicorn.log",
    )
    with server:
        yield server, url


async def test_sigterm_lets_in_flight_requests_finish_and_exits_zero(
    pg_cluster: ThrowawayPostgres, drain_server
):
    server, url = drain_server
    database = url.rsplit("/", 1)[1]
    email = f"drain-{uuid.uuid4().hex[:8]}@example.com"
    timeout = httpx.Timeout(WAIT_BOUND_SECONDS + EXIT_BOUND_SECONDS)
    limits = httpx.Limits(max_connections=IN_FLIGHT + 2)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=timeout, limits=limits) as http:
        assert (
            await http.post("/users", json={"email": email, "password": PASSWORD})
        ).status_code == 201
        token = await http.post("/auth/token", data={"username": email, "password": PASSWORD})
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}

        locker = create_async_engine(url)
        try:
            async with locker.connect() as lock_connection:
                await lock_connection.execute(text("LOCK TABLE items IN ACCESS EXCLUSIVE MODE"))
                requests = [
                    asyncio.create_task(
                        http.post(
                            "/items", json={"name": f"drain {n}", "price": "2.50"}, headers=headers
                        )
                        if n % 2 == 0
                        else http.get("/items", headers=headers)
                    )
                    for n in range(IN_FLIGHT)
                ]
                deadline = time.monotonic() + WAIT_BOUND_SECONDS
                while await _waiting_on_lock(pg_cluster.admin_url, database) < IN_FLIGHT:
                    assert time.monotonic() < deadline, "requests never reached the database"
                    await asyncio.sleep(0.05)

                server.send_signal(signal.SIGTERM)
                # Draining: the listener closes, nothing new is accepted.
                deadline = time.monotonic() + WAIT_BOUND_SECONDS
                while not _port_refuses(server.port):
                    assert time.monotonic() < deadline, "uvicorn kept accepting after SIGTERM"
                    await asyncio.sleep(0.05)
                assert not any(request.done() for request in requests), "a request ended early"
                await lock_connection.rollback()  # releases the lock: the requests proceed
        finally:
            await locker.dispose()

        responses = await asyncio.wait_for(asyncio.gather(*requests), timeout=EXIT_BOUND_SECONDS)

    exit_code = await asyncio.to_thread(server.wait, EXIT_BOUND_SECONDS)
    acknowledged = sum(response.status_code == 201 for response in responses)
    stored = await _drained_items(url)
    SUMMARY.writes_acknowledged += acknowledged
    SUMMARY.writes_found += min(stored, acknowledged)
    log = server.log_text()
    statuses = sorted(response.status_code for response in responses)
    drained = "Application shutdown complete" in log and "Finished server process" in log
    clean_exit = exit_code in CLEAN_EXIT_CODES and drained
    SUMMARY.record_fault(
        f"SIGTERM with {IN_FLIGHT} requests in flight",
        survived=clean_exit and statuses == EXPECTED_STATUSES,
    )
    assert statuses == EXPECTED_STATUSES, statuses
    assert stored == acknowledged, f"{acknowledged} creations answered 201, {stored} stored"
    assert clean_exit, f"uvicorn exited {exit_code} (drained: {drained}); log:\n{log[-3000:]}"
