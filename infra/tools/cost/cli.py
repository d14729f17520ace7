"""The command line (``python -m infra.cost``): estimate, ``diff`` and ``refresh-prices``."""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path
from typing import Any

from infra.config import ConfigError
from infra.tools.cost.assumptions import ASSUMPTIONS, parse_assumptions
from infra.tools.cost.errors import CostError
from infra.tools.cost.estimate import estimate, plan_region
from infra.tools.cost.prices import PRICES_FILE, load_prices
from infra.tools.cost.refresh import pricing_client, refresh_prices
from infra.tools.cost.render import render_diff, render_text


def _estimate_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m infra.cost",
        description="Offline monthly cost estimate of a stack (subcommands: diff, "
        "refresh-prices; see the module docstring).",
        epilog="assumptions: "
        + "; ".join(f"{k} (default {v:g}): {d}" for k, (v, d) in ASSUMPTIONS.items()),
    )
    parser.add_argument("--stack", required=True, help="dev, staging, prod, ...")
    parser.add_argument("--json", action="store_true", help="print the estimate as JSON")
    parser.add_argument("--prices", help="price table (default: infra/prices.json)")
    parser.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a stack config value for this run (as infra.plan --config)",
    )
    parser.add_argument("--plan", help="price this `infra.plan --json` file instead of the program")
    parser.add_argument("--region", help="region of the plan (default: its aws provider's)")
    parser.add_argument(
        "--assume", action="append", default=[], metavar="NAME=VALUE", help="override an assumption"
    )
    return parser


def _resources(args: argparse.Namespace) -> list[dict[str, Any]]:
    if args.plan:
        text = Path(args.plan).read_text(encoding="utf-8").strip()
        data = json.loads(text) if text else []
        if not isinstance(data, list):
            raise CostError(f"{args.plan}: expected the JSON list `infra.plan --json` prints")
        return data
    from infra.tools import plan

    return plan.plan(args.stack, plan.parse_overrides(args.config))


def _main_estimate(argv: list[str]) -> int:
    args = _estimate_parser().parse_args(argv)
    from infra import stackfiles

    try:
        prices = load_prices(args.prices)
        assumptions = parse_assumptions(args.assume)
        resources = _resources(args)
        region = args.region or plan_region(resources)
        if region is None:
            from infra.tools.plan import load_stack_config

            region = str(load_stack_config(args.stack).get("aws:region") or "")
        if not region:
            raise CostError("no region: the plan has no aws provider; pass --region")
        report = estimate(
            resources, stack=args.stack, region=region, prices=prices, assumptions=assumptions
        )
    except (CostError, ConfigError, stackfiles.StackFileError, OSError, ValueError) as exc:
        print(f"cost: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report, indent=2, sort_keys=True))
    else:
        sys.stdout.write(render_text(report))
    return 0


def _main_diff(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.cost diff",
        description="Markdown: monthly estimate of BASE -> HEAD (`infra.cost --json` outputs).",
    )
    parser.add_argument("base", help="estimate JSON of the base (empty file: nothing deployed)")
    parser.add_argument("head", help="estimate JSON of the head")
    parser.add_argument("--title", help="heading, e.g. the stack name")
    args = parser.parse_args(argv)
    try:
        base_text = Path(args.base).read_text(encoding="utf-8").strip()
        base = json.loads(base_text) if base_text else None
        head = json.loads(Path(args.head).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        print(f"cost diff: {exc}", file=sys.stderr)
        return 1
    sys.stdout.write(render_diff(base, head, args.title))
    return 0


def _main_refresh(argv: list[str], client: Any = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.cost refresh-prices",
        description="Rebuild the price table from the AWS Price List API (needs credentials).",
    )
    parser.add_argument("--prices", help="table to start from (default: infra/prices.json)")
    parser.add_argument("--output", help="where to write (default: the --prices table)")
    parser.add_argument(
        "--region", action="append", default=[], help="region to refresh (default: all)"
    )
    args = parser.parse_args(argv)
    try:
        table = load_prices(args.prices)
        regions = args.region or sorted(table.regions)
        client = client or pricing_client()
        data, report = refresh_prices(
            table, regions, client, today=datetime.date.today().isoformat()
        )
    except CostError as exc:
        print(f"refresh-prices: {exc}", file=sys.stderr)
        return 2
    output = Path(args.output or args.prices or PRICES_FILE)
    output.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    for line in report:
        print(line)
    print(f"wrote {output}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["diff"]:
        return _main_diff(argv[1:])
    if argv[:1] == ["refresh-prices"]:
        return _main_refresh(argv[1:])
    return _main_estimate(argv)
