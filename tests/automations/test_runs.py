"""Running automations now (POST /automations/{id}/run) and the runs history: webhooks delivered to
a receiver on 127.0.0.1 (signed; one attempt in the request, retries queued for the worker, see
test_redelivery.py) and the archive_stale_items action."""

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import update

from service.items.models import Item
from tests.automations.receiver import Receiver
from tests.support.users import UserHandle

SCHEDULE = {"type": "schedule", "every_seconds": 3600}


async def create_webhook(http: httpx.AsyncClient, user: UserHandle, url: str) -> dict:
    response = await http.post(
        "/automations",
        json={"name": "notify", "trigger": SCHEDULE, "action": {"type": "webhook", "url": url}},
        headers=user.headers,
    )
    assert response.status_code == 201, response.text
    return response.json()


async def run_now(http: httpx.AsyncClient, user: UserHandle, automation_id: int) -> dict:
    response = await http.post(f"/automations/{automation_id}/run", headers=user.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def test_webhook_is_delivered_with_a_verifiable_signature(
    loopback_client: httpx.AsyncClient, alice: UserHandle, receiver: Receiver
) -> None:
    automation = await create_webhook(loopback_client, alice, f"{receiver.base_url}/hook")
    run = await run_now(loopback_client, alice, automation["id"])

    assert (run["status"], run["attempts"], run["trigger"]) == ("success", 1, "manual"), run
    [request] = receiver.requests
    expected = (
        "sha256="
        + hmac.new(automation["secret"].encode(), request.body, hashlib.sha256).hexdigest()
    )
    assert hmac.compare_digest(request.headers["x-signature"], expected)
    assert request.method == "POST" and request.path == "/hook"
    assert request.headers["content-type"] == "application/json"
    payload = request.json()
    assert payload["automation"] == {"id": automation["id"], "name": "notify"}
    assert payload["trigger"] == "manual" and payload["event"] is None
    assert payload["delivery_id"] == request.headers["x-delivery-id"]
    assert automation["secret"] not in request.body.decode()


async def test_a_failed_first_attempt_is_queued_for_the_worker_not_retried_in_the_request(
    loopback_client: httpx.AsyncClient, alice: UserHandle, receiver: Receiver
) -> None:
    receiver.statuses = [500]
    automation = await create_webhook(loopback_client, alice, receiver.base_url)
    run = await run_now(loopback_client, alice, automation["id"])
    assert (run["status"], run["attempts"], run["detail"]) == ("pending", 1, "HTTP 500"), run
    assert len(receiver.requests) == 1
    assert (
        run["finished_at"] is None
        and run["delivery_id"] == receiver.requests[0].headers["x-delivery-id"]
    )
    assert datetime.fromisoformat(run["next_attempt_at"]) >= datetime.fromisoformat(
        run["started_at"]
    )


async def test_webhook_client_error_is_dead_at_once(
    loopback_client: httpx.AsyncClient, alice: UserHandle, receiver: Receiver
) -> None:
    receiver.statuses = [404]
    automation = await create_webhook(loopback_client, alice, receiver.base_url)
    run = await run_now(loopback_client, alice, automation["id"])
    assert (run["status"], run["attempts"], run["detail"]) == (
        "dead",
        1,
        "HTTP 404; not retried",
    ), run
    assert run["next_attempt_at"] is None and run["finished_at"] is not None
    assert len(receiver.requests) == 1


async def test_webhook_redirect_is_not_followed(
    loopback_client: httpx.AsyncClient, alice: UserHandle, receiver: Receiver
) -> None:
    receiver.statuses = [302]
    automation = await create_webhook(loopback_client, alice, receiver.base_url)
    run = await run_now(loopback_client, alice, automation["id"])
    assert run["status"] == "dead" and "redirects are not followed" in run["detail"], run
    assert len(receiver.requests) == 1


async def test_unreachable_webhook_is_pending_after_one_attempt(
    loopback_client: httpx.AsyncClient, alice: UserHandle, receiver: Receiver
) -> None:
    url = receiver.base_url
    await receiver.close()  # nothing listens on that port any more
    automation = await create_webhook(loopback_client, alice, url)
    run = await run_now(loopback_client, alice, automation["id"])
    assert (run["status"], run["attempts"]) == ("pending", 1), run
    assert "connection failed" in run["detail"]


async def test_disabled_automation_run_is_recorded_as_skipped(
    loopback_client: httpx.AsyncClient, alice: UserHandle, receiver: Receiver
) -> None:
    automation = await create_webhook(loopback_client, alice, receiver.base_url)
    await loopback_client.patch(
        f"/automations/{automation['id']}", json={"enabled": False}, headers=alice.headers
    )
    run = await run_now(loopback_client, alice, automation["id"])
    assert (run["status"], run["attempts"]) == ("skipped", 0), run
    assert receiver.requests == []


async def test_runs_history_is_newest_first_paginated_and_never_shows_the_secret(
    loopback_client: httpx.AsyncClient, alice: UserHandle, receiver: Receiver
) -> None:
    automation = await create_webhook(loopback_client, alice, receiver.base_url)
    run_ids = [(await run_now(loopback_client, alice, automation["id"]))["id"] for _ in range(3)]
    page = await loopback_client.get(
        f"/automations/{automation['id']}/runs", params={"limit": 2}, headers=alice.headers
    )
    assert page.status_code == 200
    assert [run["id"] for run in page.json()["data"]] == run_ids[::-1][:2]
    first = page.json()["data"][0]
    assert set(first) == {
        "id",
        "automation_id",
        "trigger",
        "event_id",
        "status",
        "attempts",
        "detail",
        "delivery_id",
        "next_attempt_at",
        "started_at",
        "finished_at",
    }
    assert automation["secret"] not in page.text
    too_big = await loopback_client.get(
        f"/automations/{automation['id']}/runs", params={"limit": 101}, headers=alice.headers
    )
    assert too_big.status_code == 422


async def test_archive_stale_items_archives_only_the_owners_old_items(
    client: httpx.AsyncClient, app, alice: UserHandle, bob: UserHandle
) -> None:  # type: ignore[no-untyped-def]
    async def new_item(user: UserHandle, name: str) -> int:
        response = await client.post(
            "/items", json={"name": name, "price": "1.00", "quantity": 1}, headers=user.headers
        )
        return response.json()["id"]

    stale, fresh, bobs_stale = (
        await new_item(alice, "stale"),
        await new_item(alice, "fresh"),
        await new_item(bob, "bob's stale"),
    )
    long_ago = datetime.now(UTC) - timedelta(days=40)
    async with app.state.engine.begin() as connection:
        await connection.execute(
            update(Item).where(Item.id.in_([stale, bobs_stale])).values(updated_at=long_ago)
        )
    created = await client.post(
        "/automations",
        json={
            "name": "cleanup",
            "trigger": SCHEDULE,
            "action": {"type": "archive_stale_items", "older_than_days": 30},
        },
        headers=alice.headers,
    )
    run = await run_now(client, alice, created.json()["id"])
    assert (run["status"], run["detail"]) == ("success", "archived 1 item(s)"), run

    archived = {
        item_id: (await client.get(f"/items/{item_id}", headers=user.headers)).json()["archived"]
        for item_id, user in ((stale, alice), (fresh, alice), (bobs_stale, bob))
    }
    assert archived == {stale: True, fresh: False, bobs_stale: False}
