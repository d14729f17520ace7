"""The dependencies routes declare: `limit(name)` per client address; `enforce()` for a dependency
with an identity of its own (the login guard: service/users/login_guard.py)."""

import ipaddress
from collections.abc import Awaitable, Callable
from functools import cache
from typing import Any, TypeVar

from fastapi import HTTPException, Request, status

from service import metrics
from service.dependencies import RateLimiterDep
from service.ratelimit.limiter import RateLimiter, RateLimiterUnavailable, check_name
from service.ratelimit.middleware import STATE_KEY
from service.ratelimit.storage import Decision, LimiterOverloaded


def client_ip(request: Request) -> str:
    """The peer address after ProxyHeadersMiddleware (see create_app): X-Forwarded-For counts
    only when the peer is in FORWARDED_ALLOW_IPS, and then its rightmost untrusted entry."""
    return request.client.host if request.client else "unknown"


def client_key(address: str) -> str:
    """What one client's budget is keyed on: an IPv4 address as it is, an IPv6 address by its /64
    (what one subscriber or host is given; per /128, rotating through it would be a fresh budget
    per request)."""
    if ":" not in address:
        return address
    try:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    except ValueError:
        return address


def _retry_shortly(detail: str) -> HTTPException:
    return HTTPException(
        status.HTTP_503_SERVICE_UNAVAILABLE, detail=detail, headers={"Retry-After": "1"}
    )


async def enforce(request: Request, limiter: RateLimiter, name: str, identity: str) -> None:
    """Count one hit against limit `name` for this route and `identity`; 429 when over."""
    if not limiter.enabled:
        return
    route = request.scope.get("route")
    route_path = route.path if route is not None else request.scope["path"]
    try:
        decision = await limiter.check(name, route_path, identity)
    except RateLimiterUnavailable:
        raise _retry_shortly("Rate limiter unavailable") from None
    except LimiterOverloaded:
        raise _retry_shortly("Server busy, retry shortly") from None
    if decision is None:
        return
    state = request.scope.setdefault("state", {})
    previous: Decision | None = state.get(STATE_KEY)
    if previous is None or decision.tighter_than(previous):
        state[STATE_KEY] = decision
    if not decision.admitted:
        metrics.rate_limit_refused(name)
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            detail=f"Rate limit exceeded: {decision.item}",
            headers={"Retry-After": str(decision.reset_seconds)},
        )


# The dependencies that enforce a limit: the OpenAPI schema documents 429 (and the limiter's 503)
# on every route that depends on one (service/errors_http.py).
_LIMIT_DEPENDENCIES: set[Callable[..., Any]] = set()
LimitDependency = TypeVar("LimitDependency", bound=Callable[..., Any])


def rate_limited(dependency: LimitDependency) -> LimitDependency:
    """Mark a dependency that calls enforce()."""
    _LIMIT_DEPENDENCIES.add(dependency)
    return dependency


def is_rate_limited(call: Callable[..., Any]) -> bool:
    return call in _LIMIT_DEPENDENCIES


@cache
def limit(name: str) -> Callable[..., Awaitable[None]]:
    """Dependency: limit `name` per route and client IP."""
    check_name(name)

    @rate_limited
    async def rate_limit_per_ip(request: Request, limiter: RateLimiterDep) -> None:
        await enforce(request, limiter, name, client_key(client_ip(request)))

    return rate_limit_per_ip
