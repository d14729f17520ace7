"""Offline monthly cost: ``python -m infra.cost --stack S [--json] [--prices FILE] [--config K=V]``.

Prices the offline plan (``infra.tools.plan.plan``: mocks, no CLI, no credentials) with a dated,
region-keyed price table (``infra/prices.json``; ``--prices FILE`` overrides it), one line item
per billable resource: what, quantity, unit, unit price, monthly amount and the assumption behind
the quantity. What a plan cannot know (traffic, log volume, how long a worker run takes, the image
size) comes from documented assumptions (:data:`ASSUMPTIONS`), each overridable with
``--assume NAME=VALUE``. A billable type without a rule is listed under ``unpriced``, never
counted as zero; :data:`FREE` names the types that cost nothing themselves, and why.

Other entry points:

* ``--plan FILE`` prices an ``infra.plan --json`` file instead of running the program (the PR
  preview prices the base and head plans it already computed);
* ``python -m infra.cost diff BASE.json HEAD.json [--title S]``: markdown of two ``--json``
  estimates, the total before → after and the changed line items (the PR comment section);
* ``python -m infra.cost refresh-prices [--region R ...] [--output FILE]``: rebuild the table from
  the AWS Price List API (``pricing:GetProducts``), which needs AWS credentials.

JSON shape: ``{"stack", "region", "currency": "USD", "monthly_total", "items": [{"resource",
"type", "description", "quantity", "unit", "unit_price", "monthly", "assumption"}], "unpriced":
[types], "assumptions": {...}, "prices": {"source", "date", "verified"}, "warnings": [...]}``.

Modules: :mod:`~infra.tools.cost.prices` (the table), :mod:`~infra.tools.cost.assumptions`,
:mod:`~infra.tools.cost.schedules`, :mod:`~infra.tools.cost.rules` (one rule per billable type),
:mod:`~infra.tools.cost.estimate` (plan -> report), :mod:`~infra.tools.cost.render`,
:mod:`~infra.tools.cost.refresh` (Price List API) and :mod:`~infra.tools.cost.cli`.
"""

from infra.tools.cost.assumptions import ASSUMPTIONS, default_assumptions, parse_assumptions
from infra.tools.cost.cli import _main_refresh as _main_refresh  # tests stub its Price List client
from infra.tools.cost.cli import main
from infra.tools.cost.context import TIMES, Context, Item, Unpriced
from infra.tools.cost.errors import CostError
from infra.tools.cost.estimate import estimate, is_component, plan_region
from infra.tools.cost.prices import (
    CURRENCY,
    PRICES_FILE,
    PriceTable,
    RegionPrices,
    load_prices,
    parse_prices,
)
from infra.tools.cost.refresh import PriceQuery, fetch_price, price_queries, refresh_prices
from infra.tools.cost.render import money, render_diff, render_text, signed
from infra.tools.cost.rules import FREE, RULES, is_free
from infra.tools.cost.schedules import runs_per_month

__all__ = [
    "ASSUMPTIONS",
    "CURRENCY",
    "FREE",
    "PRICES_FILE",
    "RULES",
    "TIMES",
    "Context",
    "CostError",
    "Item",
    "PriceQuery",
    "PriceTable",
    "RegionPrices",
    "Unpriced",
    "default_assumptions",
    "estimate",
    "fetch_price",
    "is_component",
    "is_free",
    "load_prices",
    "main",
    "money",
    "parse_assumptions",
    "parse_prices",
    "plan_region",
    "price_queries",
    "refresh_prices",
    "render_diff",
    "render_text",
    "runs_per_month",
    "signed",
]
