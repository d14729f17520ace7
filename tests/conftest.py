"""Shared fixtures: real databases (SQLite file + a fresh PostgreSQL database per session), the
real app over httpx's ASGI transport, and factories for users and items.

PostgreSQL is never skipped: if it does not answer, the tests that need it error loudly.
"""

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from service.config import Settings
from service.main import close_app, create_app
from service.migrate import migrate
from service.models import metadata
from tests.support.sql import run_sql

POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
BACKENDS = ["sqlite", "postgres"]
T = TypeVar("T")


async def create_postgres_database(
    admin_url: str = POSTGRES_ADMIN_URL, name: str | None = None
) -> str:
    """Create an empty database (uniquely named unless `name` is given) on the server of
    `admin_url`; return its URL."""
    name = name or f"test_service_{uuid.uuid4().hex[:12]}"
    await run_sql(admin_url, f'CREATE DATABASE "{name}"', autocommit=True)
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


async def drop_postgres_database(url: str) -> None:
    name = make_url(url).database
    await run_sql(
        POSTGRES_ADMIN_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', autocommit=True
    )


def run_in_fresh_loop(coroutine_factory: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine on a fresh loop in a worker thread (works inside a running loop too)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine_factory()).result()  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    url = run_in_fresh_loop(create_postgres_database)
    yield url
    run_in_fresh_loop(lambda: drop_postgres_database(url))


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path: Path = tmp_path_factory.mktemp("sqlite") / "test.db"
    return f"sqlite+aiosqlite:///{path}"


def make_settings(database_url: str, **overrides: object) -> Settings:
    """Settings for tests: nothing is read from the developer's environment by accident."""
    values: dict[str, object] = {"DATABASE_URL": database_url, "REDIS_URL": None}
    # API tests fire many requests from one address; tests/ratelimit enables the limiter itself.
    values["RATE_LIMIT_ENABLED"] = False
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request: pytest.FixtureRequest) -> str:
    """A migrated database; every test using it runs once on SQLite and once on PostgreSQL."""
    url = request.getfixturevalue(f"{request.param}_url")
    run_in_fresh_loop(lambda: migrate(make_settings(url)))
    return url


@pytest.fixture(scope="session")
async def app(database_url: str):  # type: ignore[no-untyped-def]
    application = create_app(make_settings(database_url))
    yield application
    await close_app(application)


async def truncate_all(application) -> None:  # type: ignore[no-untyped-def]
    async with application.state.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            names = ", ".join(f'"{table.name}"' for table in metadata.sorted_tables)
            await connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(metadata.sorted_tables):
                await connection.execute(table.delete())


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http
    await truncate_all(app)


@dataclass
class UserHandle:
    id: int
    email: str
    password: str
    headers: dict[str, str]


UserFactory = Callable[..., Awaitable[UserHandle]]


async def register_and_login(
    http: httpx.AsyncClient, email: str, password: str = "correct horse battery"
) -> UserHandle:
    created = await http.post("/users", json={"email": email, "password": password})
    assert created.status_code == 201, created.text
    token = await http.post("/auth/token", data={"username": email, "password": password})
    assert token.status_code == 200, token.text
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    return UserHandle(created.json()["id"], email, password, headers)


@pytest.fixture
def user_factory(client: httpx.AsyncClient) -> UserFactory:
    async def make(email: str | None = None, password: str = "correct horse battery"):  # type: ignore[no-untyped-def]
        return await register_and_login(
            client, email or f"user-{uuid.uuid4().hex[:8]}@example.com", password
        )

    return make


@pytest.fixture
async def alice(user_factory: UserFactory) -> UserHandle:
    return await user_factory("alice@example.com")


@pytest.fixture
async def bob(user_factory: UserFactory) -> UserHandle:
    return await user_factory("bob@example.com")
