"""CRUD and ownership of /automations, through the real app on SQLite and PostgreSQL."""

import httpx

from service.main import close_app, create_app
from tests.support.settings import make_settings
from tests.support.users import UserHandle

SCHEDULE = {"type": "schedule", "every_seconds": 3600}
ARCHIVE = {"type": "archive_stale_items", "older_than_days": 30}
WEBHOOK = {"type": "webhook", "url": "https://1.1.1.1/hooks/inventory"}


def automation_body(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {"name": "nightly cleanup", "trigger": SCHEDULE, "action": ARCHIVE}
    body.update(overrides)
    return body


async def create(client: httpx.AsyncClient, user: UserHandle, **overrides: object) -> dict:
    response = await client.post(
        "/automations", json=automation_body(**overrides), headers=user.headers
    )
    assert response.status_code == 201, response.text
    return response.json()


async def test_create_returns_the_secret_once_and_reads_never_show_it(
    client: httpx.AsyncClient, alice: UserHandle
) -> None:
    created = await create(client, alice, action=WEBHOOK)
    assert len(created["secret"]) >= 32, created
    assert created["owner_id"] == alice.id
    assert created["enabled"] is True
    assert created["trigger"] == SCHEDULE and created["action"] == WEBHOOK
    assert created["next_run_at"] is not None

    one = await client.get(f"/automations/{created['id']}", headers=alice.headers)
    listed = await client.get("/automations", headers=alice.headers)
    assert one.status_code == 200 and listed.status_code == 200
    for text in (one.text, listed.text):
        assert "secret" not in text and created["secret"] not in text, text


async def test_item_event_automation_has_no_next_run(
    client: httpx.AsyncClient, alice: UserHandle
) -> None:
    trigger = {"type": "item_event", "event": "low_stock", "threshold": 5}
    created = await create(client, alice, trigger=trigger)
    assert created["trigger"] == trigger
    assert created["next_run_at"] is None


async def test_list_shows_only_own_automations_and_paginates(
    client: httpx.AsyncClient, alice: UserHandle, bob: UserHandle
) -> None:
    ids = [(await create(client, alice, name=f"a{i}"))["id"] for i in range(3)]
    await create(client, bob, name="bob's")
    page = await client.get("/automations", params={"limit": 2, "offset": 1}, headers=alice.headers)
    assert page.status_code == 200
    assert [a["id"] for a in page.json()["data"]] == ids[1:3]
    too_big = await client.get("/automations", params={"limit": 101}, headers=alice.headers)
    assert too_big.status_code == 422


async def test_other_users_automation_is_404_everywhere(
    client: httpx.AsyncClient, alice: UserHandle, bob: UserHandle
) -> None:
    automation_id = (await create(client, alice))["id"]
    path = f"/automations/{automation_id}"
    attempts = [
        await client.get(path, headers=bob.headers),
        await client.patch(path, json={"name": "mine now"}, headers=bob.headers),
        await client.delete(path, headers=bob.headers),
        await client.post(f"{path}/run", headers=bob.headers),
        await client.get(f"{path}/runs", headers=bob.headers),
    ]
    assert [r.status_code for r in attempts] == [404] * 5, [r.text for r in attempts]
    still_there = await client.get(path, headers=alice.headers)
    assert still_there.status_code == 200 and still_there.json()["name"] == "nightly cleanup"


async def test_missing_automation_is_404(client: httpx.AsyncClient, alice: UserHandle) -> None:
    response = await client.get("/automations/999999", headers=alice.headers)
    assert response.status_code == 404
    assert response.json() == {"detail": "Automation not found"}


async def test_anonymous_caller_is_401(client: httpx.AsyncClient) -> None:
    response = await client.post("/automations", json=automation_body())
    assert response.status_code == 401


async def test_patch_changes_only_the_fields_sent(
    client: httpx.AsyncClient, alice: UserHandle
) -> None:
    created = await create(client, alice)
    response = await client.patch(
        f"/automations/{created['id']}", json={"enabled": False}, headers=alice.headers
    )
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["enabled"] is False
    assert {k: updated[k] for k in ("name", "trigger", "action", "next_run_at")} == {
        k: created[k] for k in ("name", "trigger", "action", "next_run_at")
    }


async def test_patch_trigger_to_item_event_clears_the_schedule(
    client: httpx.AsyncClient, alice: UserHandle
) -> None:
    created = await create(client, alice)
    trigger = {"type": "item_event", "event": "created"}
    response = await client.patch(
        f"/automations/{created['id']}", json={"trigger": trigger}, headers=alice.headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["trigger"] == {**trigger, "threshold": None}
    assert response.json()["next_run_at"] is None


async def test_patch_with_null_is_422(client: httpx.AsyncClient, alice: UserHandle) -> None:
    created = await create(client, alice)
    response = await client.patch(
        f"/automations/{created['id']}", json={"name": None}, headers=alice.headers
    )
    assert response.status_code == 422


async def test_patch_to_an_unsafe_webhook_is_422_and_changes_nothing(
    client: httpx.AsyncClient, alice: UserHandle
) -> None:
    created = await create(client, alice, action=WEBHOOK)
    unsafe = {"type": "webhook", "url": "https://169.254.169.254/latest/meta-data/"}
    response = await client.patch(
        f"/automations/{created['id']}", json={"action": unsafe}, headers=alice.headers
    )
    assert response.status_code == 422, response.text
    current = await client.get(f"/automations/{created['id']}", headers=alice.headers)
    assert current.json()["action"] == WEBHOOK


async def test_delete_then_it_is_gone(client: httpx.AsyncClient, alice: UserHandle) -> None:
    created = await create(client, alice)
    deleted = await client.delete(f"/automations/{created['id']}", headers=alice.headers)
    assert deleted.status_code == 204
    gone = await client.get(f"/automations/{created['id']}", headers=alice.headers)
    assert gone.status_code == 404


async def test_invalid_triggers_and_actions_are_422(
    client: httpx.AsyncClient, alice: UserHandle
) -> None:
    invalid = [
        {"trigger": {"type": "schedule", "every_seconds": 59}},
        {"trigger": {"type": "cron", "expression": "* * * * *"}},
        {"trigger": {"type": "item_event", "event": "low_stock"}},
        {"trigger": {"type": "item_event", "event": "created", "threshold": 3}},
        {"trigger": {"type": "item_event", "event": "deleted"}},
        {"action": {"type": "archive_stale_items", "older_than_days": 0}},
        {"action": {"type": "shell", "command": "rm -rf /"}},
        {"action": {"type": "webhook"}},
        {"name": ""},
        {"secret": "chosen-by-caller"},
    ]
    statuses = []
    for overrides in invalid:
        response = await client.post(
            "/automations", json=automation_body(**overrides), headers=alice.headers
        )
        statuses.append((overrides, response.status_code))
    assert all(status == 422 for _, status in statuses), statuses


async def test_creating_automations_is_rate_limited(database_url: str, alice: UserHandle) -> None:
    application = create_app(make_settings(database_url, RATE_LIMIT_ENABLED=True))
    try:
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            statuses = [
                (await http.post("/automations", json=automation_body(), headers=alice.headers))
                for _ in range(11)
            ]
    finally:
        await close_app(application)
    assert [r.status_code for r in statuses] == [201] * 10 + [429], [r.text for r in statuses]
    assert "Retry-After" in statuses[-1].headers
