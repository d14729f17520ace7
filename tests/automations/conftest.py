"""Automation fixtures: a webhook receiver, and a second app on the same database whose settings
allow webhooks to 127.0.0.1 (the default app keeps the production SSRF policy)."""

from collections.abc import AsyncIterator

import httpx
import pytest

from service.main import close_app, create_app
from tests.automations.receiver import Receiver
from tests.support.settings import make_settings


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    server = await Receiver().start()
    yield server
    await server.close()


@pytest.fixture(scope="session")
async def loopback_app(database_url: str):  # type: ignore[no-untyped-def]
    application = create_app(
        make_settings(
            database_url,
            webhook_allow_loopback=True,
            webhook_backoff_seconds=0.01,
            webhook_timeout_seconds=2.0,
        )
    )
    yield application
    await close_app(application)


@pytest.fixture
async def loopback_client(loopback_app, client) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    """Same database as `client` (whose teardown truncates it); users registered through `client`
    (alice, bob) authenticate here too."""
    transport = httpx.ASGITransport(app=loopback_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http
