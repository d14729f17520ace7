"""Review stacks: one disposable stack ``pr-<number>`` per pull request labelled ``deploy-preview``.

The stack-name rule, which the program and the tools share. The stack's configuration is derived
from staging's in ``infra/config/review.py`` (there is no ``Pulumi.pr-<n>.yaml``); the janitor
that chooses the stacks to destroy is ``infra/tools/review.py``::

    python -m infra.review janitor --inventory FILE [--max-days N] [--now ISO]

Stdlib only.
"""

from __future__ import annotations

import re
import sys

REVIEW_SOURCE_STACK = "staging"  # the stack whose configuration review stacks follow
REVIEW_TAG = "review-stack"  # AWS tag on every resource: review-stack=pr-<n>
MAX_NUMBER = 999999
_STACK = re.compile(r"^pr-([1-9][0-9]{0,5})$")


def review_number(stack: str) -> int | None:
    """The PR number of review stack ``stack`` (``pr-123`` or ``org/project/pr-123``), else None."""
    match = _STACK.match(stack.rsplit("/", 1)[-1])
    return int(match.group(1)) if match else None


def review_stack(number: int) -> str:
    if not 1 <= number <= MAX_NUMBER:
        raise ValueError(f"PR number {number}: expected 1..{MAX_NUMBER}")
    return f"pr-{number}"


if __name__ == "__main__":  # the command runs the janitor, a tool the program never imports
    from infra.tools.review import main

    sys.exit(main())
