"""A plan (``infra.plan --json`` entries) -> priced line items, the unpriced types and the
warnings: the report the renderers and ``--json`` print."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from infra.config import PROJECT
from infra.tools.cost.assumptions import default_assumptions
from infra.tools.cost.context import Context, Item, Unpriced
from infra.tools.cost.prices import CURRENCY, PriceTable
from infra.tools.cost.rules import RULES, is_free


def is_component(rtype: str) -> bool:
    """The program's own components (``service:infra:Network``) are groupings, not resources."""
    return rtype.startswith(f"{PROJECT}:")


def estimate(
    resources: list[dict[str, Any]],
    *,
    stack: str,
    region: str,
    prices: PriceTable,
    assumptions: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """Price ``resources`` (``infra.plan --json`` entries) with ``prices`` for ``region``."""
    values = default_assumptions()
    values.update(assumptions or {})
    region_prices = prices.region(region)
    ctx = Context(resources=resources, prices=region_prices, assumptions=values)
    if not region_prices.verified:
        ctx.warnings.append(
            f"prices for {region} are not cross-checked (infra/prices.json notes); "
            "refresh them with `python -m infra.cost refresh-prices`"
        )
    items: list[Item] = []
    unpriced: set[str] = set()
    for r in sorted(resources, key=lambda r: (r["type"], r["name"])):
        rtype = r["type"]
        rule = RULES.get(rtype)
        if rule is None:
            if not (is_free(rtype) or is_component(rtype)):
                unpriced.add(rtype)
                ctx.warnings.append(f"{r['name']} ({rtype}): billable type without a rule")
            continue
        try:
            items.extend(rule(ctx, r))
        except Unpriced as exc:
            unpriced.add(rtype)
            ctx.warnings.append(f"{r['name']} ({rtype}): not priced: {exc}")
    total = sum(i.monthly for i in items)
    return {
        "stack": stack,
        "region": region,
        "currency": CURRENCY,
        "monthly_total": round(total, 2),
        "items": [i.to_dict() for i in items],
        "unpriced": sorted(unpriced),
        "assumptions": values,
        "prices": {
            "source": prices.source,
            "date": prices.date,
            "verified": region_prices.verified,
        },
        "warnings": ctx.warnings,
    }


def plan_region(resources: list[dict[str, Any]]) -> str | None:
    """The region of the plan's explicit aws provider, if it has one."""
    for r in resources:
        if r.get("type") == "pulumi:providers:aws" and (r.get("inputs") or {}).get("region"):
            return str(r["inputs"]["region"])
    return None
