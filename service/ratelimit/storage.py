"""Where the hits are counted: one process's memory, or Redis shared by every process and task.

The Redis window runs one script per check (`ACQUIRE_AND_REPORT`): `limits`' moving-window script,
extended to return the window's state too, so the response headers need no second round trip.
It keeps `limits`' key and data layout, and takes the time from Redis (docs/rate-limiting.md,
"Design").
"""

import asyncio
import hashlib
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from limits import RateLimitItem
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter
from redis.asyncio import ConnectionPool
from redis.asyncio.connection import Connection
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import NoScriptError, RedisError

# What a failing Redis raises: redis-py's errors, socket errors, and the limiter's deadline.
STORAGE_ERRORS = (RedisError, OSError, TimeoutError)
# How long a check may wait for one of RATE_LIMIT_REDIS_MAX_CONNECTIONS before it is shed
# (LimiterOverloaded). Only the Redis round trip counts against RATE_LIMIT_REDIS_TIMEOUT.
CONNECTION_WAIT_SECONDS = 1.0

# KEYS[1]: the window, a list of hit timestamps, newest first (limits' moving-window layout).
# ARGV[1]: the limit, ARGV[2]: the window length in seconds.
# Returns {admitted 0/1, hits in the window (this one included), seconds until the oldest expires}.
ACQUIRE_AND_REPORT = """
if redis.replicate_commands then redis.replicate_commands() end
local limit = tonumber(ARGV[1])
local expiry = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local entries = redis.call('LRANGE', KEYS[1], 0, limit - 1)
local count = 0
for index = 1, #entries do
    if tonumber(entries[index]) >= now - expiry then count = index else break end
end
if count >= limit then
    return {0, count, tostring(tonumber(entries[limit]) + expiry - now)}
end
redis.call('LPUSH', KEYS[1], string.format('%.6f', now))
redis.call('LTRIM', KEYS[1], 0, limit - 1)
redis.call('EXPIRE', KEYS[1], expiry)
local oldest = now
if count > 0 then oldest = tonumber(entries[count]) end
return {1, count + 1, tostring(oldest + expiry - now)}
"""


@dataclass(frozen=True, slots=True)
class Decision:
    admitted: bool
    item: RateLimitItem
    remaining: int
    reset_after: float  # seconds until the oldest hit in the window expires, i.e. a slot frees

    @property
    def reset_seconds(self) -> int:
        """Whole seconds, rounded up and at least 1: waiting that long is always enough."""
        return max(1, math.ceil(self.reset_after))

    def headers(self) -> dict[str, str]:
        return {
            "RateLimit-Limit": str(self.item.amount),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_seconds),
        }

    def tighter_than(self, other: "Decision") -> bool:
        """Which of several limits on one request the headers describe: a refusal, else the
        one with the fewest hits left."""
        if self.admitted != other.admitted:
            return not self.admitted
        return (self.remaining, -self.reset_after) < (other.remaining, -other.reset_after)


class LimiterOverloaded(Exception):
    """This process had no free Redis connection in time: it is over capacity, Redis is not at
    fault. The request is shed (503), whatever RATE_LIMIT_FAIL_OPEN says, and the breaker is left
    alone: a flood must not switch limiting off for everyone."""


Deadline = Callable[[Awaitable[Any]], Awaitable[Any]]


class Window(Protocol):
    async def hit(self, item: RateLimitItem, *identifiers: str, deadline: Deadline) -> Decision: ...
    async def ping(self) -> None: ...
    async def aclose(self) -> None: ...


class MemoryWindow:
    """One process's memory: no I/O, so asking for the window stats after the hit is free."""

    def __init__(self) -> None:
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    async def hit(self, item: RateLimitItem, *identifiers: str, deadline: Deadline) -> Decision:
        admitted = await self._limiter.hit(item, *identifiers)
        reset_at, remaining = await self._limiter.get_window_stats(item, *identifiers)
        return Decision(admitted, item, max(0, remaining), reset_at - time.time())

    async def ping(self) -> None:
        return None

    async def aclose(self) -> None:
        return None


class RedisWindow:
    """Shared by every process and task: one EVALSHA per check.

    The connections are redis-py's, but handed out from a plain LIFO queue rather than one of
    redis-py's pools: those run a lock or condition, observability hooks and a readability probe
    on every checkout, which measured about as much CPU as the script call itself
    (bench/README.md). A connection is only ever returned with nothing left to read: redis-py
    drops the socket on any error or cancellation during a command, and the next use reconnects.
    """

    def __init__(self, url: str, *, key_prefix: str, backstop: float, max_connections: int) -> None:
        self.key_prefix = key_prefix
        factory = ConnectionPool.from_url(
            url,
            socket_connect_timeout=backstop,
            socket_timeout=None,
            retry=Retry(NoBackoff(), 0),  # the deadline is per check: no retries inside it
        )
        self._idle: asyncio.LifoQueue[Connection] = asyncio.LifoQueue()
        for _ in range(max_connections):
            self._idle.put_nowait(factory.make_connection())
        self._sha = hashlib.sha1(ACQUIRE_AND_REPORT.encode(), usedforsecurity=False).hexdigest()

    def key(self, item: RateLimitItem, *identifiers: str) -> str:
        """Exactly the key limits' RedisStorage uses for the same item and identifiers."""
        return f"{self.key_prefix}:{item.key_for(*identifiers)}"

    async def hit(self, item: RateLimitItem, *identifiers: str, deadline: Deadline) -> Decision:
        """The deadline bounds the round trip only: waiting for a connection is bounded apart
        (LimiterOverloaded), so a saturated process is not mistaken for a failing Redis."""
        key, amount, expiry = self.key(item, *identifiers), item.amount, item.get_expiry()
        connection = await self._borrow()
        try:
            reply = await deadline(self._acquire(connection, key, amount, expiry))
        finally:
            self._idle.put_nowait(connection)
        admitted, count, reset_after = reply
        return Decision(bool(admitted), item, max(0, item.amount - int(count)), float(reset_after))

    async def _acquire(self, connection: Connection, *args: object) -> Any:
        try:
            return await _command(connection, "EVALSHA", self._sha, 1, *args)
        except NoScriptError:  # a restarted or flushed Redis forgot the script: send it whole
            return await _command(connection, "EVAL", ACQUIRE_AND_REPORT, 1, *args)

    async def _borrow(self) -> Connection:
        if not self._idle.empty():
            return self._idle.get_nowait()
        try:
            async with asyncio.timeout(CONNECTION_WAIT_SECONDS):
                return await self._idle.get()
        except TimeoutError:
            raise LimiterOverloaded from None

    async def ping(self) -> None:
        connection = await self._borrow()
        try:
            await _command(connection, "PING")
        finally:
            self._idle.put_nowait(connection)

    async def aclose(self) -> None:
        while not self._idle.empty():
            await self._idle.get_nowait().disconnect()


async def _command(connection: Connection, *args: object) -> Any:
    await connection.send_command(*args)
    return await connection.read_response()
