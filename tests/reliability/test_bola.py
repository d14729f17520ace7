"""Broken object-level authorization: every owner-scoped route, called by another user, is 404.

The routes come from the app's own OpenAPI schema: every operation with a path parameter is
owner-scoped, and each path parameter must have a factory below that creates Alice's resource.
A new route with a new parameter fails here until it is covered. Runs on SQLite and PostgreSQL.
"""

import re

import pytest

from service.main import create_app
from tests.reliability.summary import SUMMARY
from tests.support.settings import make_settings

# Valid bodies, so a 404 cannot be a validation error in disguise.
BODIES = {"patch": {"name": "renamed by bob"}, "put": {"name": "renamed by bob"}}
PARAMETER = re.compile(r"{(\w+)}")


def owner_scoped_operations() -> list[tuple[str, str]]:
    schema = create_app(make_settings("sqlite+aiosqlite:///:memory:")).openapi()
    return sorted(
        (method.upper(), path)
        for path, operations in schema["paths"].items()
        if PARAMETER.search(path)
        for method in operations
    )


OPERATIONS = owner_scoped_operations()


async def alices_resources(client, alice) -> dict[str, int]:  # type: ignore[no-untyped-def]
    item = await client.post(
        "/items", json={"name": "alice's", "price": "9.99", "quantity": 3}, headers=alice.headers
    )
    assert item.status_code == 201, item.text
    automation = await client.post(
        "/automations",
        json={
            "name": "alice's automation",
            "trigger": {"type": "schedule", "every_seconds": 3600},
            "action": {"type": "archive_stale_items", "older_than_days": 30},
        },
        headers=alice.headers,
    )
    assert automation.status_code == 201, automation.text
    automation_id = automation.json()["id"]
    run = await client.post(f"/automations/{automation_id}/run", headers=alice.headers)
    assert run.status_code == 201, run.text
    return {
        "item_id": item.json()["id"],
        "automation_id": automation_id,
        "run_id": run.json()["id"],
    }


def test_the_schema_has_owner_scoped_routes_for_items_and_automations():
    paths = {path for _, path in OPERATIONS}
    assert {"/items/{item_id}", "/automations/{automation_id}"} <= paths, paths


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
async def test_other_users_resource_is_404_on_every_owner_scoped_route(
    client, alice, bob, method, path
):
    ids = await alices_resources(client, alice)
    missing = set(PARAMETER.findall(path)) - ids.keys()
    assert not missing, f"no factory for {missing}: add one to alices_resources()"
    url = PARAMETER.sub(lambda match: str(ids[match.group(1)]), path)

    response = await client.request(
        method, url, json=BODIES.get(method.lower()), headers=bob.headers
    )
    SUMMARY.abuse_cases += 1

    assert response.status_code == 404, f"{method} {url} as bob: {response.status_code}"
    assert "alice" not in response.text.lower()
    # Nothing of Alice's changed.
    item = await client.get(f"/items/{ids['item_id']}", headers=alice.headers)
    automation = await client.get(f"/automations/{ids['automation_id']}", headers=alice.headers)
    runs = await client.get(f"/automations/{ids['automation_id']}/runs", headers=alice.headers)
    assert (item.status_code, item.json()["name"]) == (200, "alice's")
    assert (automation.status_code, automation.json()["name"]) == (200, "alice's automation")
    assert [run["id"] for run in runs.json()["data"]] == [ids["run_id"]]


async def test_other_users_resources_are_absent_from_every_listing(client, alice, bob):
    await alices_resources(client, alice)
    for path in ("/items", "/automations"):
        response = await client.get(path, headers=bob.headers)
        SUMMARY.abuse_cases += 1
        assert response.status_code == 200, response.text
        assert response.json()["data"] == [], f"bob sees alice's {path}"
