"""What a run stands on: a scratch directory, a fresh database (migrated, dropped afterwards), a
Redis key prefix of its own (its keys deleted afterwards), and a user with items, seeded through
the API. PostgreSQL and Redis are the shared ones on 127.0.0.1 (BENCH_POSTGRES_URL and
BENCH_REDIS_URL say otherwise).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from sqlalchemy.engine import make_url

from bench import BenchError
from bench.servers import service_env
from tests.support.uvicorn_server import REPO, inherited_environment

if TYPE_CHECKING:
    import redis

    from bench.servers import Server

POSTGRES_ADMIN_URL = os.environ.get(
    "BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
SEED_ITEMS = 60


@dataclass(frozen=True)
class RunContext:
    """What the processes of one run share; handed to whatever needs it."""

    workdir: Path  # logs, wrk scripts
    database: str  # created on the server of postgres_admin_url for this run
    key_prefix: str  # of the limiter's Redis keys
    jwt_secret: str  # the service processes' (a random one per run)
    postgres_admin_url: str = POSTGRES_ADMIN_URL
    redis_url: str = REDIS_URL

    @property
    def database_url(self) -> str:
        """The service's URL of the run's database."""
        url = make_url(self.postgres_admin_url)
        url = url.set(drivername="postgresql+asyncpg", database=self.database, query={})
        return url.render_as_string(hide_password=False)


@contextlib.contextmanager
def workspace(prefix: str, *, keep_logs: bool) -> Iterator[Path]:
    """A scratch directory, removed afterwards unless the run failed (raised) or `keep_logs`."""
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    failed = True
    try:
        yield workdir
        failed = False
    finally:
        if failed or keep_logs:
            print(f"logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


@contextlib.contextmanager
def provisioned(workdir: Path) -> Iterator[RunContext]:
    """A fresh database, migrated by `python -m service.migrate`, and a Redis key prefix; the
    database is dropped and the keys deleted on the way out, whatever happens."""
    context = RunContext(
        workdir=workdir,
        database=f"bench_{uuid.uuid4().hex[:12]}",
        key_prefix=f"bench-{uuid.uuid4().hex[:8]}",
        jwt_secret=secrets.token_urlsafe(48),
    )
    admin_statement(context, f'CREATE DATABASE "{context.database}"')
    try:
        migrate(context)
        yield context
    finally:
        with contextlib.suppress(Exception):
            admin_statement(context, f'DROP DATABASE IF EXISTS "{context.database}" WITH (FORCE)')
        with contextlib.suppress(Exception):
            delete_redis_keys(context)


def admin_statement(context: RunContext, statement: str) -> Any:
    """Run one statement on the PostgreSQL server's admin database; its first value, if any."""
    import asyncpg

    async def run() -> Any:
        connection = await asyncpg.connect(context.postgres_admin_url, timeout=10)
        try:
            return await connection.fetchval(statement)
        finally:
            await connection.close()

    return asyncio.run(run())


def postgres_version(context: RunContext) -> str:
    return str(admin_statement(context, "SHOW server_version"))


def migrate(context: RunContext) -> None:
    log_path = context.workdir / "migrate.log"
    with log_path.open("wb") as log:
        finished = subprocess.run(
            [sys.executable, "-m", "service.migrate"],
            cwd=REPO,
            env={**inherited_environment(), **service_env(context, "off")},
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=120,
            check=False,
        )
    if finished.returncode != 0:
        raise BenchError(f"migration failed; see {log_path}")


@contextlib.contextmanager
def redis_client(context: RunContext) -> Iterator[redis.Redis]:
    import redis

    client = redis.Redis.from_url(context.redis_url, socket_timeout=5)
    try:
        yield client
    finally:
        client.close()


def count_redis_keys(context: RunContext) -> int:
    """Proof that the Redis scenario really went through Redis."""
    with redis_client(context) as client:
        return sum(1 for _ in client.scan_iter(match=f"{context.key_prefix}:*", count=1000))


def delete_redis_keys(context: RunContext) -> int:
    with redis_client(context) as client:
        keys = list(client.scan_iter(match=f"{context.key_prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
        return len(keys)


@dataclass(frozen=True)
class SeedData:
    token: str
    item_id: int  # one of the user's items, from the middle


def seed(base_url: str) -> SeedData:
    """One user and SEED_ITEMS items, through the API; each request from its own address
    (TEST-NET-2), so per-IP limits on sign-up, login and create never get in the way."""
    email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
    password = secrets.token_urlsafe(16)
    addresses = (f"198.51.100.{number % 250 + 1}" for number in range(10_000))

    def sender(headers: dict[str, str] | None = None) -> dict[str, str]:
        return {**(headers or {}), "X-Forwarded-For": next(addresses)}

    with httpx.Client(base_url=base_url, timeout=30) as http:
        created = http.post("/users", json={"email": email, "password": password}, headers=sender())
        expect(created, 201)
        token_response = http.post(
            "/auth/token", data={"username": email, "password": password}, headers=sender()
        )
        expect(token_response, 200)
        token = token_response.json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        ids = []
        for number in range(SEED_ITEMS):
            item = http.post(
                "/items",
                headers=sender(auth),
                json={"name": f"seed {number}", "price": f"{number}.50", "quantity": number},
            )
            expect(item, 201)
            ids.append(item.json()["id"])
        page = http.get("/items?limit=50", headers=sender(auth))
        expect(page, 200)
        if len(page.json()["data"]) != 50:
            raise BenchError(
                f"seeding: expected a page of 50 items, got {len(page.json()['data'])}"
            )
    return SeedData(token=token, item_id=ids[len(ids) // 2])


def check_limiter_modes(servers: Mapping[str, Server], seed_data: SeedData) -> None:
    """Each service process limits the way its spec says: RateLimit-* headers on the limited
    read when the limiter is on, none when it is off (else the comparison means nothing)."""
    headers = {"Authorization": f"Bearer {seed_data.token}", "X-Forwarded-For": "198.51.100.254"}
    for name, server in servers.items():
        if server.spec.limiter is None:
            continue
        response = httpx.get(
            f"{server.base_url}/items/{seed_data.item_id}", headers=headers, timeout=10
        )
        expect(response, 200)
        limited = "ratelimit-limit" in response.headers
        if limited != (server.spec.limiter != "off"):
            raise BenchError(f"{name}: RateLimit-Limit header present={limited}, not as configured")


def expect(response: httpx.Response, status: int) -> None:
    if response.status_code != status:
        raise BenchError(
            f"seeding: {response.request.method} {response.request.url.path} answered "
            f"{response.status_code}, expected {status}: {response.text[:300]}"
        )
