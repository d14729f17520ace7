"""The webhook SSRF policy: a table of refused URLs (checked directly and through the API), the
loopback escape hatch, and DNS rebinding between creation and send time.

No test resolves a public name (the test machine has no external DNS): URLs use literal addresses,
`localhost`, or a resolver swapped in with monkeypatch.
"""

import ipaddress

import httpx
import pytest

from service.automations import ssrf
from service.config import ConfigError, Settings
from tests.automations.receiver import Receiver
from tests.support.users import UserHandle

# (url, words expected in the reason). Every one must be refused with ENVIRONMENT=local.
REFUSED = [
    ("http://127.0.0.1/hook", "loopback"),
    ("https://127.0.0.1:8443/hook", "loopback"),
    ("http://localhost/hook", "loopback"),
    ("http://LOCALHOST./hook", "loopback"),
    ("http://[::1]/hook", "loopback"),
    ("http://2130706433/hook", "numeric host"),
    ("http://0x7f000001/hook", "numeric host"),
    ("http://017700000001/hook", "numeric host"),
    ("http://127.1/hook", "numeric host"),
    ("http://0x7f.0.0.1/hook", "numeric host"),
    ("http://0/hook", "numeric host"),
    ("http://0.0.0.0/hook", "unspecified"),
    ("http://[::]/hook", "unspecified"),
    ("http://10.0.0.5/hook", "private"),
    ("http://172.16.3.4/hook", "private"),
    ("http://192.168.1.1/hook", "private"),
    ("http://100.64.0.1/hook", "shared address space"),
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://169.254.170.2/v2/credentials", "link-local"),
    ("http://[::ffff:127.0.0.1]/hook", "IPv4-mapped"),
    ("http://[::ffff:169.254.169.254]/hook", "IPv4-mapped"),
    ("http://[fd00::1]/hook", "unique-local"),
    ("http://[fe80::1]/hook", "link-local IPv6"),
    ("http://224.0.0.1/hook", "multicast"),
    ("http://[ff02::1]/hook", "multicast"),
    ("http://240.0.0.1/hook", "reserved"),
    ("http://255.255.255.255/hook", "reserved"),
    ("http://[64:ff9b::7f00:1]/hook", "NAT64"),
    ("http://[2002:7f00:1::1]/hook", "6to4"),
    ("http://[2002:a00:1::1]/hook", "6to4"),
    ("http://[64:ff9b:1::a00:1]/hook", "NAT64"),
    # SIIT (RFC 7915) IPv4-translated: 127.0.0.1 and the metadata address, global to Python 3.11.
    ("http://[::ffff:0:7f00:1]/hook", "IPv4-translated"),
    ("http://[::ffff:0:a9fe:a9fe]/hook", "IPv4-translated"),
    ("http://[5f00::1]/hook", "SRv6"),
    ("http://[3fff::1]/hook", "documentation"),
    ("http://[2001:db8::1]/hook", "documentation"),
    ("http://[4000::1]/hook", "reserved"),
    ("http://198.18.0.1/hook", "benchmarking"),
    ("ftp://1.1.1.1/hook", "scheme"),
    ("file:///etc/passwd", "scheme"),
    ("gopher://1.1.1.1:70/_hook", "scheme"),
    ("http://user:pw@1.1.1.1/hook", "credentials"),
    ("not a url at all", "scheme"),
    ("https://xn--/hook", "not a valid URL"),
    ("https://1.1.1.1:99999/hook", "port"),
]


@pytest.mark.parametrize(("url", "reason"), REFUSED, ids=[url for url, _ in REFUSED])
async def test_unsafe_url_is_refused_with_its_reason(url: str, reason: str) -> None:
    with pytest.raises(ssrf.UnsafeURLError) as refused:
        await ssrf.check_url(url, environment="local")
    assert reason.lower() in str(refused.value).lower(), str(refused.value)


async def test_every_unsafe_url_is_422_at_creation_naming_the_reason(
    client: httpx.AsyncClient, alice: UserHandle
) -> None:
    accepted = []
    for url, reason in REFUSED:
        body = {
            "name": "exfiltrate",
            "trigger": {"type": "schedule", "every_seconds": 60},
            "action": {"type": "webhook", "url": url},
        }
        response = await client.post("/automations", json=body, headers=alice.headers)
        error = response.json()["detail"][0] if response.status_code == 422 else {}
        if (
            response.status_code != 422
            or error.get("loc") != ["body", "action", "url"]
            or reason.lower() not in error.get("msg", "").lower()
        ):
            accepted.append((url, response.status_code, response.text))
    assert accepted == [], accepted
    listed = await client.get("/automations", headers=alice.headers)
    assert listed.json()["data"] == []


async def test_public_https_address_is_accepted() -> None:
    checked = await ssrf.check_url("https://1.1.1.1/hooks", environment="prod")
    assert checked.addresses == (ipaddress.ip_address("1.1.1.1"),)
    assert checked.host_header() == "1.1.1.1"


async def test_http_is_refused_outside_local() -> None:
    with pytest.raises(ssrf.UnsafeURLError, match="https"):
        await ssrf.check_url("http://1.1.1.1/hooks", environment="prod")


async def test_name_is_refused_if_any_of_its_addresses_is_blocked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def resolve(host: str, port: int) -> list[ssrf.IPAddress]:
        return [ipaddress.ip_address("1.1.1.1"), ipaddress.ip_address("10.1.2.3")]

    monkeypatch.setattr(ssrf, "resolve", resolve)
    with pytest.raises(ssrf.UnsafeURLError, match="private address"):
        await ssrf.check_url("https://hooks.example.test/x", environment="prod")


async def test_unresolvable_name_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    async def resolve(host: str, port: int) -> list[ssrf.IPAddress]:
        raise OSError("Name or service not known")

    monkeypatch.setattr(ssrf, "resolve", resolve)
    with pytest.raises(ssrf.UnsafeURLError, match="does not resolve"):
        await ssrf.check_url("https://nowhere.example.test/x", environment="prod")


async def test_a_local_loopback_refusal_names_the_setting_that_allows_it() -> None:
    with pytest.raises(ssrf.UnsafeURLError, match="WEBHOOK_ALLOW_LOOPBACK=true"):
        await ssrf.check_url("http://127.0.0.1:9/hook", environment="local")
    with pytest.raises(ssrf.UnsafeURLError) as outside_local:
        await ssrf.check_url("https://127.0.0.1:9/hook", environment="prod")
    assert "WEBHOOK_ALLOW_LOOPBACK" not in str(outside_local.value)  # not settable there


async def test_loopback_escape_hatch_allows_only_loopback() -> None:
    allowed = await ssrf.check_url(
        "http://127.0.0.1:9/hook", environment="local", allow_loopback=True
    )
    assert allowed.port == 9
    for url in (
        "http://10.0.0.1/",
        "http://169.254.169.254/",
        "http://[::ffff:127.0.0.1]/",
        "http://2130706433/",
    ):
        with pytest.raises(ssrf.UnsafeURLError):
            await ssrf.check_url(url, environment="local", allow_loopback=True)


def test_loopback_escape_hatch_is_refused_outside_local() -> None:
    with pytest.raises(ConfigError, match="WEBHOOK_ALLOW_LOOPBACK"):
        Settings(
            environment="prod",
            jwt_secret="a-real-secret-of-at-least-32-characters!",  # type: ignore[arg-type]
            webhook_allow_loopback=True,
        )


async def test_send_time_recheck_refuses_a_name_that_rebinds_to_loopback(
    loopback_client: httpx.AsyncClient,
    alice: UserHandle,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answers = iter([["1.1.1.1"], ["10.0.0.7"]])

    async def rebinding_resolve(host: str, port: int) -> list[ssrf.IPAddress]:
        return [ipaddress.ip_address(a) for a in next(answers)]

    monkeypatch.setattr(ssrf, "resolve", rebinding_resolve)
    created = await loopback_client.post(
        "/automations",
        json={
            "name": "rebind",
            "trigger": {"type": "schedule", "every_seconds": 60},
            "action": {"type": "webhook", "url": f"http://rebind.example.test:{receiver.port}/"},
        },
        headers=alice.headers,
    )
    assert created.status_code == 201, created.text
    run = await loopback_client.post(
        f"/automations/{created.json()['id']}/run", headers=alice.headers
    )
    assert run.status_code == 201, run.text
    # Nothing was sent; retried later (DNS may move back, or the policy be fixed), not consumed.
    assert run.json()["status"] == "pending"
    assert run.json()["attempts"] == 1
    assert "refused at send time" in run.json()["detail"] and "private" in run.json()["detail"]
    assert receiver.requests == []


async def test_delivery_connects_to_the_checked_address_with_the_original_host_header(
    loopback_client: httpx.AsyncClient,
    alice: UserHandle,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    resolved: list[str] = []

    async def resolve(host: str, port: int) -> list[ssrf.IPAddress]:
        resolved.append(host)
        return [ipaddress.ip_address("127.0.0.1")]

    monkeypatch.setattr(ssrf, "resolve", resolve)
    url = f"http://hooks.example.test:{receiver.port}/in?x=1"
    created = await loopback_client.post(
        "/automations",
        json={
            "name": "by name",
            "trigger": {"type": "schedule", "every_seconds": 60},
            "action": {"type": "webhook", "url": url},
        },
        headers=alice.headers,
    )
    assert created.status_code == 201, created.text
    run = await loopback_client.post(
        f"/automations/{created.json()['id']}/run", headers=alice.headers
    )
    assert run.json()["status"] == "success", run.json()
    assert resolved == ["hooks.example.test", "hooks.example.test"]  # creation, then send time
    [request] = receiver.requests
    assert request.headers["host"] == f"hooks.example.test:{receiver.port}"
    assert request.path == "/in?x=1"
