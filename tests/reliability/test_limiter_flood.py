"""Issue 23, finding 1: a flood must not switch the limiter off.

One address floods `GET /users/me` (wrk, 200 connections, far beyond one process's capacity)
while the same address tries a wrong password every 50 ms. Before the fix, waiting for one of the
pooled Redis connections counted against the 100 ms deadline, three timeouts in a row opened the
breaker and the limiter admitted everyone: 142 logins in 15 s against 5/minute. Now a check that
finds no connection free is shed (503) and never counts as a Redis failure, so at most the limit's
5 login attempts reach the handler (401), whatever the load; the rest are 429 or 503.
"""

import asyncio
import shutil
import subprocess
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.reliability.summary import SUMMARY
from tests.support.throwaway_postgres import ThrowawayPostgres
from tests.support.throwaway_redis import ThrowawayRedis
from tests.support.uvicorn_server import UvicornServer

FLOOD_SECONDS = 8
FLOOD_CONNECTIONS = 200
LOGIN_INTERVAL_SECONDS = 0.05
FLOODER = "198.51.100.77"  # documentation address, sent as X-Forwarded-For from 127.0.0.1
LOGIN_LIMIT = 5  # RATE_LIMIT_AUTH_TOKEN's default, 5/minute per address


async def _logins(http: httpx.AsyncClient, email: str, until: float) -> Counter:
    outcomes: Counter = Counter()
    while time.monotonic() < until and sum(outcomes.values()) < 1000:
        try:
            response = await http.post(
                "/auth/token",
                data={"username": email, "password": "wrong password, again"},
                headers={"X-Forwarded-For": FLOODER},
            )
            outcomes[response.status_code] += 1
        except httpx.HTTPError as exc:
            outcomes[type(exc).__name__] += 1
        await asyncio.sleep(LOGIN_INTERVAL_SECONDS)
    return outcomes


@pytest.mark.skipif(shutil.which("wrk") is None, reason="needs wrk (make bench installs it)")
async def test_a_flood_from_one_address_does_not_switch_login_limiting_off(
    pg_cluster: ThrowawayPostgres, cluster_database, redis_server: ThrowawayRedis, tmp_path: Path
):
    server = UvicornServer(
        {
            "DATABASE_URL": cluster_database(),
            "RATE_LIMIT_ENABLED": "true",
            "REDIS_URL": redis_server.url,
            "RATE_LIMIT_KEY_PREFIX": f"flood-{uuid.uuid4().hex[:8]}",
        },
        log_path=tmp_path / "uvicorn.log",
    )
    with server:
        email = f"victim-{uuid.uuid4().hex[:8]}@example.com"
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
            created = await http.post(
                "/users", json={"email": email, "password": "correct horse battery staple"}
            )
            assert created.status_code == 201, created.text
            flood = subprocess.Popen(
                [
                    "wrk",
                    *("-t", "2", "-c", str(FLOOD_CONNECTIONS), "-d", f"{FLOOD_SECONDS}s"),
                    *("-H", f"X-Forwarded-For: {FLOODER}"),
                    f"{server.base_url}/users/me",
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            try:
                await asyncio.sleep(1.0)  # the flood is on
                outcomes = await _logins(http, email, time.monotonic() + FLOOD_SECONDS - 2)
            finally:
                report, _ = await asyncio.to_thread(flood.communicate, timeout=FLOOD_SECONDS + 30)
        log = server.log_text()
    admitted = outcomes.get(401, 0)
    SUMMARY.record_fault(
        f"flood of /users/me while guessing passwords ({sum(outcomes.values())} logins)",
        survived=admitted <= LOGIN_LIMIT,
    )
    assert "Requests/sec" in report, report
    assert admitted <= LOGIN_LIMIT, (
        f"{admitted} wrong-password logins reached the handler against {LOGIN_LIMIT}/minute "
        f"(outcomes {dict(outcomes)}): the limiter let the flood switch it off"
    )
    assert sum(outcomes.values()) > LOGIN_LIMIT, f"too few login attempts to tell: {outcomes}"
    assert set(outcomes) <= {401, 429, 503}, outcomes
    assert "rate limiter storage unavailable" not in log, "the breaker opened: Redis was fine"
