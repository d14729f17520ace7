"""How often an EventBridge schedule fires in a month (worker runs are billed per run)."""

from __future__ import annotations

import calendar
import datetime
import re
from collections.abc import Mapping

from infra.tools.cost.errors import CostError

_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\((.+)\)$")
_UNIT_MINUTES = {"minute": 1, "hour": 60, "day": 1440}
_MONTHS = {m.upper(): i for i, m in enumerate(calendar.month_abbr) if m}
_DAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
REFERENCE_YEAR = 2025  # a non-leap year: cron counts are averaged over its 12 months


def _cron_field(text: str, low: int, high: int, names: Mapping[str, int] | None = None) -> set:
    if text in ("*", "?"):
        return set(range(low, high + 1))
    values: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if any(c in base for c in "LW#"):
            raise CostError(f"cron field {text!r}: L, W and # are not supported by the estimate")
        if base in ("*", "?"):
            start, end = low, high
        elif "-" in base:
            a, b = base.split("-", 1)
            start, end = _cron_value(a, names), _cron_value(b, names)
        else:
            start = _cron_value(base, names)
            end = high if step_text else start
        values.update(range(start, end + 1, step))
    return {v for v in values if low <= v <= high}


def _cron_value(text: str, names: Mapping[str, int] | None) -> int:
    key = text.upper()
    if names and key in names:
        return names[key]
    try:
        return int(text)
    except ValueError:
        raise CostError(f"cron value {text!r} is not understood") from None


def runs_per_month(expression: str, hours_per_month: float = 730) -> float:
    """How often an EventBridge schedule fires in an average month.

    ``rate(N unit)``: ``hours_per_month`` * 60 / the interval in minutes. ``cron(min hour dom
    month dow year)`` (EventBridge fields, day-of-week 1-7 = SUN-SAT): the firings of one
    reference year, divided by 12. ``at(...)``: 0 (a one-time schedule is not a monthly cost).
    """
    expression = expression.strip()
    rate = _RATE.match(expression)
    if rate:
        minutes = int(rate.group(1)) * _UNIT_MINUTES[rate.group(2).rstrip("s")]
        return hours_per_month * 60 / minutes
    if expression.startswith("at("):
        return 0.0
    cron = _CRON.match(expression)
    if not cron:
        raise CostError(f"schedule expression {expression!r}: expected rate(...) or cron(...)")
    fields = cron.group(1).split()
    if len(fields) != 6:
        raise CostError(f"cron expression {expression!r}: expected 6 fields")
    minutes = _cron_field(fields[0], 0, 59)
    hours = _cron_field(fields[1], 0, 23)
    months = _cron_field(fields[3], 1, 12, _MONTHS)
    dom_any, dow_any = fields[2] in ("*", "?"), fields[4] in ("*", "?")
    days_of_month = _cron_field(fields[2], 1, 31)
    days_of_week = _cron_field(fields[4], 1, 7, _DAYS)
    fires_per_day = len(minutes) * len(hours)
    days = 0
    day = datetime.date(REFERENCE_YEAR, 1, 1)
    while day.year == REFERENCE_YEAR:
        dow = (day.isoweekday() % 7) + 1  # Sunday = 1
        if day.month in months:
            dom_ok, dow_ok = day.day in days_of_month, dow in days_of_week
            if (dom_ok and dow_ok) if (dom_any or dow_any) else (dom_ok or dow_ok):
                days += 1
        day += datetime.timedelta(days=1)
    return days * fires_per_day / 12
