"""The hot read paths (GET /items/{id}, GET /items): one statement that also checks the token's
user, on both databases; one round trip on PostgreSQL (an admin's list takes two); a cached token
that still expires."""

import asyncio
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import event, text
from sqlalchemy.pool import Pool

from service import security
from service.main import close_app, create_app
from service.migrate import migrate
from service.users.models import User
from tests.service.test_items import create_item
from tests.support.databases import truncate_all
from tests.support.loops import run_in_fresh_loop
from tests.support.settings import make_settings
from tests.support.users import register_and_login


async def set_user(app, user_id: int, **values: object) -> None:  # type: ignore[no-untyped-def]
    async with app.state.sessionmaker() as session:
        user = await session.get(User, user_id)
        for name, value in values.items():
            setattr(user, name, value)
        await session.commit()


@pytest.mark.parametrize("path", ["/items/{id}", "/items", "/users/me"])
async def test_a_deactivated_users_token_is_refused_on_every_read(client, app, alice, path):
    item = await create_item(client, alice)
    url = path.format(id=item["id"])
    assert (await client.get(url, headers=alice.headers)).status_code == 200
    await set_user(app, alice.id, is_active=False)
    response = await client.get(url, headers=alice.headers)
    assert response.status_code == 401, response.text
    assert response.json() == {"detail": "Could not validate credentials"}
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("path", ["/items/1", "/items"])
async def test_a_deleted_users_token_is_refused(client, app, alice, path):
    async with app.state.engine.begin() as connection:
        await connection.execute(text("DELETE FROM users WHERE id = :id"), {"id": alice.id})
    assert (await client.get(path, headers=alice.headers)).status_code == 401


async def test_missing_item_and_other_users_item_answer_the_same_404(client, alice, bob):
    item = await create_item(client, alice)
    missing = await client.get("/items/999999", headers=bob.headers)
    others = await client.get(f"/items/{item['id']}", headers=bob.headers)
    assert missing.status_code == others.status_code == 404
    assert missing.json() == others.json() == {"detail": "Item not found"}


async def test_an_admin_lists_and_filters_everyones_items(client, app, alice, bob):
    await create_item(client, alice, name="alice red")
    await create_item(client, bob, name="bob red")
    await create_item(client, bob, name="bob blue")
    await set_user(app, bob.id, is_admin=True)
    everything = await client.get("/items", headers=bob.headers)
    assert [item["name"] for item in everything.json()["data"]] == [
        "alice red",
        "bob red",
        "bob blue",
    ]
    red = await client.get("/items", params={"q": "RED"}, headers=bob.headers)
    assert [item["name"] for item in red.json()["data"]] == ["alice red", "bob red"]
    mine = await client.get("/items", params={"q": "red"}, headers=alice.headers)
    assert [item["name"] for item in mine.json()["data"]] == ["alice red"]


async def test_read_and_list_return_the_same_representation(client, alice):
    created = await create_item(client, alice, price="2.50", description=None)
    fetched = (await client.get(f"/items/{created['id']}", headers=alice.headers)).json()
    listed = (await client.get("/items", headers=alice.headers)).json()["data"]
    assert listed == [fetched]
    assert fetched["price"] == "2.50" and fetched["description"] is None


def test_a_verified_token_still_expires_on_time(monkeypatch):
    token = security.create_access_token(
        "7", secret="s" * 32, algorithm="HS256", expires_in=timedelta(minutes=5)
    )
    assert security.decode_access_token(token, secret="s" * 32, algorithm="HS256") == "7"
    later = security.time.time() + 301
    monkeypatch.setattr(security.time, "time", lambda: later)
    with pytest.raises(security.InvalidTokenError, match="expired"):
        security.decode_access_token(token, secret="s" * 32, algorithm="HS256")


def test_a_token_is_verified_against_the_secret_it_is_used_with():
    token = security.create_access_token(
        "7", secret="a" * 32, algorithm="HS256", expires_in=timedelta(minutes=5)
    )
    assert security.decode_access_token(token, secret="a" * 32, algorithm="HS256") == "7"
    with pytest.raises(security.InvalidTokenError):
        security.decode_access_token(token, secret="b" * 32, algorithm="HS256")


@pytest.fixture
async def postgres_app(postgres_url):  # type: ignore[no-untyped-def]
    """The app on PostgreSQL only (the round-trip tests have no SQLite counterpart)."""
    await asyncio.to_thread(run_in_fresh_loop, lambda: migrate(make_settings(postgres_url)))
    application = create_app(make_settings(postgres_url))
    yield application
    await truncate_all(application)
    await close_app(application)


@pytest.fixture
async def postgres_client(postgres_app):  # type: ignore[no-untyped-def]
    transport = httpx.ASGITransport(app=postgres_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.fixture
def statements(postgres_app):  # type: ignore[no-untyped-def]
    """Every statement the app sends to PostgreSQL while the test runs, pings and transaction
    control included: asyncpg's query logger on each connection opened meanwhile, by any pool
    (the ORM's and the reader's; the app is new, so it opens them all after this starts)."""
    sent: list[str] = []

    def log(record) -> None:  # type: ignore[no-untyped-def]
        sent.append(record.query)

    def on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_connection.driver_connection.add_query_logger(log)

    event.listen(Pool, "connect", on_connect)
    yield sent
    event.remove(Pool, "connect", on_connect)


async def test_reading_an_item_is_one_statement_on_postgresql(postgres_client, statements):
    user = await register_and_login(postgres_client, "reader@example.com")
    item = await create_item(postgres_client, user)
    statements.clear()
    response = await postgres_client.get(f"/items/{item['id']}", headers=user.headers)
    assert response.status_code == 200
    await asyncio.sleep(0.05)  # asyncpg calls query loggers soon after, not during, the query
    assert len(statements) == 1, statements
    assert statements[0].lstrip().upper().startswith("SELECT")


async def test_listing_own_items_is_one_statement_on_postgresql(postgres_client, statements):
    user = await register_and_login(postgres_client, "lister@example.com")
    await create_item(postgres_client, user)
    statements.clear()
    assert (await postgres_client.get("/items", headers=user.headers)).status_code == 200
    await asyncio.sleep(0.05)
    assert len(statements) == 1, statements
    assert statements[0].lstrip().upper().startswith("SELECT")


async def test_an_empty_page_is_an_empty_list_not_a_refusal(client, app, alice, bob):
    await create_item(client, bob)
    nothing = await client.get("/items", headers=alice.headers)
    assert nothing.status_code == 200 and nothing.json()["data"] == []
    past_the_end = await client.get("/items", params={"offset": 5}, headers=bob.headers)
    assert past_the_end.status_code == 200 and past_the_end.json()["data"] == []
    await set_user(app, alice.id, is_admin=True)  # an admin with no items of their own
    everyone = await client.get("/items", headers=alice.headers)
    assert [item["owner_id"] for item in everyone.json()["data"]] == [bob.id]
