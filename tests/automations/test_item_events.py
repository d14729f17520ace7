"""Item events through the transactional outbox, consumed by a worker pass (the same code the CLI
runs), on SQLite and PostgreSQL; and scheduled automations becoming due."""

from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import func, select, update

from service.automations.models import Automation, AutomationRun
from service.events import OutboxEvent
from service.worker import run_pass
from tests.automations.receiver import Receiver
from tests.support.users import UserHandle


async def worker_pass(app) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    summary = await run_pass(app.state.sessionmaker, settings=app.state.settings, batch=50)
    return summary.events, sum(summary.statuses.values())


async def create_automation(
    http: httpx.AsyncClient, user: UserHandle, trigger: dict, url: str
) -> dict:
    response = await http.post(
        "/automations",
        json={"name": "on items", "trigger": trigger, "action": {"type": "webhook", "url": url}},
        headers=user.headers,
    )
    assert response.status_code == 201, response.text
    return response.json()


async def create_item(http: httpx.AsyncClient, user: UserHandle, quantity: int = 10) -> int:
    response = await http.post(
        "/items",
        json={"name": "widget", "price": "2.50", "quantity": quantity},
        headers=user.headers,
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def set_quantity(
    http: httpx.AsyncClient, user: UserHandle, item_id: int, quantity: int
) -> None:
    response = await http.patch(
        f"/items/{item_id}", json={"quantity": quantity}, headers=user.headers
    )
    assert response.status_code == 200, response.text


async def test_item_change_and_its_event_are_committed_together_and_consumed_once(
    loopback_client: httpx.AsyncClient, loopback_app, alice: UserHandle, receiver: Receiver
) -> None:  # type: ignore[no-untyped-def]
    trigger = {"type": "item_event", "event": "created"}
    automation = await create_automation(loopback_client, alice, trigger, receiver.base_url)
    item_id = await create_item(loopback_client, alice)

    async with loopback_app.state.sessionmaker() as session:
        [event] = (await session.scalars(select(OutboxEvent))).all()
    assert (event.kind, event.subject_id, event.processed_at) == ("item.created", item_id, None)

    assert await worker_pass(loopback_app) == (1, 1)
    assert await worker_pass(loopback_app) == (0, 0), "a processed event is never consumed again"
    [request] = receiver.requests
    payload = request.json()
    assert payload["trigger"] == "item_event"
    assert payload["event"]["kind"] == "item.created"
    assert payload["event"]["data"]["item"]["id"] == item_id
    runs = await loopback_client.get(f"/automations/{automation['id']}/runs", headers=alice.headers)
    [run] = runs.json()["data"]
    assert (run["trigger"], run["event_id"], run["status"]) == ("item_event", event.id, "success")


async def test_update_event_fires_on_a_change_but_not_on_a_no_op_patch(
    loopback_client: httpx.AsyncClient, loopback_app, alice: UserHandle, receiver: Receiver
) -> None:  # type: ignore[no-untyped-def]
    item_id = await create_item(loopback_client, alice, quantity=10)
    trigger = {"type": "item_event", "event": "updated"}
    await create_automation(loopback_client, alice, trigger, receiver.base_url)
    await set_quantity(loopback_client, alice, item_id, 10)  # unchanged: no event
    await set_quantity(loopback_client, alice, item_id, 9)

    await worker_pass(loopback_app)
    [request] = receiver.requests
    data = request.json()["event"]["data"]
    assert (data["item"]["quantity"], data["previous"]) == (9, {"quantity": 10})


async def test_low_stock_fires_only_when_quantity_crosses_below_the_threshold(
    loopback_client: httpx.AsyncClient, loopback_app, alice: UserHandle, receiver: Receiver
) -> None:  # type: ignore[no-untyped-def]
    item_id = await create_item(loopback_client, alice, quantity=10)
    trigger = {"type": "item_event", "event": "low_stock", "threshold": 5}
    await create_automation(loopback_client, alice, trigger, receiver.base_url)
    for quantity in (6, 5, 4, 2, 8, 3):  # crosses below 5 twice: 5 -> 4 and 8 -> 3
        await set_quantity(loopback_client, alice, item_id, quantity)

    events, runs = await worker_pass(loopback_app)
    assert (events, runs) == (7, 2)  # the creation and six updates
    fired = [r.json()["event"]["data"]["item"]["quantity"] for r in receiver.requests]
    assert fired == [4, 3]


async def test_other_users_item_events_do_not_trigger_my_automation(
    loopback_client: httpx.AsyncClient,
    loopback_app,
    alice: UserHandle,
    bob: UserHandle,
    receiver: Receiver,
) -> None:  # type: ignore[no-untyped-def]
    trigger = {"type": "item_event", "event": "created"}
    await create_automation(loopback_client, alice, trigger, receiver.base_url)
    await create_item(loopback_client, bob)
    assert await worker_pass(loopback_app) == (1, 0)
    assert receiver.requests == []


async def test_events_from_before_an_automation_existed_do_not_trigger_it(
    loopback_client: httpx.AsyncClient, loopback_app, alice: UserHandle, receiver: Receiver
) -> None:  # type: ignore[no-untyped-def]
    await create_item(loopback_client, alice)
    trigger = {"type": "item_event", "event": "created"}
    await create_automation(loopback_client, alice, trigger, receiver.base_url)
    assert await worker_pass(loopback_app) == (1, 0)


async def test_due_schedule_runs_once_and_moves_to_the_next_slot(
    loopback_client: httpx.AsyncClient, loopback_app, alice: UserHandle, receiver: Receiver
) -> None:  # type: ignore[no-untyped-def]
    trigger = {"type": "schedule", "every_seconds": 600}
    automation = await create_automation(loopback_client, alice, trigger, receiver.base_url)
    assert await worker_pass(loopback_app) == (0, 0), "not due yet"

    due = datetime.now(UTC) - timedelta(seconds=1)
    async with loopback_app.state.engine.begin() as connection:
        await connection.execute(
            update(Automation).where(Automation.id == automation["id"]).values(next_run_at=due)
        )
    before = datetime.now(UTC)
    assert await worker_pass(loopback_app) == (0, 1)
    assert await worker_pass(loopback_app) == (0, 0), "ran once, then waits for the next slot"

    current = await loopback_client.get(f"/automations/{automation['id']}", headers=alice.headers)
    next_run_at = datetime.fromisoformat(current.json()["next_run_at"])
    assert next_run_at >= before + timedelta(seconds=600)
    assert receiver.requests[0].json()["trigger"] == "schedule"


async def test_disabled_schedule_is_not_run_by_the_worker(
    client: httpx.AsyncClient, app, alice: UserHandle
) -> None:  # type: ignore[no-untyped-def]
    response = await client.post(
        "/automations",
        json={
            "name": "off",
            "enabled": False,
            "trigger": {"type": "schedule", "every_seconds": 60},
            "action": {"type": "archive_stale_items", "older_than_days": 1},
        },
        headers=alice.headers,
    )
    async with app.state.engine.begin() as connection:
        await connection.execute(
            update(Automation)
            .where(Automation.id == response.json()["id"])
            .values(next_run_at=datetime.now(UTC) - timedelta(hours=1))
        )
    assert await worker_pass(app) == (0, 0)
    async with app.state.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(AutomationRun)) == 0
