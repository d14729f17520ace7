"""Helpers for the rate-limit tests: clients that connect from a chosen address, users seeded
through the service layer (setting up spends none of the budgets under test), concurrent and raw
HTTP bursts (connections opened before any request is sent).
"""

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta

import httpx
from fastapi import FastAPI
from redis.asyncio import Redis

from service.config import DEV_JWT_SECRET
from service.users import service as users

SHARED_REDIS_URL = "redis://127.0.0.1:6379/0"
PASSWORD = "correct horse battery"
# Documentation addresses (RFC 5737): never a real client, never trusted.
CLIENT_IP = "203.0.113.10"


async def redis_keys(prefix: str) -> list[str]:
    redis = Redis.from_url(SHARED_REDIS_URL, decode_responses=True)
    try:
        return sorted([key async for key in redis.scan_iter(match=f"{prefix}:*", count=1000)])
    finally:
        await redis.aclose()


@contextlib.asynccontextmanager
async def client_from(
    app: FastAPI, ip: str = CLIENT_IP, **kwargs: object
) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client whose requests reach the app from `ip` (the ASGI scope's client)."""
    transport = httpx.ASGITransport(app=app, client=(ip, 40000))
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://testserver",
        **kwargs,  # type: ignore[arg-type]
    ) as client:
        yield client


@dataclass
class SeededUser:
    email: str
    password: str
    token: str
    headers: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.headers = {"Authorization": f"Bearer {self.token}"}


async def seed_user(sessionmaker, email: str | None = None) -> SeededUser:  # type: ignore[no-untyped-def]
    """A user and a token made by the service layer: no request, so no budget spent."""
    email = email or f"rl-{uuid.uuid4().hex[:10]}@example.com"
    async with sessionmaker() as session:
        user = await users.create_user(session, email=email, password=PASSWORD)
    token = users.issue_token(
        user, secret=DEV_JWT_SECRET, algorithm="HS256", expires_in=timedelta(minutes=30)
    )
    return SeededUser(email, PASSWORD, token)


def new_item(index: int = 0) -> dict[str, object]:
    return {"name": f"widget {index}", "price": "9.99", "quantity": 1}


async def concurrently(count: int, send: Callable[[int], Awaitable[httpx.Response]]):  # type: ignore[no-untyped-def]
    """Start `count` requests together (all created before any runs); (responses, seconds)."""
    gate = asyncio.Event()

    async def one(index: int) -> httpx.Response:
        await gate.wait()
        return await send(index)

    tasks = [asyncio.ensure_future(one(index)) for index in range(count)]
    await asyncio.sleep(0)
    started = time.monotonic()
    gate.set()
    responses = await asyncio.wait_for(asyncio.gather(*tasks), timeout=60)
    return responses, time.monotonic() - started


def most_admitted(limit: int, window_seconds: float, burst_seconds: float) -> int:
    """A moving window admits at most `limit` per window: a burst that outlasted the window may
    legitimately see more (a slow, shared machine); one inside it must see exactly `limit`."""
    return limit * (int(burst_seconds // window_seconds) + 1)


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes


def raw_request(
    method: str, path: str, *, body: bytes = b"", headers: dict[str, str] | None = None
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def raw_burst(port: int, requests: list[bytes], timeout: float = 60.0):  # type: ignore[no-untyped-def]
    """Open one connection per request first, then write every request, then read every
    response: the requests reach the server as close together as a client can make them.
    Returns (responses, seconds from the first write to the last response)."""

    async def read(reader: asyncio.StreamReader) -> RawResponse:
        data = await reader.read(-1)  # Connection: close, so EOF ends the response
        head, _, body = data.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return RawResponse(int(status_line.split()[1]), headers, body)

    async def run():  # type: ignore[no-untyped-def]
        connections = await asyncio.gather(
            *(asyncio.open_connection("127.0.0.1", port) for _ in requests)
        )
        try:
            started = time.monotonic()
            for (_, writer), request in zip(connections, requests, strict=True):
                writer.write(request)
            await asyncio.gather(*(writer.drain() for _, writer in connections))
            responses = await asyncio.gather(*(read(reader) for reader, _ in connections))
            return responses, time.monotonic() - started
        finally:
            for _, writer in connections:
                writer.close()

    return await asyncio.wait_for(run(), timeout=timeout)


def statuses(responses) -> dict[int, int]:  # type: ignore[no-untyped-def]
    counts: dict[int, int] = {}
    for response in responses:
        code = response.status if isinstance(response, RawResponse) else response.status_code
        counts[code] = counts.get(code, 0) + 1
    return counts
