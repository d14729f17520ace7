"""Worker fixtures: a dedicated, migrated PostgreSQL database for this package, helpers to seed it
through the service functions, and a launcher for `python -m service.worker` subprocesses."""

import asyncio
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from service.automations import service as automations
from service.automations.models import Automation
from service.automations.schemas import AutomationCreate
from service.automations.webhook import WebhookPolicy
from service.config import Settings
from service.db import create_engine, create_sessionmaker
from service.migrate import migrate
from service.models import metadata
from service.users import service as users
from service.users.models import User
from tests.support.databases import create_postgres_database, drop_postgres_database
from tests.support.loops import run_in_fresh_loop
from tests.support.settings import make_settings
from tests.support.uvicorn_server import inherited_environment

REPO_ROOT = Path(__file__).resolve().parents[2]
PROCESS_TIMEOUT_SECONDS = 60.0
TEST_ENV = {
    "ENVIRONMENT": "local",
    "WEBHOOK_ALLOW_LOOPBACK": "true",
    "WEBHOOK_BACKOFF_SECONDS": "0.01",
    "WEBHOOK_TIMEOUT_SECONDS": "30",
    "LOG_LEVEL": "WARNING",
}


@pytest.fixture(scope="session")
def worker_postgres_url() -> Iterator[str]:
    url = run_in_fresh_loop(create_postgres_database)
    run_in_fresh_loop(lambda: migrate(make_settings(url)))
    yield url
    run_in_fresh_loop(lambda: drop_postgres_database(url))


@dataclass
class Database:
    url: str
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]

    async def user(self, email: str = "owner@example.com") -> User:
        async with self.sessionmaker() as session:
            return await users.create_user(session, email=email, password="correct horse battery")

    async def automations(self, owner: User, count: int, trigger: dict, action: dict) -> list[int]:
        ids = []
        async with self.sessionmaker() as session:
            for number in range(count):
                data = AutomationCreate.model_validate(
                    {"name": f"automation {number}", "trigger": trigger, "action": action}
                )
                created = await automations.create_automation(
                    session,
                    owner=owner,
                    data=data,
                    policy=WebhookPolicy.from_settings(self.settings),
                    max_per_user=self.settings.automations_max_per_user,
                )
                ids.append(created.id)
        return ids

    async def make_due(self) -> None:
        async with self.engine.begin() as connection:
            await connection.execute(
                update(Automation)
                .where(Automation.trigger_type == "schedule")
                .values(next_run_at=datetime.now(UTC) - timedelta(seconds=1))
            )

    async def scalar(self, sql: str) -> object:
        async with self.engine.connect() as connection:
            return (await connection.execute(text(sql))).scalar_one()


@pytest.fixture
async def postgres(worker_postgres_url: str) -> AsyncIterator[Database]:
    settings = make_settings(
        worker_postgres_url,
        webhook_allow_loopback=True,
        webhook_backoff_seconds=0.01,
        automations_max_per_user=100,
    )
    engine = create_engine(settings)
    yield Database(worker_postgres_url, settings, engine, create_sessionmaker(engine))
    async with engine.begin() as connection:
        names = ", ".join(f'"{table.name}"' for table in metadata.sorted_tables)
        await connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    await engine.dispose()


async def spawn_worker(
    database_url: str, *args: str, env: dict[str, str] | None = None
) -> asyncio.subprocess.Process:
    base = inherited_environment()
    base.update(TEST_ENV, DATABASE_URL=database_url, **(env or {}))
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "service.worker",
        "run-due",
        *args,
        cwd=REPO_ROOT,
        env=base,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def finish(process: asyncio.subprocess.Process) -> tuple[int, str]:
    """Wait (bounded) for the process; return its exit code and stdout+stderr."""
    stdout, stderr = await asyncio.wait_for(process.communicate(), PROCESS_TIMEOUT_SECONDS)
    assert process.returncode is not None
    return process.returncode, (stdout + stderr).decode()
