"""What the Makefile declares, read as text (no make run): its rules and its .PHONY targets."""

import re
from pathlib import Path

MAKEFILE = Path(__file__).resolve().parents[2] / "Makefile"

# `target: prerequisites`, not a variable (`X := …`, `X ?= …`); `lock: UV_VERSION := …` (a
# target-specific variable) still names the target.
_RULE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9_.-]*)\s*:(?!=)", re.M)


def make_targets(text: str | None = None) -> set[str]:
    """Every target a rule of the Makefile defines."""
    return set(_RULE.findall(MAKEFILE.read_text() if text is None else text))


def phony_targets(text: str | None = None) -> set[str]:
    text = MAKEFILE.read_text() if text is None else text
    return {t for line in re.findall(r"^\.PHONY:(.*)$", text, re.M) for t in line.split()}
