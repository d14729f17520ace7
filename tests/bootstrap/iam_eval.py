"""A small evaluator of IAM identity policies: does this set of documents allow ``action`` on
``resource``?

No PyPI library does this offline: policyuniverse parses and expands but does not decide,
iam-ape and aws-why need an account (authorization details, the IAM simulator). This follows
AWS's documented logic for one principal's identity policies (and a permissions boundary, which
is just another set of documents that must also allow):

* an explicit Deny in any statement wins; else an Allow is needed; else implicit deny;
* ``Action``/``NotAction`` match case-insensitively, ``Resource``/``NotResource``
  case-sensitively, ``*`` and ``?`` as wildcards (``*`` crosses ``:`` and ``/``);
* conditions: the String*, Arn*, Bool and Null operators, ``...IfExists``, the ``ForAnyValue:``
  and ``ForAllValues:`` qualifiers. A key missing from the request fails a positive operator
  and satisfies a negated one (StringNotEquals, ArnNotLike...), as the IAM reference says.

``context=None`` asks the worst case, for proving what can never happen: an Allow whose
conditions the caller might satisfy counts as allowing, a Deny whose conditions the caller
might avoid counts as not denying. Anything the evaluator does not understand raises.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

ALLOW = "Allow"
EXPLICIT_DENY = "ExplicitDeny"
IMPLICIT_DENY = "ImplicitDeny"

_STRING_OPS = {
    "StringEquals": (False, False, False),  # (negated, glob, ignore case)
    "StringNotEquals": (True, False, False),
    "StringEqualsIgnoreCase": (False, False, True),
    "StringNotEqualsIgnoreCase": (True, False, True),
    "StringLike": (False, True, False),
    "StringNotLike": (True, True, False),
    "ArnEquals": (False, True, False),  # ARN operators accept wildcards in the policy value
    "ArnLike": (False, True, False),
    "ArnNotEquals": (True, True, False),
    "ArnNotLike": (True, True, False),
    "Bool": (False, False, True),
}


@lru_cache(maxsize=4096)
def _pattern(glob: str, ignore_case: bool) -> re.Pattern:
    if "${" in glob:
        raise ValueError(f"policy variables are not supported: {glob!r}")
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob)
    flags = (re.IGNORECASE | re.DOTALL) if ignore_case else re.DOTALL
    return re.compile(f"^{body}$", flags)


def matches(glob: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM wildcard match: ``*`` any run of characters, ``?`` exactly one."""
    return _pattern(glob, ignore_case).match(value) is not None


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _statement_applies(statement: Mapping, action: str, resource: str) -> bool:
    if "Action" in statement:
        hit = any(matches(a, action, ignore_case=True) for a in _as_list(statement["Action"]))
    elif "NotAction" in statement:
        hit = not any(
            matches(a, action, ignore_case=True) for a in _as_list(statement["NotAction"])
        )
    else:
        raise ValueError(f"statement without Action or NotAction: {statement}")
    if not hit:
        return False
    if "Resource" in statement:
        return any(matches(r, resource) for r in _as_list(statement["Resource"]))
    if "NotResource" in statement:
        return not any(matches(r, resource) for r in _as_list(statement["NotResource"]))
    raise ValueError(f"statement without Resource or NotResource: {statement}")


def _operator(name: str) -> tuple[str | None, str, bool]:
    qualifier, _, base = name.rpartition(":")
    if qualifier not in ("", "ForAnyValue", "ForAllValues"):
        raise ValueError(f"unknown condition qualifier in {name!r}")
    if_exists = base.endswith("IfExists")
    base = base.removesuffix("IfExists")
    if base != "Null" and base not in _STRING_OPS:
        raise ValueError(f"unsupported condition operator {name!r}")
    return qualifier or None, base, if_exists


def _one_condition(name: str, key: str, wanted: Any, context: Mapping[str, Any]) -> bool:
    qualifier, base, if_exists = _operator(name)
    wanted = [str(w).lower() if isinstance(w, bool) else str(w) for w in _as_list(wanted)]
    present = key in context
    if base == "Null":
        return (not present) == (wanted[0].lower() == "true")
    negated, glob, ignore_case = _STRING_OPS[base]
    if not present:
        if if_exists:
            return True
        if qualifier == "ForAllValues":
            return True
        if qualifier == "ForAnyValue":
            return False
        return negated
    values = [str(v) for v in _as_list(context[key])]

    def equal(value: str) -> bool:
        if glob:
            return any(matches(w, value, ignore_case=ignore_case) for w in wanted)
        if ignore_case:
            return value.lower() in {w.lower() for w in wanted}
        return value in wanted

    def test(value: str) -> bool:
        return not equal(value) if negated else equal(value)

    if qualifier == "ForAllValues":
        return all(test(v) for v in values)
    if negated and qualifier is None:
        return all(test(v) for v in values)
    return any(test(v) for v in values)


def conditions_hold(condition: Mapping[str, Mapping[str, Any]], context: Mapping[str, Any]) -> bool:
    return all(
        _one_condition(name, key, wanted, context)
        for name, block in condition.items()
        for key, wanted in block.items()
    )


def _statements(documents: Iterable[Mapping]) -> list[Mapping]:
    statements: list[Mapping] = []
    for document in documents:
        statements += _as_list(document["Statement"])
    return statements


def evaluate(
    documents: Iterable[Mapping],
    action: str,
    resource: str,
    context: Mapping[str, Any] | None = None,
) -> str:
    """ALLOW, EXPLICIT_DENY or IMPLICIT_DENY for one request against identity policies.

    ``context`` maps condition keys to request values; ``None`` is the worst case (see the
    module docstring)."""
    allowed = False
    for statement in _statements(documents):
        if statement.get("Effect") not in (ALLOW, "Deny"):
            raise ValueError(f"statement without a valid Effect: {statement}")
        if not _statement_applies(statement, action, resource):
            continue
        condition = statement.get("Condition")
        if condition:
            if context is None:
                holds = statement["Effect"] == ALLOW  # worst case: allows may, denies may not
            else:
                holds = conditions_hold(condition, context)
            if not holds:
                continue
        if statement["Effect"] == "Deny":
            return EXPLICIT_DENY
        allowed = True
    return ALLOW if allowed else IMPLICIT_DENY


def is_allowed(documents, action, resource, context=None, boundary=None) -> bool:
    """The request is allowed by the identity policies and, when given, by the boundary."""
    if evaluate(documents, action, resource, context) != ALLOW:
        return False
    return boundary is None or evaluate(boundary, action, resource, context) == ALLOW
