"""The report as a terminal table, and two reports as the PR comment's markdown diff."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from infra.tools.cost.context import TIMES


def money(value: float) -> str:
    return f"${value:,.2f}"


def signed(value: float) -> str:
    sign = "+" if value > 0.004 else "-" if value < -0.004 else "±"
    return f"{sign}${abs(value):,.2f}"


def number(value: float) -> str:
    return f"{value:,.2f}".rstrip("0").rstrip(".") if value % 1 else f"{value:,.0f}"


def unit_price(value: float) -> str:
    whole, _, decimals = f"{value:.8f}".partition(".")
    decimals = decimals.rstrip("0").ljust(2, "0")
    return f"${whole}.{decimals}"


def item_line(item: Mapping[str, Any]) -> str:
    return (
        f"{item['description']}: {number(item['quantity'])} {item['unit']} {TIMES} "
        f"{unit_price(item['unit_price'])}"
    )


def render_text(report: Mapping[str, Any]) -> str:
    lines = [
        f"stack {report['stack']} ({report['region']}): {money(report['monthly_total'])}/month "
        f"(prices of {report['prices']['date']}, offline estimate)",
        "",
    ]
    width = max((len(i["resource"]) for i in report["items"]), default=8)
    for item in sorted(report["items"], key=lambda i: -i["monthly"]):
        lines.append(
            f"{money(item['monthly']):>11}  {item['resource']:<{width}}  {item_line(item)}"
            + (f"  [{item['assumption']}]" if item["assumption"] else "")
        )
    lines.append("")
    if report["unpriced"]:
        lines.append("unpriced (not counted): " + ", ".join(report["unpriced"]))
    for warning in report["warnings"]:
        lines.append(f"warning: {warning}")
    lines.append(
        "assumptions: "
        + ", ".join(f"{k}={v:g}" for k, v in sorted(report["assumptions"].items()))
        + " (override with --assume NAME=VALUE)"
    )
    verified = "" if report["prices"].get("verified", True) else ", not cross-checked for it"
    lines.append(f"prices: list prices of {report['prices']['date']}{verified} (--prices FILE)")
    return "\n".join(lines) + "\n"


def _item_key(item: Mapping[str, Any]) -> tuple[str, str, str]:
    return (item["resource"], item["type"], item["description"])


def render_diff(
    base: Mapping[str, Any] | None, head: Mapping[str, Any], title: str | None = None
) -> str:
    """Markdown: the monthly estimate before → after, and every line item that moved."""
    before_total = float(base["monthly_total"]) if base else 0.0
    after_total = float(head["monthly_total"])
    heading = f"#### Monthly cost estimate: {title}" if title else "#### Monthly cost estimate"
    prices = head["prices"]
    out = [
        heading,
        "",
        f"**{money(before_total)} → {money(after_total)} per month "
        f"({signed(after_total - before_total)})** · {head['region']} · list prices of "
        f"{prices['date']}"
        + ("" if prices.get("verified", True) else " (not cross-checked for this region)")
        + " · offline estimate from the plan and the assumptions below",
        "",
    ]
    old = {_item_key(i): i for i in (base or {}).get("items", [])}
    new = {_item_key(i): i for i in head.get("items", [])}
    rows = []
    for key in sorted(old.keys() | new.keys()):
        b, h = old.get(key), new.get(key)
        before = float(b["monthly"]) if b else 0.0
        after = float(h["monthly"]) if h else 0.0
        if b and h and round(before, 2) == round(after, 2):
            continue
        shown = h or b
        assert shown is not None
        rows.append(
            (
                after - before,
                f"| {signed(after - before)} | `{shown['resource']}` {_md(item_line(shown))} | "
                f"{money(before) if b else '—'} | {money(after) if h else '—'} |",
            )
        )
    if rows:
        out += ["| change | line item | before | after |", "|---|---|---|---|"]
        out += [row for _, row in sorted(rows, key=lambda r: (-abs(r[0]), r[1]))]
    else:
        out.append(f"No line item changed ({len(new)} line items).")
    out.append("")
    added_unpriced = sorted(set(head.get("unpriced", [])) - set((base or {}).get("unpriced", [])))
    if head.get("unpriced"):
        out.append(
            "**Unpriced (not in the total):** "
            + ", ".join(
                f"`{t}`" + (" (new)" if t in added_unpriced else "") for t in head["unpriced"]
            )
        )
        out.append("")
    assumptions = ", ".join(f"{k}={v:g}" for k, v in sorted(head["assumptions"].items()))
    out.append(f"<sub>Assumptions: {assumptions} (`python -m infra.cost --help`).</sub>")
    out.append("")
    return "\n".join(out)


def _md(text: str) -> str:
    return text.replace("|", "\\|")
