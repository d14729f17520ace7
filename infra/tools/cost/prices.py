"""The dated, region-keyed price table (``infra/prices.json``): loading and validation."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.tools.cost.errors import CostError

# The table stays beside the program it prices (the Makefile and docs/deploying.md name
# infra/prices.json).
PRICES_FILE = Path(__file__).resolve().parents[2] / "prices.json"
CURRENCY = "USD"

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class PriceTable:
    source: str
    date: str
    regions: dict[str, dict[str, Any]]
    path: str = ""

    def region(self, region: str) -> RegionPrices:
        if region not in self.regions:
            raise CostError(
                f"price table {self.path or '(given)'} has no prices for region {region!r}; "
                f"it has: {', '.join(sorted(self.regions))}"
            )
        return RegionPrices(region, self.regions[region])


def parse_prices(data: Any, source: str = "price table") -> PriceTable:
    """A price table, refused when it is not dated, not in USD or has no regions."""
    if not isinstance(data, dict):
        raise CostError(f"{source}: expected a JSON object")
    date = data.get("date")
    if not isinstance(date, str) or not _DATE.match(date):
        raise CostError(
            f"{source}: no 'date' (YYYY-MM-DD): a price table without the date its prices were "
            "read is refused (prices change; a figure without a date cannot be checked)"
        )
    if data.get("currency") != CURRENCY:
        raise CostError(f"{source}: 'currency' must be {CURRENCY!r}, got {data.get('currency')!r}")
    regions = data.get("regions")
    if not isinstance(regions, dict) or not regions:
        raise CostError(f"{source}: 'regions' must map region names to prices")
    return PriceTable(source=str(data.get("source") or ""), date=date, regions=regions, path=source)


def load_prices(path: str | Path | None = None) -> PriceTable:
    p = Path(path) if path else PRICES_FILE
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CostError(f"cannot read price table {p}: {exc}") from exc
    except ValueError as exc:
        raise CostError(f"price table {p} is not JSON: {exc}") from exc
    return parse_prices(data, str(p))


@dataclass(frozen=True)
class RegionPrices:
    region: str
    table: Mapping[str, Any]

    def get(self, *path: str) -> float | None:
        node: Any = self.table
        for part in path:
            if not isinstance(node, Mapping) or part not in node:
                return None
            node = node[part]
        return float(node) if isinstance(node, int | float) else None

    @property
    def verified(self) -> bool:
        return bool(self.table.get("verified", False))
