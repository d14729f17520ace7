"""Issue 23, finding 4: anyone could lock any user's password login out.

Before the fix every login attempt counted against a budget per username (20 an hour), whatever
the address: twenty wrong passwords for an email from anywhere (any case, surrounding spaces, or a
Unicode variant such as the Kelvin sign for "k") and that user, admins included, could not log in
for an hour. Now a successful login sets a signed device cookie; a client presenting it for the
same username is counted per device instead (service/users/login_guard.py), so the attacker's
guesses no longer reach the user's own devices. What stays (docs/security.md): a client without
the cookie is still limited per username, which is what bounds brute force spread over many
addresses.

In-process (the ASGI client's address varies per attempt, one attempt per address, so the
per-address limit never decides), against the memory limiter and the Redis one on 127.0.0.1.
"""

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from http.cookies import SimpleCookie

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis

from service.main import close_app, create_app
from service.migrate import migrate
from service.users import service as users
from tests.ratelimit.helpers import SHARED_REDIS_URL, client_from
from tests.reliability.summary import SUMMARY
from tests.support.loops import run_in_fresh_loop
from tests.support.settings import make_settings

PASSWORD = "correct horse battery staple"
COOKIE = "login_device"  # spelled out: this file also runs against the code before the fix
VICTIM_IP = "203.0.113.10"
AppFactory = Callable[..., FastAPI]


@pytest.fixture(scope="module")
def lockout_db_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('lockout') / 'lockout.db'}"
    run_in_fresh_loop(lambda: migrate(make_settings(url)))
    return url


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def make_app(
    request: pytest.FixtureRequest, lockout_db_url: str
) -> AsyncIterator[AppFactory]:
    """create_app with the limiter on: in memory, or on the shared Redis under a key prefix of
    its own (deleted afterwards)."""
    prefix = f"test-lockout-{uuid.uuid4().hex[:12]}"
    apps: list[FastAPI] = []

    def make(**overrides: object) -> FastAPI:
        values: dict[str, object] = {
            "RATE_LIMIT_ENABLED": True,
            "REDIS_URL": SHARED_REDIS_URL if request.param == "redis" else None,
            "RATE_LIMIT_KEY_PREFIX": prefix,
            **overrides,
        }
        application = create_app(make_settings(lockout_db_url, **values))
        apps.append(application)
        return application

    yield make
    for application in apps:
        await close_app(application)
    if request.param == "redis":
        redis = Redis.from_url(SHARED_REDIS_URL)
        try:
            keys = [key async for key in redis.scan_iter(match=f"{prefix}:*", count=1000)]
            if keys:
                await redis.delete(*keys)
        finally:
            await redis.aclose()


async def new_user(app: FastAPI, name: str, *, is_admin: bool = False) -> str:
    """Made through the service layer: no request, so no budget spent."""
    email = f"{name}-{uuid.uuid4().hex[:8]}@example.com"
    async with app.state.sessionmaker() as session:
        await users.create_user(session, email=email, password=PASSWORD, is_admin=is_admin)
    return email


_addresses: Iterator[int] = iter(range(1, 10_000))


def fresh_address() -> str:
    """A documentation address (RFC 5737) no other attempt in this run used."""
    number = next(_addresses)
    return f"198.51.{100 + number // 250}.{number % 250 + 1}"


async def login(
    app: FastAPI, username: str, password: str, *, ip: str | None = None, cookie: str | None = None
) -> httpx.Response:
    """One attempt, from `ip` (a fresh address unless given), sending `cookie` back the way a
    client without a cookie jar does: as a Cookie header."""
    headers = {"Cookie": f"{COOKIE}={cookie}"} if cookie is not None else {}
    async with client_from(app, ip or fresh_address()) as client:
        response = await client.post(
            "/auth/token", data={"username": username, "password": password}, headers=headers
        )
    SUMMARY.abuse_cases += 1
    return response


def device_cookie(response: httpx.Response) -> str | None:
    for header in response.headers.get_list("set-cookie"):
        parsed = SimpleCookie(header)
        if COOKIE in parsed:
            return parsed[COOKIE].value
    return None


def variants(email: str) -> list[str]:
    """Spellings that all sign in as `email` (it starts with "k"): the budget is theirs to
    share, else each would be a fresh one for brute force."""
    return [email, email.upper(), f"  {email}\t", "\u212a" + email[1:]]  # U+212A KELVIN SIGN


async def spend_username_budget(app: FastAPI, email: str, left: int) -> list[int]:
    """Wrong passwords for `email`, each from a fresh address, until one past the `left`
    attempts of its budget."""
    spellings = variants(email)
    return [
        (await login(app, spellings[n % len(spellings)], f"guess number {n}")).status_code
        for n in range(left + 1)
    ]


async def test_guesses_at_a_username_do_not_lock_out_a_device_that_logged_in_before(
    make_app: AppFactory,
) -> None:
    app = make_app()  # the defaults: 5/minute per address, 20/hour per username
    victim = await new_user(app, "kim", is_admin=True)
    first = await login(app, victim, PASSWORD, ip=VICTIM_IP)
    assert first.status_code == 200, first.text
    cookie = device_cookie(first)  # checked below: the old code set none

    attack = await spend_username_budget(app, victim, 19)  # the first login spent 1 of 20
    assert attack == [401] * 19 + [429], attack

    again = await login(app, victim, PASSWORD, ip=VICTIM_IP, cookie=cookie)
    assert again.status_code == 200, (
        f"the victim's own device was locked out by someone else's guesses: {again.status_code} "
        f"{again.text} (device cookie from the first login: {cookie!r})"
    )
    assert device_cookie(again), "every successful login sets a fresh device cookie"


async def test_without_the_device_cookie_the_username_budget_still_applies(
    make_app: AppFactory,
) -> None:
    # The defence against brute force spread over many addresses, and the accepted trade-off:
    # a client that never logged in as this user (a new device, cleared cookies, a script that
    # drops them) is limited with the attacker.
    app = make_app(RATE_LIMIT_AUTH_TOKEN_USERNAME="3/hour")
    victim = await new_user(app, "kai")
    assert await spend_username_budget(app, victim, 3) == [401, 401, 401, 429]

    correct = await login(app, victim, PASSWORD)
    assert correct.status_code == 429, "the right password without a device cookie: no guessing"
    assert correct.json() == {"detail": "Rate limit exceeded: 3 per 1 hour"}
    assert device_cookie(correct) is None


async def test_a_device_cookie_earned_as_another_user_does_not_exempt(
    make_app: AppFactory,
) -> None:
    app = make_app(RATE_LIMIT_AUTH_TOKEN_USERNAME="3/hour")
    victim = await new_user(app, "kit")
    attacker = await new_user(app, "mallory")
    own = await login(app, attacker, PASSWORD)
    assert own.status_code == 200, own.text
    attackers_cookie = device_cookie(own)
    assert attackers_cookie, "a successful login sets a device cookie"
    assert await spend_username_budget(app, victim, 3) == [401, 401, 401, 429]

    # Even a right guess: the cookie is signed for the attacker's username, so it counts as none.
    replayed = await login(app, victim, PASSWORD, cookie=attackers_cookie)
    assert replayed.status_code == 429, replayed.text


async def test_a_tampered_or_expired_device_cookie_counts_as_none(make_app: AppFactory) -> None:
    from service.users.login_guard import issue_device_cookie  # new with the fix

    app = make_app(RATE_LIMIT_AUTH_TOKEN_USERNAME="3/hour")
    victim = await new_user(app, "kay")
    first = await login(app, victim, PASSWORD, ip=VICTIM_IP)
    cookie = device_cookie(first)
    assert cookie, "a successful login sets a device cookie"
    assert await spend_username_budget(app, victim, 2) == [401, 401, 429]  # 1 of 3 spent

    version, nonce, expires, signature = cookie.split(".")
    flipped = "A" if signature[0] != "A" else "B"
    long_ago = 1_000_000_000.0  # 2001: its cookie expired long since
    forged = {
        "signature changed": f"{version}.{nonce}.{expires}.{flipped}{signature[1:]}",
        "nonce changed": f"{version}.{'x' * len(nonce)}.{expires}.{signature}",
        "expiry extended": f"{version}.{nonce}.{int(expires) + 86_400}.{signature}",
        "version changed": f"v2.{nonce}.{expires}.{signature}",
        "signature dropped": f"{version}.{nonce}.{expires}.",
        "not a cookie of ours": "x" * 40,
        "expired": issue_device_cookie(app.state.settings, username=victim, now=long_ago),
    }
    outcomes = {
        name: (await login(app, victim, PASSWORD, cookie=value)).status_code
        for name, value in forged.items()
    }
    assert outcomes == dict.fromkeys(forged, 429), outcomes

    genuine = await login(app, victim, PASSWORD, ip=VICTIM_IP, cookie=cookie)
    assert genuine.status_code == 200, genuine.text


async def test_a_device_that_fails_too_often_is_limited(make_app: AppFactory) -> None:
    app = make_app(RATE_LIMIT_AUTH_TOKEN_DEVICE="3/hour", RATE_LIMIT_AUTH_TOKEN_USERNAME="5/hour")
    victim = await new_user(app, "kye")
    cookie = device_cookie(await login(app, victim, PASSWORD))  # 1 of the username's 5
    assert cookie, "a successful login sets a device cookie"

    # A stolen cookie (or a confused client) guessing from many addresses.
    guesses = [
        (await login(app, victim, f"guess {n}", cookie=cookie)).status_code for n in range(3)
    ]
    locked = await login(app, victim, PASSWORD, cookie=cookie)
    assert guesses == [401, 401, 401], guesses
    assert locked.status_code == 429, "the device's own budget is spent"
    assert locked.json() == {"detail": "Rate limit exceeded: 3 per 1 hour"}

    # The device's attempts were never the username's: without the cookie, 4 of 5 are left.
    assert (await login(app, victim, PASSWORD)).status_code == 200
