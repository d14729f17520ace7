"""The review stacks' janitor: which ``pr-<number>`` stacks to destroy, a pure function::

    python -m infra.review janitor --inventory FILE [--max-days N] [--now ISO]

``FILE`` is a JSON list of ``{"name", "created", "lastUpdate", "prState"}`` (``name`` as
``pulumi stack ls --json`` prints it, ``created`` the stack tag ``review:created``, ``prState``
``OPEN``/``CLOSED``/``MERGED`` as ``gh pr view --json state`` prints it, ``null`` if unknown).
Prints the stacks to destroy, one a line. Stdlib only (besides ``infra/review.py``, the
stack-name rule).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from infra.review import review_number

CREATED_TAG = "review:created"  # Pulumi stack tag: when the workflow created the stack
LABEL = "deploy-preview"
DEFAULT_MAX_DAYS = 3
MAX_DAYS_VARIABLE = "REVIEW_STACK_MAX_DAYS"


@dataclass(frozen=True)
class ReviewStack:
    name: str  # as the backend lists it
    created: datetime | None = None
    last_update: datetime | None = None
    pr_state: str | None = None  # OPEN, CLOSED, MERGED; None: unknown (gh found no PR)

    @property
    def number(self) -> int | None:
        return review_number(self.name)

    @property
    def started(self) -> datetime | None:
        """When the stack's life began: the created tag, else its last update."""
        return self.created or self.last_update


def stacks_to_destroy(
    stacks: Iterable[ReviewStack], now: datetime, max_days: int = DEFAULT_MAX_DAYS
) -> list[str]:
    """The review stacks the janitor destroys: those whose PR is not open (closed, merged or
    unknown) and those older than ``max_days`` (an open PR's next push re-creates its stack).
    A stack of unknown age with an open PR is kept. Other stacks are never chosen."""
    if max_days < 1:
        raise ValueError(f"{MAX_DAYS_VARIABLE}: expected a whole number of days >= 1")
    limit = timedelta(days=max_days)
    chosen = []
    for stack in stacks:
        if stack.number is None:
            continue
        open_pr = (stack.pr_state or "").upper() == "OPEN"
        too_old = stack.started is not None and now - stack.started > limit
        if not open_pr or too_old:
            chosen.append(stack.name)
    return sorted(chosen, key=lambda n: review_number(n) or 0)


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 time (``Z`` accepted), as UTC; None for empty values."""
    if not value:
        return None
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def from_inventory(rows: Iterable[Mapping[str, Any]]) -> list[ReviewStack]:
    return [
        ReviewStack(
            name=str(row["name"]),
            created=parse_time(row.get("created")),
            last_update=parse_time(row.get("lastUpdate")),
            pr_state=row.get("prState") or None,
        )
        for row in rows
    ]


def max_days_from(value: str | None) -> int:
    if value is None or not value.strip():
        return DEFAULT_MAX_DAYS
    if not value.strip().isdigit():
        raise ValueError(f"{MAX_DAYS_VARIABLE}: expected a whole number of days, got {value!r}")
    return int(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.review", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    janitor = sub.add_parser("janitor", help="print the review stacks to destroy")
    janitor.add_argument("--inventory", type=Path, required=True)
    janitor.add_argument(
        "--max-days", default=None, help=f"default: ${MAX_DAYS_VARIABLE} or {DEFAULT_MAX_DAYS}"
    )
    janitor.add_argument("--now", default=None, help="ISO time (tests); default: now")
    args = parser.parse_args(argv)
    try:
        max_days = max_days_from(
            args.max_days if args.max_days is not None else os.environ.get(MAX_DAYS_VARIABLE)
        )
        rows = json.loads(args.inventory.read_text(encoding="utf-8"))
        if not isinstance(rows, list):
            raise ValueError("the inventory must be a JSON list")
        now = parse_time(args.now) or datetime.now(UTC)
        chosen = stacks_to_destroy(from_inventory(rows), now, max_days)
    except (OSError, ValueError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for name in chosen:
        print(name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
