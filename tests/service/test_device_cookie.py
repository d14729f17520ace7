"""The login device cookie (service/users/login_guard.py): signed for one username with a key
derived from JWT_SECRET, bounded in time, and anything else about it reads as no cookie at all.
The limits it switches between: tests/reliability/test_login_lockout.py."""

import base64
import hashlib
import hmac
from http.cookies import SimpleCookie

import pytest
from fastapi import Response

from service import security
from service.config import DEV_JWT_SECRET, Settings
from service.users.login_guard import (
    DEVICE_COOKIE,
    device_nonce,
    issue_device_cookie,
    set_device_cookie,
    username_key,
)

NOW = 1_800_000_000.0
DAY = 86_400
USERNAME = "kate@example.com"
ARABIC_INDIC_ONE = "\u0661"  # int() and str.isdigit() take it


@pytest.fixture
def settings() -> Settings:
    return Settings(LOGIN_DEVICE_COOKIE_DAYS=30)  # type: ignore[call-arg]


def test_a_cookie_names_its_nonce_back_for_the_username_it_was_issued_for(settings):
    cookie = issue_device_cookie(settings, username=USERNAME, now=NOW)
    version, nonce, expires, _ = cookie.split(".")
    assert (version, int(expires)) == ("v1", int(NOW) + 30 * DAY)
    assert device_nonce(settings, cookie, username=USERNAME, now=NOW) == nonce
    assert USERNAME not in cookie and username_key(USERNAME) not in cookie, "names no user"


def test_each_cookie_has_its_own_random_nonce(settings):
    cookies = {issue_device_cookie(settings, username=USERNAME, now=NOW) for _ in range(20)}
    nonces = {device_nonce(settings, cookie, username=USERNAME, now=NOW) for cookie in cookies}
    assert len(nonces) == 20


@pytest.mark.parametrize(
    "spelling",
    [
        "KATE@EXAMPLE.COM",
        "  kate@example.com\t",
        "\u212aate@example.com",  # KELVIN SIGN: lower-cases to "k", signs in as kate
        "".join(chr(ord(ch) + 0xFEE0) for ch in USERNAME),  # full-width: NFKC folds to ASCII
    ],
)
def test_any_spelling_of_the_username_shares_its_key_and_its_cookie(settings, spelling):
    cookie = issue_device_cookie(settings, username=USERNAME, now=NOW)
    assert username_key(spelling) == username_key(USERNAME)
    assert device_nonce(settings, cookie, username=spelling, now=NOW) is not None


def test_a_cookie_for_one_username_is_no_cookie_for_another(settings):
    cookie = issue_device_cookie(settings, username="mallory@example.com", now=NOW)
    assert device_nonce(settings, cookie, username=USERNAME, now=NOW) is None
    assert username_key("mallory@example.com") != username_key(USERNAME)


def test_a_cookie_expires_after_its_lifetime(settings):
    cookie = issue_device_cookie(settings, username=USERNAME, now=NOW)
    assert device_nonce(settings, cookie, username=USERNAME, now=NOW + 30 * DAY - 1) is not None
    assert device_nonce(settings, cookie, username=USERNAME, now=NOW + 30 * DAY) is None


def _tampered(cookie: str) -> dict[str, str]:
    version, nonce, expires, signature = cookie.split(".")
    other = "A" if signature[-1] != "A" else "B"
    return {
        "signature": f"{version}.{nonce}.{expires}.{signature[:-1]}{other}",
        "nonce": f"{version}.{nonce[::-1]}.{expires}.{signature}",
        "expiry": f"{version}.{nonce}.{int(expires) + DAY}.{signature}",
        "version": f"v0.{nonce}.{expires}.{signature}",
        "no signature": f"{version}.{nonce}.{expires}.",
        "extra part": f"{cookie}.x",
        "three parts": f"{version}.{nonce}.{expires}",
        "empty": "",
        "too long": f"{version}.{nonce * 10}.{expires}.{signature}",
        "non-ASCII digits": f"{version}.{nonce}.{ARABIC_INDIC_ONE * len(expires)}.{signature}",
        "non-ASCII signature": f"{version}.{nonce}.{expires}.{'é' * len(signature)}",
        "padded": f"{cookie}=",
    }


@pytest.mark.parametrize("kind", list(_tampered("v1.n.1.s")))
def test_a_tampered_cookie_is_no_cookie(settings, kind):
    cookie = issue_device_cookie(settings, username=USERNAME, now=NOW)
    forged = _tampered(cookie)[kind]
    assert device_nonce(settings, forged, username=USERNAME, now=NOW) is None


def test_absent_cookie_is_no_cookie(settings):
    assert device_nonce(settings, None, username=USERNAME, now=NOW) is None


def test_another_jwt_secret_invalidates_every_cookie(settings):
    cookie = issue_device_cookie(settings, username=USERNAME, now=NOW)
    rotated = Settings(JWT_SECRET="another-secret-at-least-32-characters-long")  # type: ignore[call-arg]
    assert device_nonce(rotated, cookie, username=USERNAME, now=NOW) is None


def test_the_signing_key_is_derived_not_the_jwt_secret_itself(settings):
    """Signed with the raw JWT_SECRET, the same fields do not verify: the cookie key is derived
    for this purpose alone, and a JWT signature (keyed by the raw secret) never doubles as one."""
    cookie = issue_device_cookie(settings, username=USERNAME, now=NOW)
    version, nonce, expires, signature = cookie.split(".")
    message = f"{version}.{nonce}.{expires}.{username_key(USERNAME)}".encode()
    raw = hmac.digest(DEV_JWT_SECRET.encode(), message, hashlib.sha256)
    assert base64.urlsafe_b64encode(raw).rstrip(b"=").decode() != signature


def test_derived_keys_differ_by_purpose_and_secret():
    keys = {
        security.derive_key(DEV_JWT_SECRET, "a"),
        security.derive_key(DEV_JWT_SECRET, "b"),
        security.derive_key(DEV_JWT_SECRET + "x", "a"),
    }
    assert len(keys) == 3
    assert all(len(key) == 32 and DEV_JWT_SECRET.encode() not in key for key in keys)
    assert security.derive_key(DEV_JWT_SECRET, "a") == security.derive_key(DEV_JWT_SECRET, "a")


def _set_cookie(settings: Settings) -> SimpleCookie:
    response = Response()
    set_device_cookie(response, settings, username=USERNAME)
    (header,) = [v for k, v in response.raw_headers if k == b"set-cookie"]
    return SimpleCookie(header.decode())


def test_the_cookie_is_httponly_strict_scoped_to_the_login_and_bounded(settings):
    morsel = _set_cookie(settings)[DEVICE_COOKIE]
    assert morsel["httponly"] is True
    assert morsel["samesite"].lower() == "strict"
    assert morsel["path"] == "/auth/token"
    assert morsel["max-age"] == str(30 * DAY)
    assert not morsel["secure"], "local development serves plain http"


def test_the_cookie_is_secure_outside_local():
    prod = Settings(  # type: ignore[call-arg]
        ENVIRONMENT="prod", JWT_SECRET="a-production-secret-of-at-least-32-chars"
    )
    assert _set_cookie(prod)[DEVICE_COOKIE]["secure"] is True


async def test_a_successful_login_sets_the_cookie_and_a_failed_one_does_not(app, client, alice):
    ok = await client.post(
        "/auth/token", data={"username": alice.email, "password": alice.password}
    )
    wrong = await client.post(
        "/auth/token", data={"username": alice.email, "password": "wrong password"}
    )
    assert ok.status_code == 200 and wrong.status_code == 401
    cookie = SimpleCookie(ok.headers["set-cookie"])[DEVICE_COOKIE].value
    assert device_nonce(app.state.settings, cookie, username=alice.email) is not None
    assert "set-cookie" not in wrong.headers
