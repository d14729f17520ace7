"""service:rateLimits is checked without the service: its own list of names and limits' syntax,
both held to what the service reads."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from limits import parse

from infra.config.rate_limits import RATE_LIMIT_VARIABLES, valid_rate_limit
from service.config import Settings

# Pieces of limit strings, good and bad: limits' grammar is case-insensitive, allows plurals,
# "per" and several limits joined by , ; or |; the Kelvin sign and the long s match [a-z]
# ignoring case but spell no unit.
TOKENS = [
    "0", "1", "10", "250", " ", "  ", "\t", "\n", "/", "per", " per ", "second", "seconds",
    "minute", "Minutes", "HOUR", "day", "month", "years", "week", "x", "s", ",", ";", "|", ":",
    "\u212a", "\u017f", "true", "-", ".",
]  # fmt: skip
EXAMPLES = [
    "10/second",
    "5 per minute",
    "1 per 2 hours",
    "1/second; 5/minute",
    "1/second:;5/minute",
    "2/fortnight",
    "1/week",
    "lots",
    "10/",
    "/second",
    "10 / SECONDS ",
    "3/minute|2 per day,1/year",
    "1/\u017fecond",
    "",
    "true",
    "False",
]


def service_accepts(value: str) -> bool:
    """What the service does with the value: a boolean setting, or a limit it parses."""
    if value.lower() in {"true", "false"}:
        return True
    try:
        parse(value)
    except ValueError:
        return False
    return True


def test_rate_limit_variables_are_exactly_the_services_settings():
    settings_names = {n.upper() for n in Settings.model_fields if n.startswith("rate_limit_")}
    assert set(RATE_LIMIT_VARIABLES) == settings_names, (
        f"only in infra: {sorted(RATE_LIMIT_VARIABLES - settings_names)}, "
        f"only in the service: {sorted(settings_names - RATE_LIMIT_VARIABLES)}"
    )


@pytest.mark.parametrize("value", EXAMPLES)
def test_limit_examples_are_judged_as_the_service_parses_them(value):
    assert valid_rate_limit(value) == service_accepts(value), value


# Limit-shaped strings (amount, "/" or "per", a multiple, a unit; joined), a word changed here and
# there; and any sequence of the tokens.
UNITS = ["second", "minutes", "Hour", "DAYS", "month", "year", "week", "x", "\u017fecond"]
_one = st.tuples(
    st.sampled_from(["1", "10", " 5", "x"]),
    st.sampled_from(["/", " per ", "per", " / ", "-"]),
    st.sampled_from(["", "2", " 3 "]),
    st.sampled_from(UNITS),
    st.sampled_from(["", " ", ":", "\n"]),
).map("".join)
LIMIT_LIKE = st.lists(_one, min_size=1, max_size=3).flatmap(
    lambda parts: st.sampled_from([",", ";", "|", " ", ":;"]).map(lambda sep: sep.join(parts))
)


@settings(max_examples=400, deadline=None)
@given(LIMIT_LIKE | st.lists(st.sampled_from(TOKENS), max_size=12).map("".join))
def test_any_limit_string_is_judged_as_the_service_parses_it(value):
    assert valid_rate_limit(value) == service_accepts(value), repr(value)


def test_booleans_and_other_types_are_judged_by_their_text():
    assert valid_rate_limit(True) and valid_rate_limit(False)
    assert not valid_rate_limit(5) and not valid_rate_limit(None)
