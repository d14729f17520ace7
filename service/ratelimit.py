"""Per-route, per-client rate limits, shared by every process and task through Redis.

Routes declare what guards them::

    @router.post("", dependencies=[Depends(limit("items:create"))])

`limit(name)` keys the limit on (name, route template, client IP); the amount comes from the
setting `RATE_LIMIT_<NAME>` (`items:create` -> `RATE_LIMIT_ITEMS_CREATE`), so an unknown name fails
at import.
Other dependencies call `enforce(request, limiter, name, identity)` with an identity of their own
(the login's per-username and per-device budgets: service/users/login_guard.py).

Strategy: moving window. A fixed window lets a client spend the limit at the end of one window and
again at the start of the next (2x in a moment); the sliding-window counter only approximates the
previous window's share. The moving window keeps one timestamp per admitted hit (at most `limit` per
key: tiny for our limits) and admits a hit only if fewer than `limit` hits happened in the last
window length, so no interval of that length ever holds more than `limit`.

Storage: `limits.aio`. Without REDIS_URL, `MemoryStorage` + `MovingWindowRateLimiter` (per process:
with N workers a client gets N times the budget, fine for `make dev`). With REDIS_URL, one EVALSHA
per check: `limits`' `hit()` answers only a bool, and the headers on every response would need a
second round trip (`get_window_stats`), so `_ACQUIRE_AND_REPORT` is limits' moving-window script
extended to return the window state too. It keeps limits' key and data layout (a list of
timestamps, newest first, under `<prefix>:<RateLimitItem.key_for(...)>`), so limits' own
`RedisStorage` tools can read or clear our keys, and it takes the time from Redis, so clock skew
between tasks cannot widen the window.

Failure: each check has a deadline of RATE_LIMIT_REDIS_TIMEOUT (100 ms) and no retries. Past it, or
on any Redis error, the request is let through (RATE_LIMIT_FAIL_OPEN=true, the default) or answered
503. After a few failures in a row Redis is left alone for RATE_LIMIT_REDIS_BACKOFF seconds (no
request pays the deadline meanwhile); the outage is logged at most once per
RATE_LIMIT_FAILURE_LOG_INTERVAL per process.

The deadline must not fire because this process is busy: a burst (or a CPU-bound handler such as
password hashing) that stalls the event loop would otherwise time the checks out, fail open, and
let the burst defeat the limiter. So the deadline is counted in slices of `_SLICE_SECONDS` of loop
time, each at least one loop iteration however late the loop wakes up: an idle loop with a dead
Redis gives up after 100 ms; a stalled loop gives Redis as many iterations as an idle one would.
"""

import asyncio
import hashlib
import ipaddress
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol, TypeVar

from fastapi import HTTPException, Request, status
from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter
from redis.asyncio import ConnectionPool
from redis.asyncio.connection import Connection
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import NoScriptError, RedisError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service import metrics
from service.config import Settings
from service.dependencies import RateLimiterDep

logger = logging.getLogger(__name__)

# Where the decision for the current request waits for RateLimitHeadersMiddleware (request.state).
STATE_KEY = "rate_limit"
_HEADER_NAMES = {b"ratelimit-limit", b"ratelimit-remaining", b"ratelimit-reset"}
# What a failing Redis raises: redis-py's errors, socket errors, and our own deadline.
STORAGE_ERRORS = (RedisError, OSError, TimeoutError)
# The per-check deadline is counted in slices of this much loop time (see the module docstring).
_SLICE_SECONDS = 0.01
# A reply read in the same loop iteration as the last slice ends needs a turn or two to be parsed.
_GRACE_TURNS = 3
# How long a check may wait for one of RATE_LIMIT_REDIS_MAX_CONNECTIONS before it is shed
# (LimiterOverloaded). Only the Redis round trip counts against RATE_LIMIT_REDIS_TIMEOUT.
_CONNECTION_WAIT_SECONDS = 1.0
# Failures in a row that make the limiter leave Redis alone for RATE_LIMIT_REDIS_BACKOFF.
_BREAKER_THRESHOLD = 3
# Opening a connection is bounded by this too; reads and writes have no socket timeout of their
# own (redis-py would wrap every send in a task to enforce it): the per-check deadline and the
# readiness probe's own timeout bound them.
_SOCKET_BACKSTOP_SECONDS = 5.0

# KEYS[1]: the window, a list of hit timestamps, newest first (limits' moving-window layout).
# ARGV[1]: the limit, ARGV[2]: the window length in seconds.
# Returns {admitted 0/1, hits in the window (this one included), seconds until the oldest expires}.
_ACQUIRE_AND_REPORT = """
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


class RateLimiterUnavailable(Exception):
    """The shared storage did not answer and RATE_LIMIT_FAIL_OPEN is false."""


class LimiterOverloaded(Exception):
    """This process had no free Redis connection in time: it is over capacity, Redis is not at
    fault. The request is shed (503), whatever RATE_LIMIT_FAIL_OPEN says, and the breaker is left
    alone: a flood must not switch limiting off for everyone."""


Deadline = Callable[[Awaitable[Any]], Awaitable[Any]]


class _Window(Protocol):
    async def hit(self, item: RateLimitItem, *identifiers: str, deadline: Deadline) -> Decision: ...
    async def ping(self) -> None: ...
    async def aclose(self) -> None: ...


class _MemoryWindow:
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


class _RedisWindow:
    """Shared by every process and task: one EVALSHA per check (see the module docstring).

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
        self._sha = hashlib.sha1(_ACQUIRE_AND_REPORT.encode(), usedforsecurity=False).hexdigest()

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
            return await _command(connection, "EVAL", _ACQUIRE_AND_REPORT, 1, *args)

    async def _borrow(self) -> Connection:
        if not self._idle.empty():
            return self._idle.get_nowait()
        try:
            async with asyncio.timeout(_CONNECTION_WAIT_SECONDS):
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


def setting_name(name: str) -> str:
    """`items:create` -> `rate_limit_items_create` (environment RATE_LIMIT_ITEMS_CREATE)."""
    return "rate_limit_" + name.replace(":", "_").replace("-", "_")


def _check_name(name: str) -> None:
    if setting_name(name) not in Settings.model_fields:
        raise ValueError(
            f"Unknown rate limit {name!r}: add `{setting_name(name)}: RateLimitSpec` to "
            "service/config.py and document RATE_LIMIT_* in docs/configuration.md."
        )


class _ThrottledWarning:
    """One warning per interval, carrying how many occurrences it stands for."""

    def __init__(self, message: str, count_field: str, interval: float) -> None:
        self._message, self._count_field, self._interval = message, count_field, interval
        self._since_last = 0
        self._last = -math.inf

    def note(self, **fields: object) -> None:
        self._since_last += 1
        now = time.monotonic()
        if now - self._last >= self._interval:
            fields[self._count_field] = self._since_last
            logger.warning(self._message, extra={"fields": fields})
            self._last = now
            self._since_last = 0


class RateLimiter:
    """Owns the storage; `check()` is what the dependencies call."""

    def __init__(self, settings: Settings) -> None:
        self.enabled = settings.rate_limit_enabled
        self.fail_open = settings.rate_limit_fail_open
        self._settings = settings
        self._timeout = settings.rate_limit_redis_timeout
        self._backoff = settings.rate_limit_redis_backoff
        self._log_interval = settings.rate_limit_failure_log_interval
        self._items: dict[str, RateLimitItem] = {}
        self._skip_storage_until = 0.0
        self._consecutive_failures = 0
        self._failing = False
        self._outage_warning = _ThrottledWarning(
            "rate limiter storage unavailable", "failed_checks", self._log_interval
        )
        self._overload_warning = _ThrottledWarning(
            "rate limiter: no Redis connection free in time, shedding requests (503)",
            "shed_checks",
            self._log_interval,
        )
        self._window: _Window
        if self.enabled and settings.redis_url and settings.redis_url.get_secret_value():
            self._window = _RedisWindow(
                settings.redis_url.get_secret_value(),
                key_prefix=settings.rate_limit_key_prefix,
                backstop=max(_SOCKET_BACKSTOP_SECONDS, self._timeout),
                max_connections=settings.rate_limit_redis_max_connections,
            )
        else:
            self._window = _MemoryWindow()
            if self.enabled and settings.environment != "local":
                logger.warning(
                    "REDIS_URL is empty: rate limits are per process, not shared between "
                    "workers and tasks"
                )

    @property
    def uses_redis(self) -> bool:
        return isinstance(self._window, _RedisWindow)

    def item(self, name: str) -> RateLimitItem:
        if name not in self._items:
            _check_name(name)
            self._items[name] = parse(getattr(self._settings, setting_name(name)))
        return self._items[name]

    async def check(self, name: str, *identifiers: str) -> Decision | None:
        """Count one hit. None when nothing was decided: limiter disabled, or storage down and
        failing open. Raises RateLimiterUnavailable when storage is down and failing closed."""
        if not self.enabled:
            return None
        item = self.item(name)
        if time.monotonic() < self._skip_storage_until:
            return self._unavailable(None)
        try:
            decision = await self._window.hit(
                item, name, *identifiers, deadline=self._within_deadline
            )
        except LimiterOverloaded:
            self._overload_warning.note()
            raise
        except STORAGE_ERRORS as exc:
            self._consecutive_failures += 1
            if self._consecutive_failures >= _BREAKER_THRESHOLD:
                self._skip_storage_until = time.monotonic() + self._backoff
            return self._unavailable(exc)
        self._consecutive_failures = 0
        if self._failing:
            self._failing = False
            logger.info("rate limiter storage reachable again")
        return decision

    async def _within_deadline(self, call: Awaitable[Any]) -> Any:
        """`await call`, given up on (TimeoutError) after RATE_LIMIT_REDIS_TIMEOUT counted in
        slices of loop time, then _GRACE_TURNS more loop turns. A timer per slice decides whether
        to extend; when none is left it expires an `asyncio.timeout`, which cancels the call
        where it waits (redis-py then drops that connection). No extra task: the check runs in
        the request's own."""
        loop = asyncio.get_running_loop()
        slices = max(1, math.ceil(self._timeout / _SLICE_SECONDS))
        slice_seconds = self._timeout / slices
        timer: asyncio.TimerHandle | asyncio.Handle | None = None
        async with asyncio.timeout(None) as deadline:

            def tick(slices_left: int, turns_left: int) -> None:
                nonlocal timer
                # A late tick means the loop was busy, not that Redis was slow: it still
                # counts as one slice.
                if slices_left > 1:
                    timer = loop.call_later(slice_seconds, tick, slices_left - 1, turns_left)
                elif turns_left > 0:
                    timer = loop.call_soon(tick, 1, turns_left - 1)
                else:
                    deadline.reschedule(loop.time())

            timer = loop.call_later(slice_seconds, tick, slices, _GRACE_TURNS)
            try:
                return await call
            finally:
                timer.cancel()
        raise AssertionError("unreachable")  # asyncio.timeout raises TimeoutError on expiry

    def _unavailable(self, exc: BaseException | None) -> None:
        self._failing = True
        metrics.limiter_failed()
        self._outage_warning.note(
            error=type(exc).__name__ if exc else "backing off",
            policy="fail open" if self.fail_open else "fail closed (503)",
        )
        if self.fail_open:
            return None
        raise RateLimiterUnavailable

    async def ping(self) -> None:
        """Readiness check (registered only with Redis); raises when Redis does not answer."""
        await self._window.ping()

    async def aclose(self) -> None:
        await self._window.aclose()


def client_ip(request: Request) -> str:
    """The peer address after ProxyHeadersMiddleware (see create_app): X-Forwarded-For counts
    only when the peer is in FORWARDED_ALLOW_IPS, and then its rightmost untrusted entry."""
    return request.client.host if request.client else "unknown"


def client_key(address: str) -> str:
    """What one client's budget is keyed on: an IPv4 address as it is, an IPv6 address by its /64
    (what one subscriber or host is given; per /128, rotating through it would be a fresh budget
    per request)."""
    if ":" not in address:
        return address
    try:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    except ValueError:
        return address


async def enforce(request: Request, limiter: "RateLimiter", name: str, identity: str) -> None:
    """Count one hit against limit `name` for this route and `identity`; 429 when over."""
    if not limiter.enabled:
        return
    route = request.scope.get("route")
    route_path = route.path if route is not None else request.scope["path"]
    try:
        decision = await limiter.check(name, route_path, identity)
    except RateLimiterUnavailable:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            detail="Rate limiter unavailable",
            headers={"Retry-After": "1"},
        ) from None
    except LimiterOverloaded:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            detail="Server busy, retry shortly",
            headers={"Retry-After": "1"},
        ) from None
    if decision is None:
        return
    state = request.scope.setdefault("state", {})
    previous: Decision | None = state.get(STATE_KEY)
    if previous is None or decision.tighter_than(previous):
        state[STATE_KEY] = decision
    if not decision.admitted:
        metrics.rate_limit_refused(name)
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            detail=f"Rate limit exceeded: {decision.item}",
            headers={"Retry-After": str(decision.reset_seconds)},
        )


# The dependencies that enforce a limit: the OpenAPI schema documents 429 (and the limiter's 503)
# on every route that depends on one (service/errors_http.py).
_LIMIT_DEPENDENCIES: set[Callable[..., Any]] = set()
LimitDependency = TypeVar("LimitDependency", bound=Callable[..., Any])


def rate_limited(dependency: LimitDependency) -> LimitDependency:
    """Mark a dependency that calls enforce()."""
    _LIMIT_DEPENDENCIES.add(dependency)
    return dependency


def is_rate_limited(call: Callable[..., Any]) -> bool:
    return call in _LIMIT_DEPENDENCIES


@cache
def limit(name: str) -> Callable[..., Awaitable[None]]:
    """Dependency: limit `name` per route and client IP."""
    _check_name(name)

    @rate_limited
    async def rate_limit_per_ip(request: Request, limiter: RateLimiterDep) -> None:
        await enforce(request, limiter, name, client_key(client_ip(request)))

    return rate_limit_per_ip


class RateLimitHeadersMiddleware:
    """Adds RateLimit-Limit/-Remaining/-Reset to every response of a limited route (successes,
    429s and errors raised after the check alike). Pure ASGI, like RequestContextMiddleware."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})

        async def send_with_headers(message: Message) -> None:
            decision: Decision | None = state.get(STATE_KEY)
            if message["type"] == "http.response.start" and decision is not None:
                headers = [
                    (key, value)
                    for key, value in message.get("headers", [])
                    if key.lower() not in _HEADER_NAMES
                ]
                headers.extend(
                    (key.lower().encode("latin-1"), value.encode("latin-1"))
                    for key, value in decision.headers().items()
                )
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
