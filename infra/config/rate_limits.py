"""The service's ``RATE_LIMIT_*`` settings a stack may set (``service:rateLimits``), and their
values' syntax.

The program never imports the service (nor needs its dependencies), so the names are listed here
and the syntax is that of ``limits.parse``, which the service reads its limits with: ``10/second``,
``5 per minute``, ``1 per 2 hours``, several joined by ``,``, ``;`` or ``|``.
tests/infra/test_rate_limits.py checks the names against the service's settings
(``service/config.py``, every ``rate_limit_*`` field) and the syntax against ``limits.parse``.
"""

from __future__ import annotations

import re

# A typo here would otherwise be ignored in silence by the task.
RATE_LIMIT_VARIABLES = frozenset(
    {
        "RATE_LIMIT_ENABLED",
        "RATE_LIMIT_FAIL_OPEN",
        "RATE_LIMIT_KEY_PREFIX",
        "RATE_LIMIT_REDIS_TIMEOUT",
        "RATE_LIMIT_REDIS_MAX_CONNECTIONS",
        "RATE_LIMIT_REDIS_BACKOFF",
        "RATE_LIMIT_FAILURE_LOG_INTERVAL",
        "RATE_LIMIT_ITEMS_CREATE",
        "RATE_LIMIT_ITEMS_READ",
        "RATE_LIMIT_ITEMS_WRITE",
        "RATE_LIMIT_USERS_CREATE",
        "RATE_LIMIT_USERS_READ",
        "RATE_LIMIT_AUTH_TOKEN",
        "RATE_LIMIT_AUTH_TOKEN_USERNAME",
        "RATE_LIMIT_AUTH_TOKEN_DEVICE",
        "RATE_LIMIT_AUTOMATIONS_CREATE",
        "RATE_LIMIT_AUTOMATIONS_READ",
        "RATE_LIMIT_AUTOMATIONS_WRITE",
        "RATE_LIMIT_AUTOMATIONS_RUN",
    }
)

# limits' grammar (limits.util: SINGLE_EXPR, EXPR, SEPARATORS), flags included.
_ONE = r"""
    \s*([0-9]+)
    \s*(/|\s*per\s*)
    \s*([0-9]+)?
    \s*([a-z]+)
    \s*
"""
_FLAGS = re.IGNORECASE | re.VERBOSE
_ONE_LIMIT = re.compile(_ONE, _FLAGS)
_LIMITS = re.compile(rf"^{_ONE}(:?[,;|]{{1}}{_ONE})*$", _FLAGS)
_SEPARATOR = re.compile(r"[,;|]{1}")
# limits' granularities, each also in the plural.
_UNITS = frozenset(
    unit + plural
    for unit in ("year", "month", "day", "hour", "minute", "second")
    for plural in ("", "s")
)


def valid_rate_limit(value: object) -> bool:
    """A limit the service parses (``limits.parse``) or a boolean (``RATE_LIMIT_ENABLED``)."""
    if isinstance(value, bool) or str(value).lower() in {"true", "false"}:
        return True
    text = str(value)
    if not _LIMITS.match(text):
        return False
    for part in _SEPARATOR.split(text):
        match = _ONE_LIMIT.match(part)
        if match and match.group(4).lower() not in _UNITS:
            return False
    return True
