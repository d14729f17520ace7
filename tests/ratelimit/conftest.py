"""Fixtures for the rate-limit tests: the real app with the limiter enabled on the shared Redis
(127.0.0.1:6379) under a key prefix unique to each test, whose keys are deleted afterwards, and a
throwaway redis-server for the outage tests.
"""

import uuid
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
from fastapi import FastAPI
from redis.asyncio import Redis

from service.main import close_app, create_app
from service.migrate import migrate
from tests.ratelimit.helpers import SHARED_REDIS_URL
from tests.support.loops import run_in_fresh_loop
from tests.support.settings import make_settings
from tests.support.throwaway_redis import ThrowawayRedis

AppFactory = Callable[..., FastAPI]


@pytest.fixture(scope="session")
def ratelimit_db_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated SQLite file of our own (the shared fixtures truncate theirs between tests)."""
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('ratelimit') / 'ratelimit.db'}"
    run_in_fresh_loop(lambda: migrate(make_settings(url)))
    return url


@pytest.fixture
async def key_prefix() -> AsyncIterator[str]:
    """A Redis key prefix unique to this test; every key under it is deleted afterwards."""
    prefix = f"test-ratelimit-{uuid.uuid4().hex[:12]}"
    yield prefix
    redis = Redis.from_url(SHARED_REDIS_URL)
    try:
        keys = [key async for key in redis.scan_iter(match=f"{prefix}:*", count=1000)]
        if keys:
            await redis.delete(*keys)
    finally:
        await redis.aclose()


@pytest.fixture
async def make_app(ratelimit_db_url: str, key_prefix: str) -> AsyncIterator[AppFactory]:
    """create_app with the limiter on, Redis at 127.0.0.1:6379 unless overridden."""
    apps: list[FastAPI] = []

    def make(**overrides: object) -> FastAPI:
        values: dict[str, object] = {
            "RATE_LIMIT_ENABLED": True,
            "REDIS_URL": SHARED_REDIS_URL,
            "RATE_LIMIT_KEY_PREFIX": key_prefix,
        }
        values.update(overrides)
        application = create_app(make_settings(ratelimit_db_url, **values))
        apps.append(application)
        return application

    yield make
    for application in apps:
        await close_app(application)


@pytest.fixture
def throwaway_redis() -> Iterator[ThrowawayRedis]:
    """A redis-server of our own on a free port, for the tests that stop it."""
    server = ThrowawayRedis()
    try:
        server.start()
        yield server
    finally:
        server.kill()
