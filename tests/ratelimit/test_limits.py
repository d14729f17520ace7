"""The limiter in one process on the shared Redis: exactness under concurrency, keys, headers,
client addresses, recovery, the memory backend."""

import asyncio

import pytest
from limits import parse
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from pydantic import ValidationError

from service.ratelimit import limit
from tests.ratelimit.conftest import AppFactory
from tests.ratelimit.helpers import (
    CLIENT_IP,
    SHARED_REDIS_URL,
    client_from,
    concurrently,
    most_admitted,
    new_item,
    redis_keys,
    seed_user,
    statuses,
)
from tests.support.settings import make_settings

pytestmark = pytest.mark.redis


def limited_identities(keys: list[str]) -> set[str]:
    """The client part of `<prefix>:LIMITER/<name>/<route template>/<identity>/<n>/<m>/<unit>`."""
    return {key.split("/")[-4] for key in keys}


async def test_50_concurrent_item_creations_admit_one_per_second(make_app: AppFactory) -> None:
    app = make_app()  # the default: RATE_LIMIT_ITEMS_CREATE=1/second
    user = await seed_user(app.state.sessionmaker)
    async with client_from(app) as client:
        responses, seconds = await concurrently(
            50, lambda i: client.post("/items", json=new_item(i), headers=user.headers)
        )
    counts = statuses(responses)
    assert set(counts) <= {201, 429}, counts
    # Exactly 1 when the burst fits in one second (it does unless the machine is very busy).
    assert 1 <= counts.get(201, 0) <= most_admitted(1, 1.0, seconds), (counts, seconds)
    refused = next(response for response in responses if response.status_code == 429)
    assert refused.json() == {"detail": "Rate limit exceeded: 1 per 1 second"}
    assert refused.headers["Retry-After"] == "1"
    assert refused.headers["RateLimit-Limit"] == "1"
    assert refused.headers["RateLimit-Remaining"] == "0"


async def test_burst_inside_one_window_admits_exactly_the_limit(make_app: AppFactory) -> None:
    app = make_app(RATE_LIMIT_ITEMS_CREATE="5/minute")  # a window no burst outlasts
    user = await seed_user(app.state.sessionmaker)
    async with client_from(app) as client:
        responses, _ = await concurrently(
            50, lambda i: client.post("/items", json=new_item(i), headers=user.headers)
        )
    assert statuses(responses) == {201: 5, 429: 45}


async def test_20_concurrent_logins_admit_exactly_5(make_app: AppFactory) -> None:
    app = make_app()  # RATE_LIMIT_AUTH_TOKEN=5/minute
    user = await seed_user(app.state.sessionmaker)
    form = {"username": user.email, "password": user.password}
    async with client_from(app) as client:
        responses, _ = await concurrently(20, lambda _: client.post("/auth/token", data=form))
    assert statuses(responses) == {200: 5, 429: 15}
    refused = next(response for response in responses if response.status_code == 429)
    assert refused.json() == {"detail": "Rate limit exceeded: 5 per 1 minute"}


async def test_logins_for_one_username_are_limited_across_addresses(make_app: AppFactory) -> None:
    app = make_app(RATE_LIMIT_AUTH_TOKEN_USERNAME="3/hour")
    user = await seed_user(app.state.sessionmaker)
    results = []
    # A fresh address per attempt (each has its whole per-IP budget); the username varies in case.
    for index, username in enumerate([user.email, user.email, user.email.upper(), user.email]):
        async with client_from(app, f"198.51.100.{index + 1}") as client:
            response = await client.post(
                "/auth/token", data={"username": username, "password": "wrong password"}
            )
        results.append(response.status_code)
    assert results == [401, 401, 401, 429]
    assert response.json() == {"detail": "Rate limit exceeded: 3 per 1 hour"}
    async with client_from(app, "198.51.100.99") as client:
        other = await client.post(
            "/auth/token", data={"username": "x@example.com", "password": "y"}
        )
    assert other.status_code == 401, "another username has its own budget"


async def test_login_headers_describe_the_tighter_of_its_two_limits(make_app: AppFactory) -> None:
    app = make_app()  # 5/minute per address, 20/hour per username
    user = await seed_user(app.state.sessionmaker)
    async with client_from(app) as client:
        response = await client.post(
            "/auth/token", data={"username": user.email, "password": user.password}
        )
    assert response.status_code == 200
    assert (response.headers["RateLimit-Limit"], response.headers["RateLimit-Remaining"]) == (
        "5",
        "4",
    )


async def test_different_client_addresses_have_independent_budgets(make_app: AppFactory) -> None:
    app = make_app(RATE_LIMIT_ITEMS_CREATE="2/minute")
    user = await seed_user(app.state.sessionmaker)
    first, second = [], []
    async with client_from(app, "198.51.100.1") as client:
        for index in range(3):
            response = await client.post("/items", json=new_item(index), headers=user.headers)
            first.append(response.status_code)
    async with client_from(app, "198.51.100.2") as client:
        response = await client.post("/items", json=new_item(9), headers=user.headers)
        second.append(response.status_code)
    assert (first, second) == ([201, 201, 429], [201])


async def test_spoofed_forwarded_for_from_untrusted_peer_is_ignored(
    make_app: AppFactory, key_prefix: str
) -> None:
    app = make_app(RATE_LIMIT_ITEMS_CREATE="2/minute")  # FORWARDED_ALLOW_IPS=127.0.0.1
    user = await seed_user(app.state.sessionmaker)
    codes = []
    async with client_from(app, CLIENT_IP) as client:
        for index in range(4):
            headers = {**user.headers, "X-Forwarded-For": f"192.0.2.{index + 1}"}
            response = await client.post("/items", json=new_item(index), headers=headers)
            codes.append(response.status_code)
    assert codes == [201, 201, 429, 429], "a fresh X-Forwarded-For must not buy a fresh budget"
    assert limited_identities(await redis_keys(key_prefix)) == {CLIENT_IP}


async def test_forwarded_for_from_trusted_proxy_is_honoured(
    make_app: AppFactory, key_prefix: str
) -> None:
    app = make_app(RATE_LIMIT_ITEMS_CREATE="2/minute", FORWARDED_ALLOW_IPS="10.0.0.0/8")
    user = await seed_user(app.state.sessionmaker)

    async def via_proxy(forwarded_for: str, index: int) -> int:
        headers = {**user.headers, "X-Forwarded-For": forwarded_for}
        response = await proxy.post("/items", json=new_item(index), headers=headers)
        return response.status_code

    async with client_from(app, "10.0.3.7") as proxy:  # the load balancer, inside the VPC
        alice = [await via_proxy("198.51.100.1", index) for index in range(3)]
        bob = await via_proxy("198.51.100.2", 3)
        # The proxy appends the address it saw; what the client sent (leftmost) changes nothing.
        alice_spoofing = await via_proxy("192.0.2.55, 198.51.100.1", 4)
    assert alice == [201, 201, 429]
    assert bob == 201
    assert alice_spoofing == 429
    assert limited_identities(await redis_keys(key_prefix)) == {"198.51.100.1", "198.51.100.2"}


async def test_window_recovers_after_retry_after(make_app: AppFactory) -> None:
    app = make_app()  # 1/second
    user = await seed_user(app.state.sessionmaker)
    async with client_from(app) as client:
        refused = None
        for index in range(10):  # on a slow machine a request may land in the next window
            response = await client.post("/items", json=new_item(index), headers=user.headers)
            if response.status_code == 429:
                refused = response
                break
        assert refused is not None, "ten immediate requests never hit a 1/second limit"
        retry_after = int(refused.headers["Retry-After"])
        assert retry_after >= 1
        await asyncio.sleep(retry_after)
        again = await client.post("/items", json=new_item(99), headers=user.headers)
    assert again.status_code == 201, again.text


async def test_headers_count_down_and_reset_matches_retry_after(make_app: AppFactory) -> None:
    app = make_app(RATE_LIMIT_ITEMS_CREATE="3/minute")
    user = await seed_user(app.state.sessionmaker)
    async with client_from(app) as client:
        responses = [
            await client.post("/items", json=new_item(index), headers=user.headers)
            for index in range(4)
        ]
    assert [response.status_code for response in responses] == [201, 201, 201, 429]
    assert [response.headers["RateLimit-Limit"] for response in responses] == ["3"] * 4
    assert [response.headers["RateLimit-Remaining"] for response in responses] == [
        "2",
        "1",
        "0",
        "0",
    ]
    resets = [int(response.headers["RateLimit-Reset"]) for response in responses]
    assert all(1 <= reset <= 60 for reset in resets), resets
    assert responses[3].headers["Retry-After"] == responses[3].headers["RateLimit-Reset"]
    assert "Retry-After" not in responses[0].headers


async def test_headers_are_present_on_errors_raised_after_the_check(make_app: AppFactory) -> None:
    app = make_app()
    user = await seed_user(app.state.sessionmaker)
    async with client_from(app) as client:
        not_found = await client.get("/items/987654", headers=user.headers)
        unauthenticated = await client.get("/items")
        invalid = await client.post("/items", json={"name": ""}, headers=user.headers)
    for response, status in [(not_found, 404), (unauthenticated, 401), (invalid, 422)]:
        assert response.status_code == status, response.text
        assert {"ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"} <= set(
            response.headers
        ), (status, dict(response.headers))


async def test_health_and_ready_are_never_limited(make_app: AppFactory, key_prefix: str) -> None:
    app = make_app(RATE_LIMIT_ITEMS_READ="1/minute", RATE_LIMIT_USERS_READ="1/minute")
    async with client_from(app) as client:
        responses = [await client.get(path) for path in ["/health", "/ready"] * 15]
    assert statuses(responses) == {200: 30}
    assert not any("ratelimit-limit" in response.headers for response in responses)
    assert await redis_keys(key_prefix) == []


async def test_redis_backend_adds_a_readiness_check(make_app: AppFactory) -> None:
    app = make_app()
    async with client_from(app) as client:
        response = await client.get("/ready")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "redis": "ok"}


async def test_memory_backend_limits_without_redis(make_app: AppFactory) -> None:
    app = make_app(REDIS_URL=None, RATE_LIMIT_ITEMS_CREATE="2/minute")
    assert not app.state.rate_limiter.uses_redis
    user = await seed_user(app.state.sessionmaker)
    async with client_from(app) as client:
        responses = [
            await client.post("/items", json=new_item(index), headers=user.headers)
            for index in range(3)
        ]
        ready = await client.get("/ready")
    assert [response.status_code for response in responses] == [201, 201, 429]
    assert [response.headers["RateLimit-Remaining"] for response in responses] == ["1", "0", "0"]
    assert responses[2].json() == {"detail": "Rate limit exceeded: 2 per 1 minute"}
    assert 1 <= int(responses[2].headers["Retry-After"]) <= 60
    assert ready.json()["checks"] == {"database": "ok"}


async def test_memory_backend_burst_admits_exactly_the_limit(make_app: AppFactory) -> None:
    app = make_app(REDIS_URL=None)
    user = await seed_user(app.state.sessionmaker)
    form = {"username": user.email, "password": user.password}
    async with client_from(app) as client:
        responses, _ = await concurrently(20, lambda _: client.post("/auth/token", data=form))
    assert statuses(responses) == {200: 5, 429: 15}


async def test_redis_keys_use_the_limits_library_layout(
    make_app: AppFactory, key_prefix: str
) -> None:
    """limits' own RedisStorage reads and clears what our one-round-trip script writes."""
    app = make_app(RATE_LIMIT_ITEMS_CREATE="3/minute")
    user = await seed_user(app.state.sessionmaker)
    async with client_from(app) as client:
        for index in range(2):
            await client.post("/items", json=new_item(index), headers=user.headers)
        assert await redis_keys(key_prefix) == [
            f"{key_prefix}:LIMITER/items:create//items/{CLIENT_IP}/3/1/minute"
        ]
        storage = RedisStorage(
            "async+" + SHARED_REDIS_URL, implementation="redispy", key_prefix=key_prefix
        )
        library = MovingWindowRateLimiter(storage)
        identifiers = ("items:create", "/items", CLIENT_IP)
        stats = await library.get_window_stats(parse("3/minute"), *identifiers)
        assert stats.remaining == 1
        await library.clear(parse("3/minute"), *identifiers)
        after_clear = await client.post("/items", json=new_item(3), headers=user.headers)
    assert after_clear.headers["RateLimit-Remaining"] == "2"


async def test_disabled_limiter_counts_nothing(make_app: AppFactory, key_prefix: str) -> None:
    app = make_app(RATE_LIMIT_ENABLED=False)
    user = await seed_user(app.state.sessionmaker)
    async with client_from(app) as client:
        responses = [
            await client.post("/items", json=new_item(index), headers=user.headers)
            for index in range(3)
        ]
    assert statuses(responses) == {201: 3}
    assert "ratelimit-limit" not in responses[0].headers
    assert await redis_keys(key_prefix) == []


def test_unknown_limit_name_fails_when_the_route_is_declared() -> None:
    with pytest.raises(ValueError, match="rate_limit_items_crate"):
        limit("items:crate")


def test_invalid_limit_setting_is_refused_naming_the_variable(ratelimit_db_url: str) -> None:
    with pytest.raises(ValidationError, match="rate_limit_items_create"):
        make_settings(ratelimit_db_url, RATE_LIMIT_ITEMS_CREATE="lots")
