"""Redis failing: fail open (default) or closed, bounded waits, one log line per interval, recovery;
and a busy event loop, which must not be mistaken for a failing Redis."""

import asyncio
import logging
import socket
import time
from collections.abc import Iterator

import pytest

from tests.ratelimit.conftest import AppFactory
from tests.ratelimit.helpers import (
    client_from,
    concurrently,
    new_item,
    seed_user,
    statuses,
)
from tests.support.throwaway_redis import ThrowawayRedis

pytestmark = pytest.mark.redis

RATELIMIT_LOGGER = "service.ratelimit"


@pytest.fixture
def ratelimit_warnings() -> Iterator[list[logging.LogRecord]]:
    """Warnings from service.ratelimit (create_app replaces the root handlers, so not caplog)."""
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.levelno >= logging.WARNING:
                records.append(record)

    handler = Collect()
    logger = logging.getLogger(RATELIMIT_LOGGER)
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


@pytest.fixture
def silent_redis() -> Iterator[str]:
    """A port that accepts TCP connections (the kernel's backlog) but never answers: a hung
    Redis, the case only a timeout can end."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"


async def test_redis_down_fails_open_and_logs_once(
    make_app: AppFactory,
    throwaway_redis: ThrowawayRedis,
    ratelimit_warnings: list[logging.LogRecord],
) -> None:
    app = make_app(
        REDIS_URL=throwaway_redis.url,
        RATE_LIMIT_ITEMS_CREATE="1/minute",
        RATE_LIMIT_REDIS_BACKOFF=0,  # every request really tries the dead Redis
    )
    user = await seed_user(app.state.sessionmaker)
    async with client_from(app) as client:
        before = [
            await client.post("/items", json=new_item(index), headers=user.headers)
            for index in range(2)
        ]
        throwaway_redis.kill()
        during = [
            await client.post("/items", json=new_item(index), headers=user.headers)
            for index in range(5)
        ]
    assert [response.status_code for response in before] == [201, 429]
    assert [response.status_code for response in during] == [201] * 5, "fail open"
    assert not any("ratelimit-limit" in response.headers for response in during)
    assert len(ratelimit_warnings) == 1, [record.getMessage() for record in ratelimit_warnings]
    assert ratelimit_warnings[0].fields["policy"] == "fail open"  # type: ignore[attr-defined]


async def test_redis_down_fails_closed_when_configured(
    make_app: AppFactory, throwaway_redis: ThrowawayRedis
) -> None:
    app = make_app(REDIS_URL=throwaway_redis.url, RATE_LIMIT_FAIL_OPEN=False)
    user = await seed_user(app.state.sessionmaker)
    throwaway_redis.kill()
    async with client_from(app) as client:
        responses = [
            await client.post("/items", json=new_item(index), headers=user.headers)
            for index in range(3)
        ]
        health = await client.get("/health")
    assert [response.status_code for response in responses] == [503] * 3
    assert responses[0].json() == {"detail": "Rate limiter unavailable"}
    assert responses[0].headers["Retry-After"] == "1"
    assert health.status_code == 200, "/health is never limited, whatever Redis does"


async def test_ready_reports_redis_down(
    make_app: AppFactory, throwaway_redis: ThrowawayRedis
) -> None:
    app = make_app(REDIS_URL=throwaway_redis.url)
    async with client_from(app) as client:
        up = await client.get("/ready")
        throwaway_redis.kill()
        down = await client.get("/ready")
    assert up.status_code == 200, up.text
    assert down.status_code == 503
    assert down.json()["checks"]["database"] == "ok"
    assert down.json()["checks"]["redis"].startswith("unavailable")


async def test_hung_redis_is_given_up_on_instead_of_stalling_requests(
    make_app: AppFactory, silent_redis: str
) -> None:
    app = make_app(REDIS_URL=silent_redis)
    user = await seed_user(app.state.sessionmaker)
    async with client_from(app) as client:
        # Not a speed assertion: without a timeout these requests would never complete.
        responses = await asyncio.wait_for(
            asyncio.gather(
                *(
                    client.post("/items", json=new_item(index), headers=user.headers)
                    for index in range(3)
                )
            ),
            timeout=20,
        )
    assert [response.status_code for response in responses] == [201] * 3


async def test_limiting_resumes_when_redis_comes_back(
    make_app: AppFactory, throwaway_redis: ThrowawayRedis
) -> None:
    app = make_app(
        REDIS_URL=throwaway_redis.url,
        RATE_LIMIT_ITEMS_CREATE="1/minute",
        RATE_LIMIT_REDIS_BACKOFF=0,
    )
    user = await seed_user(app.state.sessionmaker)
    async with client_from(app) as client:
        throwaway_redis.kill()
        outage = await client.post("/items", json=new_item(0), headers=user.headers)
        throwaway_redis.start()  # same port, empty
        back = [
            await client.post("/items", json=new_item(index), headers=user.headers)
            for index in range(2)
        ]
    assert outage.status_code == 201
    assert [response.status_code for response in back] == [201, 429]


async def test_a_stalled_event_loop_does_not_make_the_limiter_fail_open(
    make_app: AppFactory, ratelimit_warnings: list[logging.LogRecord]
) -> None:
    """A CPU-bound handler (password hashing, say) holding the loop while checks wait on Redis
    must not time them out: the burst would then fail open and get through."""
    app = make_app(RATE_LIMIT_ITEMS_CREATE="5/minute")
    user = await seed_user(app.state.sessionmaker)

    async def stall_the_loop() -> None:
        for _ in range(3):
            await asyncio.sleep(0)
            time.sleep(0.3)  # blocks the loop: the point of the test

    async with client_from(app) as client:
        (responses, _), _ = await asyncio.gather(
            concurrently(
                50, lambda i: client.post("/items", json=new_item(i), headers=user.headers)
            ),
            stall_the_loop(),
        )
    assert statuses(responses) == {201: 5, 429: 45}
    assert ratelimit_warnings == []
