"""Drift report: ``python -m infra.drift report FILE``.

``FILE`` is what ``pulumi preview --refresh --expect-no-changes --json`` printed for a deployed
stack (the CLI's preview digest, ``pkg/display`` in pulumi/pulumi): ``steps`` (each with ``op``,
``urn``, ``diffReasons``, ``replaceReasons``, ``detailedDiff`` of ``{diffKind, inputDiff}``,
``oldState``/``newState``) and ``changeSummary`` (operation -> count). After the refresh the
state holds what is in the cloud, so every step that is not ``same`` is a change the program
would make to undo drift: an ``update`` (a property changed outside Pulumi), a ``create`` (the
resource was deleted), a ``replace`` (its ``create-replacement``/``delete-replaced`` halves are
folded into one entry).

Prints markdown: each drifted resource (name, type, URN, operation) and each differing property
with the value in the cloud and the value the program declares; secret values (the CLI prints
them as ``"[secret]"``; a serialized secret object or an ``additionalSecretOutputs`` property)
print as ``[secret]``. Exit 0 when nothing drifted, 1 when something did, 2 on an unreadable
file. Stdlib only.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SECRET = "[secret]"  # noqa: S105 (the redaction marker)
SECRET_SIG = "4dabf18193072939515e22adb298388d"  # noqa: S105 the engine's secret-object signature key
UNCHANGED_OPS = frozenset({"same", "read", "refresh", "discard"})
REPLACE_OPS = frozenset(
    {"replace", "create-replacement", "delete-replaced", "read-replacement", "import-replacement"}
)
ROOT_TYPE = "pulumi:pulumi:Stack"
EXIT_CLEAN, EXIT_DRIFTED, EXIT_ERROR = 0, 1, 2
_PATH_PART = re.compile(r'\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]|([^.\[\]]+)')
MAX_VALUE_CHARS = 200


class DriftError(ValueError):
    """The file is not a `pulumi preview --json` document."""


@dataclass
class PropertyChange:
    path: str
    kind: str
    cloud: str
    program: str


@dataclass
class Drifted:
    urn: str
    op: str
    properties: list[PropertyChange] = field(default_factory=list)

    @property
    def type(self) -> str:
        return urn_type(self.urn)

    @property
    def name(self) -> str:
        return self.urn.rsplit("::", 1)[-1]


def urn_type(urn: str) -> str:
    """``urn:pulumi:stack::project::parent$type::name`` -> ``type``."""
    parts = urn.split("::")
    return parts[2].rsplit("$", 1)[-1] if len(parts) >= 4 else ""


def split_path(path: str) -> list[str | int]:
    """``tags.Owner``, ``ingress[0].cidrBlocks``, ``tags["a.b"]`` -> keys and indexes."""
    parts: list[str | int] = []
    for index, quoted, plain in _PATH_PART.findall(path):
        if index:
            parts.append(int(index))
        elif quoted:
            parts.append(json.loads(f'"{quoted}"'))
        else:
            parts.append(plain)
    return parts


_MISSING = object()


def lookup(value: Any, path: list[str | int]) -> Any:
    for part in path:
        in_list = isinstance(part, int) and isinstance(value, list) and part < len(value)
        in_dict = isinstance(part, str) and isinstance(value, dict) and part in value
        if in_list or in_dict:
            value = value[part]
        else:
            return _MISSING
    return value


def is_secret(value: Any) -> bool:
    return value == SECRET or (isinstance(value, dict) and SECRET_SIG in value)


def show(value: Any, secret: bool = False) -> str:
    if value is _MISSING:
        return "(none)"
    if secret or is_secret(value):
        return SECRET

    def redact(v: Any) -> Any:
        if is_secret(v):
            return SECRET
        if isinstance(v, dict):
            return {k: redact(x) for k, x in v.items()}
        if isinstance(v, list):
            return [redact(x) for x in v]
        return v

    text = json.dumps(redact(value), sort_keys=True)
    if len(text) > MAX_VALUE_CHARS:
        text = text[: MAX_VALUE_CHARS - 1] + "…"
    return text


def _changes(step: dict[str, Any]) -> list[PropertyChange]:
    old = step.get("oldState") or {}
    new = step.get("newState") or {}
    secret_keys = set(old.get("additionalSecretOutputs") or []) | set(
        new.get("additionalSecretOutputs") or []
    )
    detailed = step.get("detailedDiff") or {}
    if not detailed:  # providers without a detailed diff: the top-level keys
        keys = list(step.get("diffReasons") or []) + list(step.get("replaceReasons") or [])
        detailed = {k: {"diffKind": "update"} for k in dict.fromkeys(keys)}
    changes = []
    for path in sorted(detailed):
        diff = detailed[path] or {}
        kind = str(diff.get("diffKind") or diff.get("kind") or "update")
        parts = split_path(path)
        secret = bool(parts) and parts[0] in secret_keys
        source = old.get("inputs") if diff.get("inputDiff") else old.get("outputs")
        cloud = lookup(source or {}, parts)
        if cloud is _MISSING:  # e.g. an input the outputs do not echo
            cloud = lookup(old.get("inputs") or {}, parts)
        program = lookup(new.get("inputs") or {}, parts)
        changes.append(PropertyChange(path, kind, show(cloud, secret), show(program, secret)))
    return changes


def parse(document: Any) -> tuple[list[Drifted], dict[str, int]]:
    """The drifted resources of a preview digest, and its change summary."""
    if not isinstance(document, dict):
        raise DriftError("expected a JSON object with 'steps' and 'changeSummary'")
    steps = document.get("steps") or []
    summary = document.get("changeSummary") or {}
    if not isinstance(steps, list) or not isinstance(summary, dict):
        raise DriftError("'steps' must be a list and 'changeSummary' an object")
    drifted: dict[str, Drifted] = {}
    for step in steps:
        if not isinstance(step, dict) or "op" not in step or "urn" not in step:
            raise DriftError(f"a step without 'op' and 'urn': {step!r:.200}")
        op, urn = str(step["op"]), str(step["urn"])
        has_diff = bool(step.get("detailedDiff") or step.get("diffReasons"))
        if op in UNCHANGED_OPS and not (op == "refresh" and has_diff):
            continue
        if urn_type(urn) == ROOT_TYPE and not has_diff:
            continue
        entry = drifted.setdefault(urn, Drifted(urn, "replace" if op in REPLACE_OPS else op))
        if op in REPLACE_OPS:
            entry.op = "replace"
        if op in ("delete-replaced",) and entry.properties:
            continue  # the replacement's create half already listed the properties
        for change in _changes(step):
            if change.path not in {c.path for c in entry.properties}:
                entry.properties.append(change)
    counts = {str(k): int(v) for k, v in summary.items() if isinstance(v, int | float)}
    return sorted(drifted.values(), key=lambda d: (d.type, d.name, d.urn)), counts


def is_drifted(resources: list[Drifted], summary: dict[str, int]) -> bool:
    changed = {op: n for op, n in summary.items() if op not in UNCHANGED_OPS and n}
    return bool(resources or changed)


OP_MEANING = {
    "update": "changed outside Pulumi",
    "create": "missing (deleted outside Pulumi)",
    "delete": "in the state but no longer declared",
    "replace": "would be replaced",
}


def render(resources: list[Drifted], summary: dict[str, int], stack: str | None = None) -> str:
    title = f"Drift report: stack `{stack}`" if stack else "Drift report"
    counts = ", ".join(f"{op} {n}" for op, n in sorted(summary.items())) or "none"
    lines = [f"## {title}", ""]
    if not is_drifted(resources, summary):
        lines += ["No drift: the cloud matches the program.", "", f"Change summary: {counts}."]
        return "\n".join(lines) + "\n"
    lines += [f"{len(resources)} resource(s) drifted. Change summary: {counts}.", ""]
    for r in resources:
        meaning = OP_MEANING.get(r.op, r.op)
        lines += [f"### `{r.name}` ({r.type}): {meaning}", "", f"- URN: `{r.urn}`", ""]
        if r.properties:
            lines += ["| property | diff | in the cloud | in the program |", "|---|---|---|---|"]
            for c in r.properties:
                cells = [f"`{c.path}`", c.kind, f"`{c.cloud}`", f"`{c.program}`"]
                lines.append("| " + " | ".join(x.replace("|", "\\|") for x in cells) + " |")
            lines.append("")
    lines.append(
        "Resolve: `pulumi up` restores the program's values; or change the program to "
        "adopt the cloud's (see docs/deploying.md, Drift)."
    )
    return "\n".join(lines) + "\n"


def report(path: Path, stack: str | None = None) -> tuple[str, int]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DriftError(f"{path}: {exc}") from exc
    resources, summary = parse(document)
    code = EXIT_DRIFTED if is_drifted(resources, summary) else EXIT_CLEAN
    return render(resources, summary, stack), code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.drift", description=(__doc__ or "").split("\n")[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    rep = sub.add_parser("report", help="markdown report of a `pulumi preview --json` file")
    rep.add_argument("file", type=Path)
    rep.add_argument("--stack", default=None, help="stack name for the title")
    args = parser.parse_args(argv)
    try:
        text, code = report(args.file, args.stack)
    except DriftError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    sys.stdout.write(text)
    return code


if __name__ == "__main__":
    sys.exit(main())
