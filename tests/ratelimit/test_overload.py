"""A process over capacity is not a Redis outage: a check that finds no free Redis connection in
time is shed with a 503 (whatever RATE_LIMIT_FAIL_OPEN says) and the breaker stays closed, so a
flood never switches limiting off for everyone. And IPv6 clients are keyed by their /64."""

import pytest

from service import ratelimit
from service.ratelimit import storage
from tests.ratelimit.conftest import AppFactory
from tests.ratelimit.helpers import client_from, new_item, seed_user

pytestmark = pytest.mark.redis


async def test_no_free_connection_sheds_the_request_instead_of_admitting_it(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(storage, "CONNECTION_WAIT_SECONDS", 0.2)
    app = make_app(RATE_LIMIT_REDIS_MAX_CONNECTIONS=1, RATE_LIMIT_FAIL_OPEN=True)
    limiter = app.state.rate_limiter
    user = await seed_user(app.state.sessionmaker)
    held = limiter._window._idle.get_nowait()  # every connection busy: the process is saturated
    async with client_from(app) as client:
        for index in range(4):  # more than _BREAKER_THRESHOLD
            shed = await client.post("/items", json=new_item(index), headers=user.headers)
            assert shed.status_code == 503, shed.text  # not admitted unchecked (fail open)
            assert shed.json() == {"detail": "Server busy, retry shortly"}
            assert shed.headers["retry-after"] == "1"
        assert limiter._consecutive_failures == 0 and limiter._skip_storage_until == 0.0, (
            "a saturated process must not open the breaker (it would admit everyone)"
        )
        limiter._window._idle.put_nowait(held)
        checked = await client.post("/items", json=new_item(9), headers=user.headers)
    assert checked.status_code == 201
    assert checked.headers["ratelimit-limit"] == "1"


async def test_ipv6_clients_share_a_budget_per_slash_64(make_app: AppFactory) -> None:
    app = make_app(RATE_LIMIT_ITEMS_CREATE="1/minute")
    user = await seed_user(app.state.sessionmaker)
    codes = []
    for index, address in enumerate(("2001:db8:1:2::1", "2001:db8:1:2:ffff::9", "2001:db8:1:3::1")):
        async with client_from(app, address) as client:
            response = await client.post("/items", json=new_item(index), headers=user.headers)
            codes.append(response.status_code)
    assert codes == [201, 429, 201], "the same /64 is one client; the next /64 another"


def test_client_key_keeps_ipv4_and_groups_ipv6() -> None:
    assert ratelimit.client_key("198.51.100.7") == "198.51.100.7"
    assert ratelimit.client_key("2001:db8::abcd") == "2001:db8::/64"
    assert ratelimit.client_key("unknown") == "unknown"
