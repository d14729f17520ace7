"""Throwaway PostgreSQL databases on the shared server, and emptying an app's database between
tests. The server is the one of `TEST_POSTGRES_URL` (trust auth on 127.0.0.1:5432 by default)."""

import os
import uuid

from sqlalchemy import text
from sqlalchemy.engine import make_url

from service.models import metadata
from tests.support.sql import run_sql

POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)


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


async def truncate_all(application) -> None:  # type: ignore[no-untyped-def]
    """Empty every table of the app's database (its own engine), keeping the schema."""
    async with application.state.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            names = ", ".join(f'"{table.name}"' for table in metadata.sorted_tables)
            await connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(metadata.sorted_tables):
                await connection.execute(table.delete())
