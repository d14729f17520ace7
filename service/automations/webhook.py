"""Signed webhook delivery: SSRF re-check, connect to the checked address, bounded retries."""

import asyncio
import hashlib
import hmac
import logging
from dataclasses import dataclass

import httpx

from service.automations import ssrf
from service.config import Settings

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Signature"
DELIVERY_HEADER = "X-Delivery-ID"
USER_AGENT = "service-automations/1"


@dataclass(frozen=True)
class DeliveryResult:
    ok: bool
    attempts: int
    detail: str


def sign(secret: str, body: bytes) -> str:
    """The X-Signature value: HMAC-SHA256 of the exact body bytes, hex, prefixed `sha256=`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _retryable(status_code: int) -> bool:
    return status_code >= 500 or status_code == 429


async def deliver(
    *, url: str, secret: str, body: bytes, delivery_id: str, settings: Settings
) -> DeliveryResult:
    """POST body to url; success on 2xx. Retries connection errors, timeouts, 5xx and 429."""
    try:
        checked = await ssrf.check_url(
            url, environment=settings.environment, allow_loopback=settings.webhook_allow_loopback
        )
    except ssrf.UnsafeURLError as exc:
        return DeliveryResult(ok=False, attempts=0, detail=f"refused at send time: {exc}")

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
    timeout = settings.webhook_timeout_seconds
    detail = "not attempted"
    attempt = 0
    async with httpx.AsyncClient(
        timeout=httpx.Timeout(timeout), follow_redirects=False, trust_env=False
    ) as client:
        for attempt in range(1, settings.webhook_max_attempts + 1):
            retry = True
            try:
                async with asyncio.timeout(timeout):  # the whole attempt, not each phase
                    request = client.build_request(
                        "POST", target, content=body, headers=headers, extensions=extensions
                    )
                    # Streamed and never read: a huge response body costs nothing.
                    response = await client.send(request, stream=True)
                    await response.aclose()
            except (TimeoutError, httpx.TimeoutException):
                detail = f"timed out after {timeout:g} s"
            except httpx.TransportError as exc:
                detail = f"connection failed ({type(exc).__name__})"
            else:
                status = response.status_code
                if 200 <= status < 300:
                    return DeliveryResult(ok=True, attempts=attempt, detail=f"HTTP {status}")
                detail = f"HTTP {status}"
                if 300 <= status < 400:
                    detail += " (redirects are not followed)"
                retry = _retryable(status)
            logger.info(
                "webhook attempt failed",
                extra={"fields": {"delivery_id": delivery_id, "attempt": attempt, "error": detail}},
            )
            if not retry or attempt == settings.webhook_max_attempts:
                break
            await asyncio.sleep(settings.webhook_backoff_seconds * 2 ** (attempt - 1))
    return DeliveryResult(ok=False, attempts=attempt, detail=detail)
