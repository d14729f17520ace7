"""`python -m service.migrate`: apply `alembic upgrade head` exactly once, however many run at once.

Deploys start several tasks together, each with a migration init container. On PostgreSQL the
upgrade runs while holding a session-level advisory lock, so the others wait, then find nothing
left to do. Exit code 0 on success, 1 on failure (ECS then stops the task and the deployment
circuit breaker rolls the service back: new code never serves a half-migrated schema).
"""

import asyncio
import logging
import sys
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Connection

from service.config import Settings
from service.db import create_engine
from service.observability import configure_logging

# Any fixed 64-bit number, unique to this application's migrations.
MIGRATION_LOCK_ID = 4_815_162_342
logger = logging.getLogger("service.migrate")


def alembic_config() -> Config:
    # Works from a checkout and from the installed wheel (the image has no alembic.ini).
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    return config


def _upgrade(connection: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


async def migrate(settings: Settings, revision: str = "head") -> None:
    engine = create_engine(settings)
    try:
        async with engine.connect() as connection:
            locking = connection.dialect.name == "postgresql"
            if locking:
                await connection.execute(
                    text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_ID}
                )
                await connection.commit()
            try:
                await connection.run_sync(_upgrade, revision)
                await connection.commit()
            finally:
                if locking:
                    await connection.execute(
                        text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_ID}
                    )
                    await connection.commit()
    finally:
        await engine.dispose()


def main() -> int:
    settings = Settings()
    configure_logging(level=settings.log_level, json_output=settings.log_json)
    try:
        asyncio.run(migrate(settings))
    except Exception:
        logger.exception("migration failed")
        return 1
    logger.info("database is at head")
    return 0


if __name__ == "__main__":
    sys.exit(main())
