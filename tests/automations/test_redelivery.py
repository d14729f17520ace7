"""Webhook redelivery on SQLite and PostgreSQL: worker passes driven by a fake clock against a real
receiver on 127.0.0.1 that fails, then recovers; the retry horizon, dead deliveries and
POST /automations/{id}/runs/{run_id}/redeliver; a send-time refusal that is retried, not lost."""

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from service.automations import deliveries
from service.automations.models import AutomationRun
from service.automations.webhook import WebhookPolicy
from service.config import Settings
from service.worker import PassSummary, run_pass
from tests.automations.receiver import Receiver
from tests.automations.test_item_events import create_automation, create_item
from tests.support.users import UserHandle

ON_CREATED = {"type": "item_event", "event": "created"}
BACKOFF = 30.0


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance_to(self, moment: datetime) -> None:
        self.now = max(self.now, moment)


def retrying(app, **overrides: object) -> Settings:  # type: ignore[no-untyped-def]
    """The loopback app's settings with production-like retry timing (the clock is fake)."""
    values = {
        "webhook_backoff_seconds": BACKOFF,
        "webhook_backoff_max_seconds": 3600.0,
        "webhook_retry_horizon_seconds": 86_400.0,
        **overrides,
    }
    return app.state.settings.model_copy(update=values)


async def worker_pass(app, settings: Settings, clock: Callable[[], datetime]) -> PassSummary:  # type: ignore[no-untyped-def]
    return await run_pass(
        app.state.sessionmaker, settings=settings, batch=50, clock=clock, rng=random.Random(7)
    )


async def the_run(app) -> AutomationRun:  # type: ignore[no-untyped-def]
    async with app.state.sessionmaker() as session:
        return (await session.scalars(select(AutomationRun))).one()


async def test_backoff_doubles_up_to_its_cap_with_jitter_in_the_upper_half() -> None:
    policy = WebhookPolicy("local", True, 5.0, 30.0, 3600.0, 86_400.0)
    rng = random.Random(1)
    for attempt, ceiling in [(1, 30), (2, 60), (3, 120), (7, 1920), (8, 3600), (60, 3600)]:
        delays = [deliveries.backoff(attempt, policy, rng).total_seconds() for _ in range(200)]
        assert all(ceiling / 2 <= delay <= ceiling for delay in delays), (attempt, delays[:5])
        assert max(delays) - min(delays) > ceiling / 4, "jittered, not one fixed delay"


async def test_a_receiver_that_recovers_gets_the_same_delivery_on_the_worker_s_schedule(
    loopback_client: httpx.AsyncClient, loopback_app, alice: UserHandle, receiver: Receiver
) -> None:  # type: ignore[no-untyped-def]
    receiver.statuses = [503, 503, 503, 200]  # down for three attempts, then back
    settings, clock = retrying(loopback_app), FakeClock()
    automation = await create_automation(loopback_client, alice, ON_CREATED, receiver.base_url)
    await create_item(loopback_client, alice)

    first = await worker_pass(loopback_app, settings, clock)
    assert (first.events, first.deliveries["pending"]) == (1, 1)
    delays = []
    for attempt in (2, 3, 4):
        run = await the_run(loopback_app)
        assert (run.status, run.attempts, run.detail) == ("pending", attempt - 1, "HTTP 503")
        assert run.next_attempt_at is not None
        delays.append((run.next_attempt_at - clock.now).total_seconds())
        clock.advance_to(run.next_attempt_at - timedelta(seconds=1))
        early = await worker_pass(loopback_app, settings, clock)
        assert early.deliveries.total() == 0, "nothing is sent before the next attempt is due"
        clock.advance_to(run.next_attempt_at)
        await worker_pass(loopback_app, settings, clock)

    for attempt, delay in enumerate(delays, start=1):
        ceiling = BACKOFF * 2 ** (attempt - 1)
        assert ceiling / 2 <= delay <= ceiling, delays
    run = await the_run(loopback_app)
    assert (run.status, run.attempts, run.detail, run.next_attempt_at) == (
        "success",
        4,
        "HTTP 200",
        None,
    )
    assert run.finished_at == clock.now
    assert len(receiver.requests) == 4
    assert {r.body for r in receiver.requests} == {run.payload.encode()}  # type: ignore[union-attr]
    assert {r.headers["x-delivery-id"] for r in receiver.requests} == {run.delivery_id}

    listed = await loopback_client.get(
        f"/automations/{automation['id']}/runs", headers=alice.headers
    )
    [shown] = listed.json()["data"]
    assert (shown["status"], shown["attempts"], shown["next_attempt_at"]) == ("success", 4, None)


async def test_a_delivery_failing_past_the_horizon_is_dead_then_redelivered_on_request(
    loopback_client: httpx.AsyncClient,
    loopback_app,
    alice: UserHandle,
    bob: UserHandle,
    receiver: Receiver,
) -> None:  # type: ignore[no-untyped-def]
    receiver.statuses = [503]
    settings, clock = retrying(loopback_app, webhook_retry_horizon_seconds=600.0), FakeClock()
    horizon_end = clock.now + timedelta(seconds=600)
    automation = await create_automation(loopback_client, alice, ON_CREATED, receiver.base_url)
    await create_item(loopback_client, alice)

    for _ in range(20):  # bounded: 30 s doubling crosses 600 s within six attempts
        await worker_pass(loopback_app, settings, clock)
        run = await the_run(loopback_app)
        if run.status != "pending":
            break
        assert run.next_attempt_at is not None and run.next_attempt_at <= horizon_end
        clock.advance_to(run.next_attempt_at)
    assert run.status == "dead" and run.next_attempt_at is None, run.detail
    assert run.detail == f"HTTP 503; gave up after {run.attempts} attempt(s)"
    assert 3 <= run.attempts <= 6 and len(receiver.requests) == run.attempts
    clock.advance_to(clock.now + timedelta(days=2))
    assert (await worker_pass(loopback_app, settings, clock)).deliveries.total() == 0

    path = f"/automations/{automation['id']}/runs/{run.id}/redeliver"
    someone_else = await loopback_client.post(path, headers=bob.headers)
    assert someone_else.status_code == 404
    unknown = await loopback_client.post(
        f"/automations/{automation['id']}/runs/{run.id + 1000}/redeliver", headers=alice.headers
    )
    assert unknown.status_code == 404 and unknown.json()["detail"] == "Run not found"

    receiver.statuses = [200]  # the receiver is fixed
    receiver.requests.clear()
    redelivered = await loopback_client.post(path, headers=alice.headers)
    assert redelivered.status_code == 200, redelivered.text
    body = redelivered.json()
    assert (body["status"], body["attempts"], body["detail"]) == (
        "success",
        run.attempts + 1,
        "HTTP 200",
    )
    [request] = receiver.requests
    assert request.headers["x-delivery-id"] == run.delivery_id == body["delivery_id"]
    assert request.body == run.payload.encode()  # type: ignore[union-attr]

    again = await loopback_client.post(path, headers=alice.headers)
    assert again.status_code == 409
    assert again.json()["detail"] == "Only a dead delivery can be redelivered; this run is success"


async def test_a_worker_whose_policy_refuses_the_url_retries_it_instead_of_consuming_it(
    loopback_client: httpx.AsyncClient, loopback_app, alice: UserHandle, receiver: Receiver
) -> None:  # type: ignore[no-untyped-def]
    # The API allows loopback URLs; this worker was started without WEBHOOK_ALLOW_LOOPBACK.
    clock = FakeClock()
    strict = retrying(loopback_app, webhook_allow_loopback=False)
    await create_automation(loopback_client, alice, ON_CREATED, receiver.base_url)
    await create_item(loopback_client, alice)

    await worker_pass(loopback_app, strict, clock)
    run = await the_run(loopback_app)
    assert run.status == "pending" and "refused at send time" in run.detail, run.detail
    assert "WEBHOOK_ALLOW_LOOPBACK" in run.detail
    assert receiver.requests == []

    assert run.next_attempt_at is not None
    clock.advance_to(run.next_attempt_at)
    await worker_pass(loopback_app, retrying(loopback_app), clock)  # the worker is fixed
    run = await the_run(loopback_app)
    assert (run.status, run.attempts) == ("success", 2)
    assert len(receiver.requests) == 1


@pytest.mark.parametrize("status", ["success", "pending"])
async def test_only_a_dead_delivery_can_be_redelivered(
    loopback_client: httpx.AsyncClient,
    alice: UserHandle,
    receiver: Receiver,
    status: str,
) -> None:
    receiver.statuses = [200 if status == "success" else 503]
    automation = await create_automation(
        loopback_client, alice, {"type": "schedule", "every_seconds": 3600}, receiver.base_url
    )
    run = (
        await loopback_client.post(f"/automations/{automation['id']}/run", headers=alice.headers)
    ).json()
    assert run["status"] == status
    response = await loopback_client.post(
        f"/automations/{automation['id']}/runs/{run['id']}/redeliver", headers=alice.headers
    )
    assert response.status_code == 409, response.text
    assert receiver.requests[1:] == [], "nothing was sent again"
