"""One SQL statement on a short-lived engine of its own, for tests that inspect or administer a
database beside the app (creating databases, counting rows, terminating backends): the app's pool
is never borrowed, and the engine is always disposed."""

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import create_async_engine


async def run_sql(
    url: str,
    statement: str,
    params: Mapping[str, Any] | None = None,
    *,
    autocommit: bool = False,
) -> Sequence[Row[Any]]:
    """The statement's rows (empty when it returns none). `autocommit` for what cannot run inside
    a transaction (CREATE/DROP DATABASE) or must take effect at once."""
    options: dict[str, Any] = {"isolation_level": "AUTOCOMMIT"} if autocommit else {}
    engine = create_async_engine(url, **options)
    try:
        async with engine.connect() as connection:
            result = await connection.execute(text(statement), dict(params or {}))
            return result.all() if result.returns_rows else []
    finally:
        await engine.dispose()
