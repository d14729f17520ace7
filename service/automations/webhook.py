"""One signed webhook attempt: SSRF re-check, connect to the checked address, one bounded request.

Retries are not made here: a failed attempt is scheduled again by service/automations/deliveries.py
and made by the worker, so no caller waits on (or holds a database connection across) a backoff.
"""

import asyncio
import hashlib
import hmac
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx

from service.automations import ssrf
from service.config import Settings

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Signature"
DELIVERY_HEADER = "X-Delivery-ID"
USER_AGENT = "service-automations/1"


@dataclass(frozen=True)
class WebhookPolicy:
    """What delivery needs from Settings, and nothing else."""

    environment: str
    allow_loopback: bool
    timeout_seconds: float
    backoff_seconds: float
    backoff_max_seconds: float
    retry_horizon_seconds: float

    @classmethod
    def from_settings(cls, settings: Settings) -> "WebhookPolicy":
        return cls(
            environment=settings.environment,
            allow_loopback=settings.webhook_allow_loopback,
            timeout_seconds=settings.webhook_timeout_seconds,
            backoff_seconds=settings.webhook_backoff_seconds,
            backoff_max_seconds=settings.webhook_backoff_max_seconds,
            retry_horizon_seconds=settings.webhook_retry_horizon_seconds,
        )


@dataclass(frozen=True)
class AttemptResult:
    ok: bool
    retryable: bool
    detail: str


def sign(secret: str, body: bytes) -> str:
    """The X-Signature value: HMAC-SHA256 of the exact body bytes, hex, prefixed `sha256=`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _retryable(status_code: int) -> bool:
    return status_code >= 500 or status_code == 429


@asynccontextmanager
async def http_client(policy: WebhookPolicy) -> AsyncIterator[httpx.AsyncClient]:
    """A client to share between attempts (one TLS context). No keep-alive: a pooled connection
    is keyed by the checked IP address, and reusing one opened (and certificate-checked) for
    another host name behind the same address would skip that name's verification."""
    async with httpx.AsyncClient(
        timeout=httpx.Timeout(policy.timeout_seconds),
        follow_redirects=False,
        trust_env=False,
        limits=httpx.Limits(max_keepalive_connections=0),
    ) as client:
        yield client


async def send(
    client: httpx.AsyncClient,
    *,
    url: str,
    secret: str,
    body: bytes,
    delivery_id: str,
    policy: WebhookPolicy,
) -> AttemptResult:
    """POST body to url once; ok on 2xx. Connection errors, timeouts, 5xx, 429 and a refusal by
    the SSRF policy are retryable; other statuses (4xx, 3xx: redirects are not followed) are not."""
    try:
        checked = await ssrf.check_url(
            url, environment=policy.environment, allow_loopback=policy.allow_loopback
        )
    except ssrf.UnsafeURLError as exc:
        # The URL passed the same check when it was saved: a refusal now means its DNS answer
        # moved, or this process's policy differs (WEBHOOK_ALLOW_LOOPBACK); both can be fixed.
        return AttemptResult(ok=False, retryable=True, detail=f"refused at send time: {exc}")

    # Connect to the address that was checked, not to a second DNS answer; keep the original
    # host for the Host header, TLS SNI and certificate verification.
    target = checked.url_for(checked.addresses[0])
    headers = {
        "Host": checked.host_header(),
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        DELIVERY_HEADER: delivery_id,
        SIGNATURE_HEADER: sign(secret, body),
    }
    extensions = {"sni_hostname": checked.host} if checked.url.scheme == "https" else {}
    timeout = policy.timeout_seconds
    try:
        async with asyncio.timeout(timeout):  # the whole attempt, not each phase
            request = client.build_request(
                "POST", target, content=body, headers=headers, extensions=extensions
            )
            # Streamed and never read: a huge response body costs nothing.
            response = await client.send(request, stream=True)
            await response.aclose()
    except (TimeoutError, httpx.TimeoutException):
        return AttemptResult(ok=False, retryable=True, detail=f"timed out after {timeout:g} s")
    except httpx.TransportError as exc:
        detail = f"connection failed ({type(exc).__name__})"
        return AttemptResult(ok=False, retryable=True, detail=detail)
    status = response.status_code
    if 200 <= status < 300:
        return AttemptResult(ok=True, retryable=False, detail=f"HTTP {status}")
    detail = f"HTTP {status}"
    if 300 <= status < 400:
        detail += " (redirects are not followed)"
    return AttemptResult(ok=False, retryable=_retryable(status), detail=detail)
