"""The rate limiter against a real uvicorn: Redis killed under load, and login brute force from
rotating X-Forwarded-For values.

tests/ratelimit covers the limiter's logic in-process (exact budgets, headers, trusted and
untrusted X-Forwarded-For for item creation, the per-username login limit across addresses;
test_outage.py: fail-open/closed, hung Redis and recovery, one request at a time).
This adds what needs real processes and load: SIGKILL of a throwaway redis-server while requests
flow (fail-open: nothing fails; fail-closed: 503 with Retry-After, then recovery once Redis is
back), and a password-guessing run through a real server whose peer is not a trusted proxy.
"""

import asyncio
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.reliability.summary import SUMMARY
from tests.support.throwaway_postgres import ThrowawayPostgres
from tests.support.throwaway_redis import ThrowawayRedis
from tests.support.uvicorn_server import UvicornServer

WORKERS = 4
MAX_REQUESTS = 3_000
STEADY_SECONDS = 1.0
OUTAGE_SECONDS = 2.0
RECOVERY_BOUND_SECONDS = 5.0  # RATE_LIMIT_REDIS_BACKOFF (1 s) + margin
SLOWEST_BOUND_SECONDS = 5.0  # each Redis check is bounded by RATE_LIMIT_REDIS_TIMEOUT (0.1 s)
PASSWORD = "correct horse battery staple"


@dataclass
class Call:
    started: float
    finished: float = 0.0
    status: int | None = None
    retry_after: str | None = None
    error: str | None = None


def limited_server(database_url: str, log: Path, **env: str) -> UvicornServer:
    return UvicornServer(
        {
            "DATABASE_URL": database_url,
            "RATE_LIMIT_ENABLED": "true",
            "RATE_LIMIT_KEY_PREFIX": f"reliability-{uuid.uuid4().hex[:8]}",
            # Generous budgets: this test is about the storage failing, not about 429s.
            "RATE_LIMIT_ITEMS_READ": "100000/second",
            "RATE_LIMIT_USERS_CREATE": "1000/minute",
            "RATE_LIMIT_AUTH_TOKEN": "1000/minute",
            **env,
        },
        log_path=log,
    )


async def _register(http: httpx.AsyncClient) -> dict[str, str]:
    email = f"limiter-{uuid.uuid4().hex[:8]}@example.com"
    created = await http.post("/users", json={"email": email, "password": PASSWORD})
    assert created.status_code == 201, created.text
    token = await http.post("/auth/token", data={"username": email, "password": PASSWORD})
    assert token.status_code == 200, token.text
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


async def _reader(http, headers, calls: list[Call], stop: asyncio.Event) -> None:  # type: ignore[no-untyped-def]
    while not stop.is_set() and len(calls) < MAX_REQUESTS:
        call = Call(started=time.monotonic())
        calls.append(call)
        try:
            response = await http.get("/items", headers=headers)
            call.status = response.status_code
            call.retry_after = response.headers.get("retry-after")
        except httpx.HTTPError as exc:
            call.error = type(exc).__name__
        call.finished = time.monotonic()
        await asyncio.sleep(0.01)


@pytest.mark.parametrize("fail_open", [True, False], ids=["fail-open", "fail-closed"])
async def test_redis_killed_under_load_follows_the_failure_policy(
    pg_cluster: ThrowawayPostgres,
    cluster_database,
    redis_server: ThrowawayRedis,
    tmp_path,
    fail_open,
):
    server = limited_server(
        cluster_database(),
        tmp_path / "uvicorn.log",
        REDIS_URL=redis_server.url,
        RATE_LIMIT_FAIL_OPEN=str(fail_open).lower(),
    )
    calls: list[Call] = []
    stop = asyncio.Event()
    try:
        server.start()
        async with httpx.AsyncClient(base_url=server.base_url, timeout=20) as http:
            headers = await _register(http)
            readers = [
                asyncio.create_task(_reader(http, headers, calls, stop)) for _ in range(WORKERS)
            ]
            try:
                await asyncio.sleep(STEADY_SECONDS)
                killing = time.monotonic()
                await asyncio.to_thread(redis_server.kill)
                down = time.monotonic()  # after the kill returns: Redis is certainly gone
                await asyncio.sleep(OUTAGE_SECONDS / 2)
                ready_during = (await http.get("/ready")).status_code
                await asyncio.sleep(OUTAGE_SECONDS / 2)
                restarting = time.monotonic()  # Redis may answer before start() returns
                await asyncio.to_thread(redis_server.start)
                back = time.monotonic()
                while not [c for c in calls if c.started >= back and c.status == 200]:
                    assert time.monotonic() - back < 30, "never recovered"
                    await asyncio.sleep(0.05)
                recovery = min(c.finished for c in calls if c.started >= back and c.status == 200)
                await asyncio.sleep(STEADY_SECONDS)
            finally:
                stop.set()
                await asyncio.wait_for(asyncio.gather(*readers), timeout=30)
    finally:
        server.stop()

    before = [c for c in calls if c.finished < killing]
    during = [c for c in calls if c.started > down + 0.2 and c.finished < restarting]
    statuses = {c.status for c in calls}
    expected_during = {200} if fail_open else {503}
    survived = (
        all(c.status == 200 for c in before)
        and {c.status for c in during} == expected_during
        and recovery - back <= RECOVERY_BOUND_SECONDS
    )
    SUMMARY.record_fault(
        f"redis-server SIGKILL under load ({'fail-open' if fail_open else 'fail-closed'})",
        survived=survived,
    )
    assert not [c for c in calls if c.error], f"client errors: {[c.error for c in calls][:5]}"
    assert statuses <= {200, 503}, statuses
    assert all(c.status == 200 for c in before)
    assert during, "no request fell inside the outage"
    assert {c.status for c in during} == expected_during, _counts(during)
    if not fail_open:
        assert all(c.retry_after for c in during if c.status == 503)
    assert ready_during == 503, "/ready must report Redis down"
    assert recovery - back <= RECOVERY_BOUND_SECONDS, f"recovered after {recovery - back:.2f}s"
    slowest = max(c.finished - c.started for c in calls)
    assert slowest < SLOWEST_BOUND_SECONDS, f"slowest request took {slowest:.2f}s"


def _counts(calls: list[Call]) -> dict[str | None, int]:
    counts: dict[str | None, int] = {}
    for call in calls:
        key = str(call.status) if call.status else call.error
        counts[key] = counts.get(key, 0) + 1
    return counts


async def test_login_bruteforce_with_rotating_forwarded_for_from_untrusted_peer_is_limited(
    pg_cluster: ThrowawayPostgres, cluster_database, tmp_path
):
    # 127.0.0.1 (the test) is not the trusted proxy: its X-Forwarded-For must be ignored.
    server = limited_server(
        cluster_database(),
        tmp_path / "uvicorn.log",
        FORWARDED_ALLOW_IPS="192.0.2.1",
        RATE_LIMIT_AUTH_TOKEN="5/minute",
    )
    try:
        server.start()
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
            email = f"victim-{uuid.uuid4().hex[:8]}@example.com"
            created = await http.post("/users", json={"email": email, "password": PASSWORD})
            assert created.status_code == 201
            statuses = []
            for attempt in range(12):
                response = await http.post(
                    "/auth/token",
                    data={"username": email, "password": f"guess-{attempt}"},
                    headers={"X-Forwarded-For": f"198.51.100.{attempt + 1}, 10.0.0.{attempt}"},
                )
                statuses.append(response.status_code)
                SUMMARY.abuse_cases += 1
            # Spraying other usernames from the same peer does not buy a fresh budget either.
            other = await http.post(
                "/auth/token",
                data={"username": "someone-else@example.com", "password": "guess"},
                headers={"X-Forwarded-For": "203.0.113.77"},
            )
            SUMMARY.abuse_cases += 1
    finally:
        server.stop()
    assert statuses == [401] * 5 + [429] * 7, statuses
    assert other.status_code == 429
    assert other.headers.get("retry-after")
