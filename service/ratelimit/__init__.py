"""Per-route, per-client rate limits, shared by every process and task through Redis.

Routes declare what guards them::

    @router.post("", dependencies=[Depends(limit("items:create"))])

`limit(name)` keys the limit on (name, route template, client address); the amount comes from the
setting `RATE_LIMIT_<NAME>` (`items:create` -> `RATE_LIMIT_ITEMS_CREATE`), so an unknown name fails
at import. A dependency with an identity of its own calls `enforce(request, limiter, name,
identity)` and is marked `@rate_limited` (the OpenAPI schema then documents 429 on its routes).

storage.py counts the hits (memory, or one Redis script per check), limiter.py decides what a
failure means, dependencies.py is what routes use, middleware.py adds the RateLimit-* headers.
Strategy, storage layout and the deadline's design: docs/rate-limiting.md.
"""

from service.ratelimit.dependencies import (
    client_ip,
    client_key,
    enforce,
    is_rate_limited,
    limit,
    rate_limited,
)
from service.ratelimit.limiter import (
    RateLimiter,
    RateLimiterUnavailable,
    check_name,
    setting_name,
)
from service.ratelimit.middleware import RateLimitHeadersMiddleware
from service.ratelimit.storage import Decision, LimiterOverloaded

__all__ = [
    "Decision",
    "LimiterOverloaded",
    "RateLimitHeadersMiddleware",
    "RateLimiter",
    "RateLimiterUnavailable",
    "check_name",
    "client_ip",
    "client_key",
    "enforce",
    "is_rate_limited",
    "limit",
    "rate_limited",
    "setting_name",
]
