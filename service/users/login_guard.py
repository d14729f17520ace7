"""Password-guessing defence for POST /auth/token that does not hand out lockouts
(docs/security.md, finding 4; OWASP's "Slow Down Online Guessing Attacks with Device Cookies").

Besides the per-address limit every route has, each attempt is counted against one of two
budgets:

- per device, when the client presents a device cookie this service signed for the submitted
  username (RATE_LIMIT_AUTH_TOKEN_DEVICE, keyed by the cookie's random nonce);
- per username otherwise, whatever the address (RATE_LIMIT_AUTH_TOKEN_USERNAME): brute force
  spread over many addresses stays bounded.

A successful login sets a fresh device cookie. So guesses at a username spend only the budget of
clients that never logged in as that user: the user's own devices keep logging in. The cookie
names no user; its signature binds it to one (the normalised username), so a cookie earned by
logging in as yourself is no cookie at all for anyone else. A cookie that is tampered with,
expired, or signed for another username is treated as absent, never as an error.

Attempts are counted, not failures: the count happens before the password is checked (one atomic
step, so concurrent guesses cannot overshoot), and a success is not refunded. The budgets are far
above what a person needs.
"""

import base64
import hashlib
import hmac
import secrets
import time
import unicodedata
from functools import cache
from typing import Annotated

from fastapi import Cookie, Depends, Request, Response
from fastapi.security import OAuth2PasswordRequestForm

from service import security
from service.config import Settings
from service.dependencies import RateLimiterDep, SettingsDep
from service.ratelimit import check_name, enforce, rate_limited

DEVICE_COOKIE = "login_device"
DEVICE_COOKIE_PATH = "/auth/token"
USERNAME_LIMIT = "auth:token:username"
DEVICE_LIMIT = "auth:token:device"
# An unknown limit fails at import, as with limit().
check_name(USERNAME_LIMIT)
check_name(DEVICE_LIMIT)

_VERSION = "v1"
_KEY_PURPOSE = "users.login_guard device cookie v1"
# v1.<nonce: 22>.<expiry: 10-12 digits>.<signature: 43>; anything much longer is not ours.
_MAX_COOKIE_CHARS = 128


def username_key(username: str) -> str:
    """What one username's budget and its device cookies are keyed on: the username compared
    caseless after NFKC (full-width, ligature and other compatibility forms fold to the plain
    ones), trimmed, and hashed (never stored in clear). Every spelling that signs in as one
    account (the service compares emails trimmed and lower-cased) has the same key, so no
    variant buys a fresh budget."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", username).casefold())
    return hashlib.sha256(folded.strip().encode("utf-8", "surrogatepass")).hexdigest()[:32]


@cache
def _key(secret: str) -> bytes:
    """The signing key: derived from JWT_SECRET for this one purpose, never the secret itself."""
    return security.derive_key(secret, _KEY_PURPOSE)


def _signature(secret: str, nonce: str, expires: str, username: str) -> str:
    message = f"{_VERSION}.{nonce}.{expires}.{username_key(username)}".encode()
    digest = hmac.digest(_key(secret), message, hashlib.sha256)
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def issue_device_cookie(settings: Settings, *, username: str, now: float | None = None) -> str:
    """A new device cookie value for `username`: a random nonce, an expiry, an HMAC-SHA256 over
    both and the username's key."""
    nonce = secrets.token_urlsafe(16)
    now = time.time() if now is None else now
    expires = str(int(now) + settings.login_device_cookie_days * 86_400)
    secret = settings.jwt_secret.get_secret_value()
    return f"{_VERSION}.{nonce}.{expires}.{_signature(secret, nonce, expires, username)}"


def device_nonce(
    settings: Settings, value: str | None, *, username: str, now: float | None = None
) -> str | None:
    """The nonce of a valid, unexpired device cookie signed for `username`; None for anything
    else (absent, malformed, tampered with, expired, or another username's)."""
    if not value or len(value) > _MAX_COOKIE_CHARS:
        return None
    parts = value.split(".")
    if len(parts) != 4:
        return None
    version, nonce, expires, signature = parts
    if version != _VERSION or not (expires.isascii() and expires.isdigit()):
        return None
    expected = _signature(settings.jwt_secret.get_secret_value(), nonce, expires, username)
    if not hmac.compare_digest(signature.encode("utf-8", "replace"), expected.encode()):
        return None
    if int(expires) <= (time.time() if now is None else now):
        return None
    return nonce


def set_device_cookie(response: Response, settings: Settings, *, username: str) -> None:
    """After a successful login: HttpOnly (scripts cannot read it), SameSite=Strict, sent only to
    /auth/token, Secure outside local, and gone after LOGIN_DEVICE_COOKIE_DAYS."""
    response.set_cookie(
        DEVICE_COOKIE,
        issue_device_cookie(settings, username=username),
        max_age=settings.login_device_cookie_days * 86_400,
        path=DEVICE_COOKIE_PATH,
        secure=settings.environment != "local",
        httponly=True,
        samesite="strict",
    )


@rate_limited
async def guard_login(
    request: Request,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    settings: SettingsDep,
    limiter: RateLimiterDep,
    login_device: Annotated[
        str | None,
        Cookie(
            description="The device cookie an earlier successful login as this username set: "
            "its attempts count against this device's budget, not the username's."
        ),
    ] = None,
) -> None:
    """Dependency: count this attempt per device (valid device cookie for the submitted username)
    or per username (otherwise); 429 when that budget is spent. The form is parsed once per
    request (FastAPI caches it for the endpoint too)."""
    nonce = device_nonce(settings, login_device, username=form.username)
    if nonce is not None:
        await enforce(request, limiter, DEVICE_LIMIT, "device:" + nonce)
    else:
        await enforce(request, limiter, USERNAME_LIMIT, "username:" + username_key(form.username))
