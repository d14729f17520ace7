"""Issue 23, findings 2 and 3: webhook targets that never answer, on PostgreSQL with a small pool.

- Runs pointed at a stalled listener must not hold database connections while they wait: another
  user's requests and /ready keep answering (before: the pool was taken, 503 after its timeout).
- A worker pass is bounded: deliveries run concurrently (a stalled target holds one lane for one
  timeout, not the pass for attempts x timeout each), claims stop at the pass's time budget, and a
  user may own only so many automations.
All on 127.0.0.1; every wait is bounded.
"""

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from sqlalchemy import select

from service.automations.models import AutomationRun
from service.main import close_app, create_app
from service.migrate import migrate
from service.worker import run_pass
from tests.automations.receiver import Receiver
from tests.support.databases import create_postgres_database, drop_postgres_database
from tests.support.loops import run_in_fresh_loop
from tests.support.settings import make_settings
from tests.support.users import register_and_login

TIMEOUT = 2.0
POOL_SIZE = 2
SCHEDULE = {"type": "schedule", "every_seconds": 3600}
ON_CREATED = {"type": "item_event", "event": "created"}


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    url = run_in_fresh_loop(create_postgres_database)
    run_in_fresh_loop(lambda: migrate(make_settings(url)))
    yield url
    run_in_fresh_loop(lambda: drop_postgres_database(url))


def settings_for(url: str, **overrides: object):  # type: ignore[no-untyped-def]
    values: dict[str, object] = {
        "webhook_allow_loopback": True,
        "webhook_timeout_seconds": TIMEOUT,
        "webhook_backoff_seconds": 0.01,
        "db_pool_size": POOL_SIZE,
        "db_read_pool_size": 1,
        "db_pool_timeout": 1.0,
        **overrides,
    }
    return make_settings(url, **values)


@pytest.fixture
async def stalled() -> AsyncIterator[Receiver]:
    """Accepts and reads every request, answers none (until the test ends)."""
    server = await Receiver().start()
    server.hold = asyncio.Event()
    yield server
    await server.close()


@pytest.fixture
async def app(database: str):  # type: ignore[no-untyped-def]
    application = create_app(settings_for(database))
    yield application
    await close_app(application)
    async with application.state.engine.begin() as connection:
        await connection.exec_driver_sql(
            "TRUNCATE users, items, automations, automation_runs, outbox_events "
            "RESTART IDENTITY CASCADE"
        )
    await application.state.engine.dispose()


async def new_automation(http: httpx.AsyncClient, headers: dict, trigger: dict, url: str) -> int:
    response = await http.post(
        "/automations",
        json={"name": "hook", "trigger": trigger, "action": {"type": "webhook", "url": url}},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def test_runs_against_a_stalled_target_leave_the_pool_to_everyone_else(
    app, stalled: Receiver
) -> None:  # type: ignore[no-untyped-def]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t", timeout=30) as http:
        attackers = [await register_and_login(http, f"a{n}@example.com") for n in range(3)]
        bystander = await register_and_login(http, "bystander@example.com")
        targets = [
            (user.headers, await new_automation(http, user.headers, SCHEDULE, stalled.base_url))
            for user in attackers
        ]
        runs = [
            asyncio.create_task(http.post(f"/automations/{automation}/run", headers=headers))
            for headers, automation in targets
            for _ in range(6)
        ]
        await stalled.wait_for_requests(POOL_SIZE, timeout=10)

        started = time.monotonic()
        created = await http.post(
            "/items",
            json={"name": "mine", "price": "1.00", "quantity": 1},
            headers=bystander.headers,
        )
        listed = await http.get("/automations", headers=bystander.headers)
        ready = await http.get("/ready")
        waited = time.monotonic() - started
        # All 18 in flight at once, with a pool of 2 (before: two at a time, 3 attempts each).
        await stalled.wait_for_requests(len(runs), timeout=TIMEOUT * 2)

        results = await asyncio.wait_for(asyncio.gather(*runs), timeout=TIMEOUT * 5)

    assert (created.status_code, listed.status_code, ready.status_code) == (201, 200, 200), (
        created.text,
        listed.text,
        ready.text,
    )
    assert waited < 1.0, f"the bystander waited {waited:.1f} s"
    assert {r.status_code for r in results} == {201}
    assert {r.json()["status"] for r in results} == {"pending"}, "each timed out once, queued"
    assert {r.json()["detail"] for r in results} == {f"timed out after {TIMEOUT:g} s"}


async def test_a_stalled_target_holds_one_delivery_lane_not_the_worker_pass(
    app, stalled: Receiver
) -> None:  # type: ignore[no-untyped-def]
    healthy = await Receiver().start()
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            owner = await register_and_login(http, "owner@example.com")
            for _ in range(3):
                await new_automation(http, owner.headers, ON_CREATED, stalled.base_url)
            await new_automation(http, owner.headers, ON_CREATED, healthy.base_url)
            item = await http.post(
                "/items", json={"name": "x", "price": "1.00", "quantity": 1}, headers=owner.headers
            )
            assert item.status_code == 201

        summary = await asyncio.wait_for(
            run_pass(app.state.sessionmaker, settings=app.state.settings, batch=10),
            timeout=TIMEOUT * 10,
        )
    finally:
        await healthy.close()

    # Before: 3 automations x 3 attempts x the timeout, one after another (54 s at 5 s).
    assert summary.seconds < TIMEOUT * 2, summary.line()
    assert (summary.events, summary.deliveries["success"], summary.deliveries["pending"]) == (
        1,
        1,
        3,
    ), summary.line()
    assert len(healthy.requests) == 1 and len(stalled.requests) == 3


async def test_a_pass_claims_nothing_after_its_time_budget(
    database: str, stalled: Receiver
) -> None:
    application = create_app(
        settings_for(
            database,
            worker_pass_budget_seconds=0.5,
            webhook_concurrency=2,
            automations_max_per_user=10,
        )
    )
    try:
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            owner = await register_and_login(http, "busy@example.com")
            for _ in range(10):
                await new_automation(http, owner.headers, ON_CREATED, stalled.base_url)
            await http.post(
                "/items", json={"name": "x", "price": "1.00", "quantity": 1}, headers=owner.headers
            )
        settings = application.state.settings
        summary = await asyncio.wait_for(
            run_pass(application.state.sessionmaker, settings=settings, batch=100),
            timeout=TIMEOUT * 10,
        )
        async with application.state.sessionmaker() as session:
            runs = (await session.scalars(select(AutomationRun))).all()
    finally:
        await close_app(application)
        async with application.state.engine.begin() as connection:
            await connection.exec_driver_sql("TRUNCATE users RESTART IDENTITY CASCADE")
        await application.state.engine.dispose()

    # Two lanes, each claims once before the budget passes and waits out one timeout.
    assert summary.seconds < 0.5 + TIMEOUT + 1.5, summary.line()
    assert summary.deliveries.total() == 2 and len(stalled.requests) == 2, summary.line()
    assert len(runs) == 10 and sorted(r.attempts for r in runs) == [0] * 8 + [1, 1]


async def test_a_user_may_own_only_so_many_automations(database: str) -> None:
    application = create_app(settings_for(database, automations_max_per_user=3))
    try:
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            owner = await register_and_login(http, "many@example.com")
            other = await register_and_login(http, "other@example.com")
            for _ in range(3):
                await new_automation(http, owner.headers, SCHEDULE, "http://127.0.0.1:9/")
            refused = await http.post(
                "/automations",
                json={
                    "name": "4th",
                    "trigger": SCHEDULE,
                    "action": {"type": "webhook", "url": "http://127.0.0.1:9/"},
                },
                headers=owner.headers,
            )
            # Someone else's count is their own.
            await new_automation(http, other.headers, SCHEDULE, "http://127.0.0.1:9/")
    finally:
        await close_app(application)
        async with application.state.engine.begin() as connection:
            await connection.exec_driver_sql("TRUNCATE users RESTART IDENTITY CASCADE")
        await application.state.engine.dispose()
    assert refused.status_code == 409
    assert refused.json() == {"detail": "Automation limit reached: a user may own 3"}
