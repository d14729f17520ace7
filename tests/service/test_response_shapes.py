"""The same resource answers the same way whichever database and whichever route produced it."""

from datetime import datetime

from tests.service.test_items import create_item


def assert_aware(value: str) -> None:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    assert parsed.utcoffset() is not None, f"{value!r} has no time zone"


async def test_timestamps_carry_their_time_zone_on_every_route(client, alice):
    created = await create_item(client, alice)
    fetched = (await client.get(f"/items/{created['id']}", headers=alice.headers)).json()
    listed = (await client.get("/items", headers=alice.headers)).json()["data"][0]
    patched = (
        await client.patch(f"/items/{created['id']}", json={"name": "x"}, headers=alice.headers)
    ).json()
    for item in (created, fetched, listed, patched):
        assert_aware(item["created_at"])
        assert_aware(item["updated_at"])
    assert_aware((await client.get("/users/me", headers=alice.headers)).json()["created_at"])


async def test_price_has_two_places_from_writes_and_reads_alike(client, alice):
    created = await create_item(client, alice, price="1.5")
    assert created["price"] == "1.50"
    fetched = await client.get(f"/items/{created['id']}", headers=alice.headers)
    assert fetched.json()["price"] == "1.50"
    patched = await client.patch(
        f"/items/{created['id']}", json={"price": 3}, headers=alice.headers
    )
    assert patched.json()["price"] == "3.00"


async def test_a_login_sent_as_json_reports_each_missing_field_once(client):
    response = await client.post("/auth/token", json={"username": "a", "password": "b"})
    assert response.status_code == 422
    fields = [tuple(error["loc"]) for error in response.json()["detail"]]
    assert sorted(fields) == [("body", "password"), ("body", "username")], fields
