"""Database passwords that survive rotation of the RDS-managed master secret.

RDS rotates its managed master password (every 7 days by default). ECS injects the secret's value
once, at task start, so a long-running task would keep offering the old password and fail to open
new connections after a rotation. asyncpg accepts a callable password, called for every new
connection: we hand it a `RotatingPassword` that serves the cached value and re-reads the secret
from Secrets Manager after PostgreSQL rejects it (the engine's `do_connect` hook invalidates it, for
every connection the pool opens: the ORM's and service/db_reads.py's alike).
"""

import asyncio
import json
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine

PasswordFetcher = Callable[[], Awaitable[str]]
# SQLSTATE for invalid_password and invalid_authorization_specification.
AUTHENTICATION_FAILURES = {"28P01", "28000"}


class RotatingPassword:
    def __init__(
        self,
        fetch: PasswordFetcher,
        *,
        initial: str | None = None,
        min_refresh_interval: float = 5.0,
    ) -> None:
        self._fetch = fetch
        self._value = initial
        self._stale = initial is None
        self._min_refresh_interval = min_refresh_interval
        self._last_fetch = -math.inf
        self._lock: asyncio.Lock | None = None
        self.fetch_count = 0

    async def __call__(self) -> str:
        if self._needs_refresh():
            self._lock = self._lock or asyncio.Lock()
            async with self._lock:
                if self._needs_refresh():
                    self._value = await self._fetch()
                    self._stale = False
                    self._last_fetch = time.monotonic()
                    self.fetch_count += 1
        assert self._value is not None
        return self._value

    def _needs_refresh(self) -> bool:
        if self._value is None:
            return True
        # A wrong password would otherwise mean one Secrets Manager call per connection attempt.
        recently = time.monotonic() - self._last_fetch < self._min_refresh_interval
        return self._stale and not recently

    def invalidate(self) -> None:
        self._stale = True


def refresh_password_on_auth_failure(engine: AsyncEngine, password: RotatingPassword) -> None:
    def connect(dialect: Dialect, _record: Any, cargs: Any, cparams: Any) -> Any:
        try:
            return dialect.connect(*cargs, **cparams)
        except Exception as exc:
            if getattr(exc, "sqlstate", None) in AUTHENTICATION_FAILURES:
                password.invalidate()
            raise

    # do_connect wraps the opening of every pooled connection, whichever path checks it out.
    event.listen(engine.sync_engine, "do_connect", connect)


def secrets_manager_fetcher(secret_arn: str, *, json_key: str = "password") -> PasswordFetcher:
    """Read one key of a JSON secret (RDS-managed secrets hold `username` and `password`)."""
    import boto3  # imported lazily: only tasks on AWS need it

    client = boto3.client("secretsmanager")

    async def fetch() -> str:
        response = await asyncio.to_thread(client.get_secret_value, SecretId=secret_arn)
        return json.loads(response["SecretString"])[json_key]

    return fetch
