"""The address a limit is keyed on: X-Forwarded-For only from FORWARDED_ALLOW_IPS, and the same
answer whether or not uvicorn (`--proxy-headers`, on by default) applied its own pass first."""

import httpx
import pytest
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from tests.ratelimit.conftest import AppFactory
from tests.ratelimit.helpers import redis_keys

pytestmark = pytest.mark.redis

TRUSTED = "10.0.0.0/8"  # the VPC: only the load balancer connects from there
# (peer address, X-Forwarded-For, the client the limit must be keyed on)
CASES = [
    ("10.0.0.2", "198.51.100.1", "198.51.100.1"),  # through the ALB
    ("10.0.0.2", "192.0.2.66, 198.51.100.2", "198.51.100.2"),  # leftmost is the client's own
    ("10.0.0.2", "198.51.100.3, 10.0.0.9", "198.51.100.3"),  # two trusted hops
    ("10.0.0.2", "10.0.0.7", "10.0.0.7"),  # a caller inside the VPC
    ("203.0.113.50", "198.51.100.4", "203.0.113.50"),  # not from a proxy: header ignored
]


async def keyed_clients(app, key_prefix: str, *, under_uvicorn: bool) -> list[str]:  # type: ignore[no-untyped-def]
    asgi = ProxyHeadersMiddleware(app, trusted_hosts=TRUSTED) if under_uvicorn else app
    seen = []
    for peer, forwarded_for, _ in CASES:
        before = set(await redis_keys(key_prefix))
        transport = httpx.ASGITransport(app=asgi, client=(peer, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            await client.get("/items", headers={"X-Forwarded-For": forwarded_for})
        (new_key,) = set(await redis_keys(key_prefix)) - before
        seen.append(new_key.split("/")[-4])
    return seen


@pytest.mark.parametrize("under_uvicorn", [False, True], ids=["app-alone", "uvicorn-and-app"])
async def test_limit_is_keyed_on_the_client_the_trusted_proxy_saw(
    make_app: AppFactory, key_prefix: str, under_uvicorn: bool
) -> None:
    app = make_app(FORWARDED_ALLOW_IPS=TRUSTED)
    seen = await keyed_clients(app, key_prefix, under_uvicorn=under_uvicorn)
    assert seen == [expected for _, _, expected in CASES]
