"""The limiter: which limit applies, the per-check deadline, and what happens when Redis fails.

Each check gives Redis RATE_LIMIT_REDIS_TIMEOUT, counted in slices of loop time so that a busy
event loop is not mistaken for a slow Redis; after a few failures in a row Redis is left alone for
RATE_LIMIT_REDIS_BACKOFF; the failure policy lets the request through or answers 503
(docs/rate-limiting.md, "Redis unavailable" and "Design").
"""

import asyncio
import logging
import math
import time
from collections.abc import Awaitable
from typing import Any

from limits import RateLimitItem, parse

from service import metrics
from service.config import Settings
from service.ratelimit.storage import (
    STORAGE_ERRORS,
    Decision,
    LimiterOverloaded,
    MemoryWindow,
    RedisWindow,
    Window,
)

# One logger for the package, whatever module logs.
logger = logging.getLogger("service.ratelimit")

# The per-check deadline is counted in slices of this much loop time.
_SLICE_SECONDS = 0.01
# A reply read in the same loop iteration as the last slice ends needs a turn or two to be parsed.
_GRACE_TURNS = 3
# Failures in a row that make the limiter leave Redis alone for RATE_LIMIT_REDIS_BACKOFF.
_BREAKER_THRESHOLD = 3
# Opening a connection is bounded by this too; reads and writes have no socket timeout of their
# own (redis-py would wrap every send in a task to enforce it): the per-check deadline and the
# readiness probe's own timeout bound them.
_SOCKET_BACKSTOP_SECONDS = 5.0


class RateLimiterUnavailable(Exception):
    """The shared storage did not answer and RATE_LIMIT_FAIL_OPEN is false."""


def setting_name(name: str) -> str:
    """`items:create` -> `rate_limit_items_create` (environment RATE_LIMIT_ITEMS_CREATE)."""
    return "rate_limit_" + name.replace(":", "_").replace("-", "_")


def check_name(name: str) -> None:
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
        self._window: Window
        if self.enabled and settings.redis_url and settings.redis_url.get_secret_value():
            self._window = RedisWindow(
                settings.redis_url.get_secret_value(),
                key_prefix=settings.rate_limit_key_prefix,
                backstop=max(_SOCKET_BACKSTOP_SECONDS, self._timeout),
                max_connections=settings.rate_limit_redis_max_connections,
            )
        else:
            self._window = MemoryWindow()
            if self.enabled and settings.environment != "local":
                logger.warning(
                    "REDIS_URL is empty: rate limits are per process, not shared between "
                    "workers and tasks"
                )

    @property
    def uses_redis(self) -> bool:
        return isinstance(self._window, RedisWindow)

    def item(self, name: str) -> RateLimitItem:
        if name not in self._items:
            check_name(name)
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
