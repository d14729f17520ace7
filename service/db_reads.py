"""Read-only statements outside a transaction: the hot read path, one round trip per statement.

Under READ COMMITTED every statement sees its own snapshot, so a single SELECT needs no
BEGIN/ROLLBACK around it; and a statement written once in SQLAlchemy Core can be compiled once and
run by the driver's own prepared-statement cache. On PostgreSQL, `Reader` does exactly that with
asyncpg connections of its own (DB_READ_POOL_SIZE of them, besides the ORM's DB_POOL_SIZE). They
are opened by the engine's pool machinery (`Pool.recreate()`, then detached), so they get the
same URL, TLS context, rotating password, connect timeout and statement timeout as the ORM's.
Through the ORM the same read cost seven round trips and several times the CPU (bench/README.md).

Why not borrow from SQLAlchemy's pool per read: its checkout and return cost three to four times
the query's own CPU under concurrency (greenlet bridge, events, queue with timeout; 85 us against
20 us for the LIFO below, measured with 32 concurrent reads), and asyncpg's own pool 55 us. The
set below is a semaphore (how many reads at once, waiting at most DB_POOL_TIMEOUT) and a LIFO of
idle connections.

No ping before use. A connection that turns out dead is dropped, with every connection opened
before it (they died together), and the read retried once on a new one; only a database that is
still unreachable answers 503 (`DatabaseUnavailable`). Connections older than
DB_POOL_RECYCLE_SECONDS are closed when returned.

Any other engine (SQLite for `make dev` and the tests) runs the same statements through
SQLAlchemy. Rows come back as plain dicts either way. The PostgreSQL path passes parameters and
results through unconverted, so it suits columns asyncpg decodes to what SQLAlchemy would return
(numbers, text, booleans, timestamps): every column our read models use.
"""

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy.engine import Compiled
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql import Select
from sqlalchemy.util import greenlet_spawn

from service.config import Settings
from service.db import UNAVAILABLE_SQLSTATES

Row = dict[str, Any]


class DatabaseUnavailable(ConnectionError):
    """The database could not be reached, or dropped the connection twice in a row."""


@dataclass(frozen=True, slots=True)
class _Connection:
    driver: asyncpg.Connection
    opened_at: float  # time.monotonic()


class Reader:
    """`await reader.one(statement, **params)` / `await reader.all(statement, **params)`."""

    def __init__(
        self, engine: AsyncEngine, *, size: int, wait_seconds: float, recycle_seconds: float
    ) -> None:
        self._engine = engine
        self._driver_path = engine.dialect.driver == "asyncpg"
        self._factory = engine.sync_engine.pool.recreate() if self._driver_path else None
        self._slots = asyncio.Semaphore(size)
        self._idle: list[_Connection] = []  # LIFO: the warmest connection first
        self._open: set[_Connection] = set()
        self._wait_seconds = wait_seconds
        self._recycle_seconds = recycle_seconds
        self._dead_before = -1.0  # connections opened before this moment are dropped, not used
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
        try:
            async with asyncio.timeout(self._wait_seconds):
                await self._slots.acquire()
        except TimeoutError:
            raise DatabaseUnavailable("no read connection free in time") from None
        try:
            for attempt in (1, 2):
                connection = await self._borrow()
                try:
                    result = await getattr(connection.driver, method)(sql, *arguments)
                except TimeoutError:
                    # The statement timeout: the query may still run server-side. Drop this
                    # connection only, and do not retry (a second slow query doubles the load).
                    self._drop(connection)
                    raise
                except Exception as exc:
                    if not _lost_connection(exc, connection.driver):
                        self._give_back(connection)
                        raise
                    self._drop(connection, with_older=True)
                    if attempt == 2:
                        raise DatabaseUnavailable("the database dropped the connection") from exc
                except BaseException:  # cancelled mid-statement: the connection's state is unknown
                    self._drop(connection)
                    raise
                else:
                    self._give_back(connection)
                    return result
            raise AssertionError("unreachable")
        finally:
            self._slots.release()

    async def _borrow(self) -> _Connection:
        while self._idle:
            connection = self._idle.pop()
            if connection.opened_at > self._dead_before:
                return connection
            self._drop(connection)
        assert self._factory is not None
        try:
            fairy = await greenlet_spawn(self._factory.connect)
        except Exception as exc:
            # Any failure while opening a connection means the database is unavailable (as in
            # service/db.py); the engine's do_connect hook has already re-read a rotated password.
            raise DatabaseUnavailable(f"cannot connect: {type(exc).__name__}") from exc
        connection = _Connection(fairy.driver_connection, time.monotonic())
        fairy.detach()  # ours from now on: the factory pool keeps nothing
        self._open.add(connection)
        return connection

    def _give_back(self, connection: _Connection) -> None:
        if time.monotonic() - connection.opened_at > self._recycle_seconds:
            self._drop(connection)
        else:
            self._idle.append(connection)

    def _drop(self, connection: _Connection, *, with_older: bool = False) -> None:
        if with_older and connection.opened_at > self._dead_before:
            # The first loss of this generation: everything opened until now died with it
            # (SQLAlchemy's pool invalidation, the same rule).
            self._dead_before = time.monotonic()
        self._open.discard(connection)
        connection.driver.terminate()  # no round trip: the socket is closed at once

    async def aclose(self) -> None:
        self._idle.clear()
        for connection in list(self._open):
            self._drop(connection)
        if self._factory is not None:
            self._factory.dispose()

    def _compile(self, statement: Select[Any]) -> tuple[str, tuple[str, ...], Mapping[str, Any]]:
        entry = self._compiled.get(id(statement))
        if entry is None:
            compiled: Compiled = statement.compile(dialect=self._engine.dialect)
            names = tuple(compiled.positiontup or ())
            entry = (statement, compiled.string, names, compiled.params)
            self._compiled[id(statement)] = entry
        return entry[1], entry[2], entry[3]


def _lost_connection(exc: BaseException, driver: asyncpg.Connection) -> bool:
    """The rule SQLAlchemy's asyncpg dialect applies (the connection is closed), plus the SQLSTATEs
    service/db.py treats as an outage."""
    sqlstate = getattr(exc, "sqlstate", None) or ""
    if sqlstate.startswith(UNAVAILABLE_SQLSTATES) or isinstance(exc, OSError):
        return True
    return driver.is_closed()


def create_reader(engine: AsyncEngine, settings: Settings) -> Reader:
    return Reader(
        engine,
        size=settings.db_read_pool_size,
        wait_seconds=settings.db_pool_timeout,
        recycle_seconds=settings.db_pool_recycle_seconds,
    )
