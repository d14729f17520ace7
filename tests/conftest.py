"""Shared fixtures: real databases (SQLite file + a fresh PostgreSQL database per session), the
real app over httpx's ASGI transport, and factories for users and items.

PostgreSQL is never skipped: if it does not answer, the tests that need it error loudly.

Only fixtures live here; the helpers they use, which test modules import too, are in
tests/support/ (settings, users, databases, loops).
"""

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from service.main import close_app, create_app
from service.migrate import migrate
from tests.support.databases import (
    create_postgres_database,
    drop_postgres_database,
    truncate_all,
)
from tests.support.loops import run_in_fresh_loop
from tests.support.settings import make_settings
from tests.support.users import UserFactory, UserHandle, register_and_login

BACKENDS = ["sqlite", "postgres"]


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    url = run_in_fresh_loop(create_postgres_database)
    yield url
    run_in_fresh_loop(lambda: drop_postgres_database(url))


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path: Path = tmp_path_factory.mktemp("sqlite") / "test.db"
    return f"sqlite+aiosqlite:///{path}"


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


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http
    await truncate_all(app)


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
