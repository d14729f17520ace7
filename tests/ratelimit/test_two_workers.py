"""Two real uvicorn worker processes sharing Redis admit no more than one process would.

The server runs `uvicorn service.main:app --workers 2` on a migrated SQLite file; the bursts are
raw HTTP over connections all opened before any request is written, so they reach the workers as
close together as a client can make them."""

import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import pytest
from redis import Redis

from service.db import create_engine, create_sessionmaker
from service.migrate import migrate
from tests.ratelimit.helpers import (
    SHARED_REDIS_URL,
    SeededUser,
    most_admitted,
    new_item,
    raw_burst,
    raw_request,
    seed_user,
    statuses,
)
from tests.support.loops import run_in_fresh_loop
from tests.support.settings import make_settings
from tests.support.uvicorn_server import UvicornServer, inherited_environment

pytestmark = [pytest.mark.redis, pytest.mark.timeout(180)]


@dataclass
class Server:
    port: int
    user: SeededUser


def worker_pids(supervisor: subprocess.Popen) -> list[int]:
    """uvicorn's workers are `multiprocessing` spawn children (a resource tracker may be another
    child: it is not counted)."""
    children = Path(f"/proc/{supervisor.pid}/task/{supervisor.pid}/children").read_text().split()
    return [
        int(pid) for pid in children if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]


def wait_for_workers(log: Path, supervisor: subprocess.Popen, count: int, timeout: float) -> None:
    """Each worker logs 'Application startup complete' once its app is ready."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if supervisor.poll() is not None:
            raise RuntimeError(f"uvicorn exited with {supervisor.returncode}:\n{log.read_text()}")
        if log.read_text(errors="ignore").count("Application startup complete") >= count:
            return
        time.sleep(0.1)
    raise TimeoutError(f"{count} workers not ready after {timeout}s:\n{log.read_text()}")


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp("two-workers")
    database_url = f"sqlite+aiosqlite:///{directory / 'service.db'}"
    settings = make_settings(database_url)
    run_in_fresh_loop(lambda: migrate(settings))

    async def seed() -> SeededUser:
        engine = create_engine(settings)
        try:
            return await seed_user(create_sessionmaker(engine))
        finally:
            await engine.dispose()

    user = run_in_fresh_loop(seed)
    key_prefix = f"test-ratelimit-{uuid.uuid4().hex[:12]}"
    server = UvicornServer(
        {
            "ENVIRONMENT": "local",
            "DATABASE_URL": database_url,
            "REDIS_URL": SHARED_REDIS_URL,
            "RATE_LIMIT_KEY_PREFIX": key_prefix,
            "FORWARDED_ALLOW_IPS": "127.0.0.1",
            "LOG_LEVEL": "WARNING",
        },
        log_path=directory / "uvicorn.log",
        args=("--workers", "2"),
        base_env=inherited_environment(),
    )
    try:
        server.launch()
        assert server.process is not None
        server.wait_listening(timeout=60)
        wait_for_workers(server.log_path, server.process, count=2, timeout=60)
        assert len(worker_pids(server.process)) == 2, "uvicorn did not start two worker processes"
        yield Server(server.port, user)
    finally:
        server.stop(grace=10.0)
        redis = Redis.from_url(SHARED_REDIS_URL)
        try:
            keys = list(redis.scan_iter(match=f"{key_prefix}:*", count=1000))
            if keys:
                redis.delete(*keys)
        finally:
            redis.close()


def json_post(path: str, body: object, headers: dict[str, str] | None = None) -> bytes:
    return raw_request(
        "POST",
        path,
        body=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
    )


def form_post(path: str, fields: dict[str, str]) -> bytes:
    return raw_request(
        "POST",
        path,
        body=urlencode(fields).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )


async def test_50_concurrent_item_creations_admit_one_across_two_workers(
    two_workers: Server,
) -> None:
    requests = [
        json_post("/items", new_item(index), two_workers.user.headers) for index in range(50)
    ]
    responses, seconds = await raw_burst(two_workers.port, requests)
    counts = statuses(responses)
    assert set(counts) <= {201, 429}, counts
    # Exactly 1 when the burst fits in one second, as it does unless the machine is very busy.
    assert 1 <= counts.get(201, 0) <= most_admitted(1, 1.0, seconds), (counts, seconds)
    refused = next(response for response in responses if response.status == 429)
    assert json.loads(refused.body) == {"detail": "Rate limit exceeded: 1 per 1 second"}
    assert refused.headers["retry-after"] == "1"


async def test_20_concurrent_logins_admit_exactly_5_across_two_workers(
    two_workers: Server,
) -> None:
    form = {"username": two_workers.user.email, "password": two_workers.user.password}
    responses, _ = await raw_burst(two_workers.port, [form_post("/auth/token", form)] * 20)
    assert statuses(responses) == {200: 5, 429: 15}


async def test_20_concurrent_registrations_admit_exactly_3_across_two_workers(
    two_workers: Server,
) -> None:
    requests = [
        json_post("/users", {"email": f"burst-{index}@example.com", "password": "long enough 1"})
        for index in range(20)
    ]
    responses, _ = await raw_burst(two_workers.port, requests)
    assert statuses(responses) == {201: 3, 429: 17}
