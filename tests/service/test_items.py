"""Items CRUD, validation, ownership and pagination, on both databases."""

import pytest

from service.users.models import User

VALID_ITEM = {"name": "Widget", "description": "A widget", "price": "9.99", "quantity": 5}


async def create_item(client, user, **overrides):
    response = await client.post("/items", json={**VALID_ITEM, **overrides}, headers=user.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def test_create_returns_item_with_price_as_string(client, alice):
    item = await create_item(client, alice)
    assert item["price"] == "9.99"
    assert item["owner_id"] == alice.id
    assert item["archived"] is False
    assert item["created_at"] and item["updated_at"]


async def test_price_keeps_two_decimal_places_exactly(client, alice):
    item = await create_item(client, alice, price="12345678.10")
    fetched = await client.get(f"/items/{item['id']}", headers=alice.headers)
    assert fetched.json()["price"] == "12345678.10"


async def test_numeric_price_is_accepted(client, alice):
    item = await create_item(client, alice, price=3)
    assert item["price"] in {"3", "3.00"}


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"description": "x" * 2001}, "description"),
        ({"price": "-0.01"}, "price"),
        ({"price": "1.234"}, "price"),
        ({"price": "12345678901.00"}, "price"),
        ({"price": "NaN"}, "price"),
        ({"price": "abc"}, "price"),
        ({"quantity": -1}, "quantity"),
        ({"quantity": 1.5}, "quantity"),
        ({"quantity": 2**31}, "quantity"),
        ({"owner_id": 42}, "owner_id"),
    ],
)
async def test_invalid_item_is_422_naming_the_field(client, alice, overrides, field):
    response = await client.post("/items", json={**VALID_ITEM, **overrides}, headers=alice.headers)
    assert response.status_code == 422, response.text
    locations = [error["loc"][-1] for error in response.json()["detail"]]
    assert field in locations, f"expected an error on {field}, got {locations}"


async def test_missing_required_fields_are_422(client, alice):
    response = await client.post("/items", json={}, headers=alice.headers)
    assert response.status_code == 422
    locations = {error["loc"][-1] for error in response.json()["detail"]}
    assert locations == {"name", "price"}


async def test_items_require_authentication(client):
    assert (await client.get("/items")).status_code == 401
    assert (await client.post("/items", json=VALID_ITEM)).status_code == 401


async def test_other_users_item_is_404(client, alice, bob):
    item = await create_item(client, alice)
    for method in ("GET", "PATCH", "DELETE"):
        kwargs = {"json": {"name": "stolen"}} if method == "PATCH" else {}
        response = await client.request(
            method, f"/items/{item['id']}", headers=bob.headers, **kwargs
        )
        assert response.status_code == 404, f"{method}: {response.status_code}"
        assert response.json() == {"detail": "Item not found"}


async def test_other_users_item_and_missing_item_look_the_same(client, alice, bob):
    item = await create_item(client, alice)
    theirs = await client.get(f"/items/{item['id']}", headers=bob.headers)
    missing = await client.get("/items/999999", headers=bob.headers)
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json() == missing.json()


async def test_list_shows_only_own_items(client, alice, bob):
    await create_item(client, alice, name="alice's")
    await create_item(client, bob, name="bob's")
    response = await client.get("/items", headers=bob.headers)
    assert [item["name"] for item in response.json()["data"]] == ["bob's"]


async def test_admin_can_read_any_item_but_not_modify_it(client, app, alice, bob):
    item = await create_item(client, alice)
    async with app.state.sessionmaker() as session:
        (await session.get(User, bob.id)).is_admin = True
        await session.commit()
    assert (await client.get(f"/items/{item['id']}", headers=bob.headers)).status_code == 200
    listed = await client.get("/items", headers=bob.headers)
    assert [found["id"] for found in listed.json()["data"]] == [item["id"]]
    patched = await client.patch(f"/items/{item['id']}", json={"name": "x"}, headers=bob.headers)
    assert patched.status_code == 404


async def test_pagination_defaults_and_bounds(client, alice):
    for index in range(25):
        await create_item(client, alice, name=f"item {index:02}")
    first = await client.get("/items", headers=alice.headers)
    assert first.json()["limit"] == 20 and len(first.json()["data"]) == 20
    rest = await client.get("/items", params={"offset": 20}, headers=alice.headers)
    assert [item["name"] for item in rest.json()["data"]] == [f"item {i}" for i in range(20, 25)]
    full = await client.get("/items", params={"limit": 100}, headers=alice.headers)
    assert len(full.json()["data"]) == 25


@pytest.mark.parametrize(
    "params", [{"limit": 0}, {"limit": 101}, {"offset": -1}, {"limit": "x"}, {"q": ""}]
)
async def test_pagination_out_of_bounds_is_422(client, alice, params):
    response = await client.get("/items", params=params, headers=alice.headers)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"][-1] == next(iter(params))


async def test_q_filters_by_name_case_insensitively_and_literally(client, alice):
    await create_item(client, alice, name="Blue Widget")
    await create_item(client, alice, name="Red Gadget")
    await create_item(client, alice, name="100% cotton")
    widgets = await client.get("/items", params={"q": "widget"}, headers=alice.headers)
    assert [item["name"] for item in widgets.json()["data"]] == ["Blue Widget"]
    percent = await client.get("/items", params={"q": "0%"}, headers=alice.headers)
    assert [item["name"] for item in percent.json()["data"]] == ["100% cotton"]
    wildcard = await client.get("/items", params={"q": "%"}, headers=alice.headers)
    assert [item["name"] for item in wildcard.json()["data"]] == ["100% cotton"]


async def test_patch_changes_only_sent_fields(client, alice):
    item = await create_item(client, alice)
    response = await client.patch(
        f"/items/{item['id']}", json={"quantity": 1, "archived": True}, headers=alice.headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["quantity"], body["archived"], body["name"]) == (1, True, "Widget")


async def test_patch_can_clear_description(client, alice):
    item = await create_item(client, alice)
    response = await client.patch(
        f"/items/{item['id']}", json={"description": None}, headers=alice.headers
    )
    assert response.json()["description"] is None


@pytest.mark.parametrize("field", ["name", "price", "quantity", "archived"])
async def test_patch_null_on_required_field_is_422(client, alice, field):
    item = await create_item(client, alice)
    response = await client.patch(f"/items/{item['id']}", json={field: None}, headers=alice.headers)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"][-1] == field


async def test_delete_removes_item(client, alice):
    item = await create_item(client, alice)
    deleted = await client.delete(f"/items/{item['id']}", headers=alice.headers)
    assert deleted.status_code == 204
    assert (await client.get(f"/items/{item['id']}", headers=alice.headers)).status_code == 404


async def test_non_integer_item_id_is_422(client, alice):
    response = await client.get("/items/abc", headers=alice.headers)
    assert response.status_code == 422
