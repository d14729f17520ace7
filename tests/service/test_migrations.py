"""Migrations from empty reach the models exactly, on SQLite and PostgreSQL."""

import asyncio

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from service.db import create_engine
from service.migrate import migrate
from service.models import metadata
from tests.support.databases import create_postgres_database, drop_postgres_database
from tests.support.settings import make_settings


def _diff(connection):
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return compare_metadata(context, metadata)


@pytest.fixture(params=["sqlite", "postgres"])
async def empty_database(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
        return
    url = await create_postgres_database()
    yield url
    await drop_postgres_database(url)


async def test_models_and_migrations_agree(empty_database):
    settings = make_settings(empty_database)
    await migrate(settings)
    engine = create_engine(settings)
    try:
        async with engine.connect() as connection:
            diff = await connection.run_sync(_diff)
    finally:
        await engine.dispose()
    assert diff == [], f"models and migrations differ: {diff}"


async def test_migrating_twice_is_a_no_op(empty_database):
    settings = make_settings(empty_database)
    await migrate(settings)
    await migrate(settings)
    engine = create_engine(settings)
    try:
        async with engine.connect() as connection:
            tables = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
    finally:
        await engine.dispose()
    assert {"users", "items", "alembic_version"} <= set(tables)


async def test_concurrent_migrations_on_postgres_run_once():
    url = await create_postgres_database()
    try:
        settings = make_settings(url)
        await asyncio.gather(*(migrate(settings) for _ in range(3)))
        engine = create_engine(settings)
        try:
            async with engine.connect() as connection:
                tables = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
        finally:
            await engine.dispose()
        assert "items" in tables
    finally:
        await drop_postgres_database(url)


def test_alembic_cli_upgrades_from_repository_root(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"}
    result = subprocess.run(
        [str(Path(sys.executable).parent / "alembic"), "upgrade", "head"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Running upgrade  -> 0001" in result.stderr
