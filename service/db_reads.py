"""Read-only statements outside a transaction: the hot read path, one round trip per statement.

Under READ COMMITTED every statement sees its own snapshot, so a single SELECT needs no
BEGIN/ROLLBACK around it; and a statement written once in SQLAlchemy Core can be compiled once and
run by the driver's own prepared-statement cache. On PostgreSQL, `Reader` does exactly that: it
borrows an asyncpg connection from the engine's pool (same TLS, rotating password, recycling and
size as the ORM's), sends the statement, and returns the connection. Through the ORM the same read
cost seven round trips and several times the CPU (bench/README.md).

No ping before use (that was three round trips per request): a pooled connection that turns out to
be dead is invalidated, with every other connection opened before it, and the read is retried
once on a fresh one; only a database that is still unreachable answers 503 (`DatabaseUnavailable`).

Any other engine (SQLite for `make dev` and the tests) runs the same statements through
SQLAlchemy. Rows come back as plain dicts either way. The PostgreSQL path passes parameters and
results through unconverted, so it suits columns asyncpg decodes to what SQLAlchemy would return
(numbers, text, booleans, timestamps) — every column our read models use.
"""

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.engine import Compiled
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.sql import Select
from sqlalchemy.util import greenlet_spawn

# SQLSTATE classes that mean the server went away or is going (mirrors service/db.py).
from service.db import UNAVAILABLE_SQLSTATES

Row = dict[str, Any]


class DatabaseUnavailable(ConnectionError):
    """The database could not be reached, or dropped the connection twice in a row."""


class Reader:
    """`await reader.one(statement, **params)` / `await reader.all(statement, **params)`."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._driver_path = engine.dialect.driver == "asyncpg"
        # id(statement) -> (statement kept alive, SQL text, parameter names in order, defaults)
        self._compiled: dict[int, tuple[Select[Any], str, tuple[str, ...], Mapping[str, Any]]] = {}

    async def one(self, statement: Select[Any], **params: Any) -> Row | None:
        if not self._driver_path:
            async with self._engine.connect() as connection:
                row = (await connection.execute(statement, params)).mappings().first()
                return dict(row) if row is not None else None
        record = await self._run("fetchrow", statement, params)
        return dict(record) if record is not None else None

    async def all(self, statement: Select[Any], **params: Any) -> list[Row]:
        if not self._driver_path:
            async with self._engine.connect() as connection:
                result = await connection.execute(statement, params)
                return [dict(row) for row in result.mappings()]
        return [dict(record) for record in await self._run("fetch", statement, params)]

    async def _run(self, method: str, statement: Select[Any], params: Mapping[str, Any]) -> Any:
        sql, names, defaults = self._compile(statement)
        arguments = [params[name] if name in params else defaults[name] for name in names]
        for attempt in (1, 2):
            connection = await self._checkout()
            try:
                return await getattr(connection.driver_connection, method)(sql, *arguments)
            except TimeoutError:
                # command_timeout: the query may still run server-side; drop this connection
                # only, and do not retry (a second slow query would double the load).
                connection.invalidate()
                raise
            except Exception as exc:
                if not _lost_connection(exc, connection):
                    raise
                # What SQLAlchemy does on a disconnect: recycle every connection opened before
                # this one (they died with it), so the retry gets a new one.
                self._engine.sync_engine.pool._invalidate(connection, exc)
                if attempt == 2:
                    raise DatabaseUnavailable("the database dropped the connection") from exc
            finally:
                # Back to the pool; closing needs the greenlet bridge when the pool is full and
                # closes an overflow connection instead.
                await greenlet_spawn(connection.close)
        raise AssertionError("unreachable")

    async def _checkout(self) -> PoolProxiedConnection:
        try:
            return await greenlet_spawn(self._engine.sync_engine.raw_connection)
        except Exception as exc:
            # Any failure while opening a connection means the database is unavailable (as in
            # service/db.py); the engine's do_connect hook has already re-read a rotated password.
            raise DatabaseUnavailable(f"cannot connect: {type(exc).__name__}") from exc

    def _compile(self, statement: Select[Any]) -> tuple[str, tuple[str, ...], Mapping[str, Any]]:
        entry = self._compiled.get(id(statement))
        if entry is None:
            compiled: Compiled = statement.compile(dialect=self._engine.dialect)
            names = tuple(compiled.positiontup or ())
            entry = (statement, compiled.string, names, compiled.params)
            self._compiled[id(statement)] = entry
        return entry[1], entry[2], entry[3]


def _lost_connection(exc: BaseException, connection: PoolProxiedConnection) -> bool:
    """The rule SQLAlchemy's asyncpg dialect applies (the connection is closed), plus the SQLSTATEs
    service/db.py treats as an outage."""
    sqlstate = getattr(exc, "sqlstate", None) or ""
    if sqlstate.startswith(UNAVAILABLE_SQLSTATES) or isinstance(exc, OSError):
        return True
    driver = connection.driver_connection
    return driver is not None and driver.is_closed()


async def get_reader(request: Request) -> Reader:
    return request.app.state.reader


ReaderDep = Annotated[Reader, Depends(get_reader)]
