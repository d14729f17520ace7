"""Offline plan diff: `python -m infra.plandiff BASE.json HEAD.json [--title STACK]` -> markdown.

Both files are the output of `python -m infra.plan --stack S --json`: a list of
`{type, name, parent, protect, inputs}` with secret values already replaced by "[secret]".
The diff is computed without a provider or credentials, so it can run on fork pull requests.

Identity of a resource is (type, parent, name). Pulumi's URN includes the parent chain, so
moving a resource to another parent without an alias is a delete and a create, and shows up
here as a removal plus an addition.

Whether a change replaces the resource cannot be known without the provider schema; we use
`REPLACE_ON_CHANGE` (in `infra/tools/replacement.py`), the inputs that force replacement for the
resource types this project uses (the Terraform AWS provider's ForceNew attributes, which
pulumi-aws inherits). The offline plan's mock ids, ARNs and generated names carry a hash of those
inputs, so a replaced resource hands its dependents new values and they are replaced in turn
when those values feed one of *their* replace-on-change inputs: the row names the cause
(`subnetIds ← network-private-0 replaced`). A replaced or removed protected resource is reported
as dangerous.

Inputs that hold JSON documents (container definitions, IAM policies, the provider's default
tags, lifecycle policies) are compared as JSON, and every change is named by its path:
`containerDefinitions[app].environment.LOG_LEVEL`, `policy.Statement[ReadAppSecrets].Resource`,
`rules[rate-limit-per-ip].statement.rateBasedStatement.limit`.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.tools.replacement import (  # noqa: F401 (ALL_INPUTS, REPLACE_ON_CHANGE: re-exported)
    ALL_INPUTS,
    REPLACE_ON_CHANGE,
    forces_replacement,
    identity_hash,
    revision,
)

REDACTED = "[secret]"
UNKNOWN = "[unknown]"
MAX_VALUE_CHARS = 60

# A list of objects is matched element by element through the first of these keys that every
# element has, with distinct values: containers by name, IAM statements by Sid, WAF rules by name,
# lifecycle rules by priority. Lists of {name, value} / {name, valueFrom} (a container's
# environment and secrets) are compared as maps from name to value.
LIST_ID_KEYS = ("name", "Sid", "sid", "containerName", "rulePriority", "priority", "id")
_NAME_VALUE = ({"name", "value"}, {"name", "valueFrom"})


class _Missing:
    def __repr__(self) -> str:
        return "(unset)"


_MISSING: Any = _Missing()


@dataclass(frozen=True)
class Resource:
    type: str
    name: str
    parent: str | None
    protect: bool
    inputs: dict[str, Any]

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.type, self.parent or "", self.name)


@dataclass(frozen=True)
class Delta:
    """One changed value: its path (``containerDefinitions[app].image``), the top-level input
    it belongs to, and the values before and after (``_MISSING`` when absent)."""

    path: str
    key: str
    before: Any
    after: Any


@dataclass
class Change:
    base: Resource
    head: Resource
    deltas: list[Delta]
    replace_keys: list[str]
    protect_changed: bool
    # top-level input -> logical names of replaced resources whose new identity it received
    causes: dict[str, list[str]] = field(default_factory=dict)
    # the same per changed path (``subnets[0]``)
    path_causes: dict[str, list[str]] = field(default_factory=dict)

    @property
    def keys(self) -> list[str]:
        """Changed input paths (``tags.stack``, ``containerDefinitions[app].image``)."""
        return [d.path for d in self.deltas]

    @property
    def replace(self) -> bool:
        return bool(self.replace_keys)

    def _direct(self, key: str) -> bool:
        """Some change of ``key`` is the head's own (not a replaced resource's new identity)."""
        return any(d.path not in self.path_causes for d in self.deltas if d.key == key)

    @property
    def cascaded(self) -> bool:
        """Replaced only because resources it depends on were replaced."""
        return self.replace and not any(self._direct(k) for k in self.replace_keys)

    @property
    def replace_reasons(self) -> list[str]:
        """``subnetIds ← network-private-0 replaced`` for a cascade, the input name when the
        change is the head's own (with the replaced resources it also carries, if any)."""
        reasons = []
        for k in self.replace_keys:
            names = ", ".join(self.causes.get(k, []))
            if not names:
                reasons.append(k)
            elif self._direct(k):
                reasons.append(f"{k} (also ← {names} replaced)")
            else:
                reasons.append(f"{k} ← {names} replaced")
        return reasons

    @property
    def protected(self) -> bool:
        # the protection that counts is the one on the live resource (base); head too
        return self.base.protect or self.head.protect


@dataclass
class PlanDiff:
    added: list[Resource] = field(default_factory=list)
    removed: list[Resource] = field(default_factory=list)
    changed: list[Change] = field(default_factory=list)
    unchanged: int = 0

    @property
    def replaced(self) -> list[Change]:
        return [c for c in self.changed if c.replace]

    @property
    def dangerous(self) -> list[str]:
        lines = [
            f"protected resource {_label(c.head)} would be replaced "
            f"(forced by {', '.join(f'`{r}`' for r in c.replace_reasons)})"
            for c in self.changed
            if c.replace and c.protected
        ]
        lines += [
            f"protected resource {_label(r)} would be removed" for r in self.removed if r.protect
        ]
        lines += [
            f"resource {_label(c.head)} would lose its `protect` flag"
            for c in self.changed
            if c.protect_changed and c.base.protect and not c.head.protect
        ]
        return lines

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)


class PlanError(ValueError):
    """The plan file is not a plan."""


def parse_plan(data: Any, source: str = "plan") -> list[Resource]:
    if not isinstance(data, list):
        raise PlanError(f"{source}: expected a JSON list of resources, got {type(data).__name__}")
    resources = []
    for i, item in enumerate(data):
        if not isinstance(item, dict) or not isinstance(item.get("type"), str):
            raise PlanError(f"{source}[{i}]: expected an object with a string 'type'")
        if not isinstance(item.get("name"), str):
            raise PlanError(f"{source}[{i}]: expected a string 'name'")
        inputs = item.get("inputs") or {}
        if not isinstance(inputs, dict):
            raise PlanError(f"{source}[{i}]: 'inputs' must be an object")
        resources.append(
            Resource(
                type=item["type"],
                name=item["name"],
                parent=item.get("parent"),
                protect=bool(item.get("protect", False)),
                inputs=inputs,
            )
        )
    return resources


def load_plan(path: str | Path) -> list[Resource]:
    p = Path(path)
    text = p.read_text(encoding="utf-8").strip()
    if not text:
        return []
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PlanError(f"{p}: not JSON ({exc})") from exc
    return parse_plan(data, str(p))


# --- structural diff -----------------------------------------------------------------------


def _json_document(value: Any) -> Any:
    """The parsed document if ``value`` is a string holding a JSON object or array."""
    if isinstance(value, str) and value.lstrip()[:1] in ("{", "["):
        try:
            parsed = json.loads(value)
        except ValueError:
            return _MISSING
        if isinstance(parsed, dict | list):
            return parsed
    return _MISSING


def _as_name_map(items: list[Any]) -> dict[str, Any] | None:
    """``[{"name": "A", "value": "1"}]`` -> ``{"A": "1"}`` (environment and secrets lists)."""
    if not items or not all(isinstance(i, dict) and set(i) in _NAME_VALUE for i in items):
        return None
    names = [i["name"] for i in items]
    if len(set(names)) != len(names):
        return None
    return {i["name"]: i.get("value", i.get("valueFrom")) for i in items}


def _id_key(*lists: list[Any]) -> str | None:
    for candidate in LIST_ID_KEYS:
        ok = True
        for items in lists:
            ids = [i.get(candidate) if isinstance(i, dict) else None for i in items]
            if any(v is None or isinstance(v, dict | list) for v in ids) or len(
                set(map(str, ids))
            ) != len(ids):
                ok = False
                break
        if ok:
            return candidate
    return None


def _member(path: str, key: Any) -> str:
    return f"{path}.{key}"


def _diff_values(before: Any, after: Any, path: str, key: str, out: list[Delta]) -> None:
    if before == after:
        return
    doc_before, doc_after = _json_document(before), _json_document(after)
    if doc_before is not _MISSING and doc_after is not _MISSING:
        _diff_values(doc_before, doc_after, path, key, out)
        return
    if isinstance(before, dict) and isinstance(after, dict):
        for k in sorted(set(before) | set(after), key=str):
            _diff_values(
                before.get(k, _MISSING), after.get(k, _MISSING), _member(path, k), key, out
            )
        return
    if isinstance(before, list) and isinstance(after, list):
        as_maps = _as_name_map(before), _as_name_map(after)
        if as_maps[0] is not None and as_maps[1] is not None:
            _diff_values(as_maps[0], as_maps[1], path, key, out)
            return
        if before and after and all(isinstance(i, dict) for i in before + after):
            ident = _id_key(before, after)
            if ident is not None:
                old = {str(i[ident]): i for i in before}
                new = {str(i[ident]): i for i in after}
                order = list(old) + [k for k in new if k not in old]
                for k in order:
                    _diff_values(
                        old.get(k, _MISSING), new.get(k, _MISSING), f"{path}[{k}]", key, out
                    )
                return
        if len(before) == len(after):
            for i, (b, a) in enumerate(zip(before, after, strict=True)):
                _diff_values(b, a, f"{path}[{i}]", key, out)
            return
    out.append(Delta(path=path, key=key, before=before, after=after))


def diff_inputs(before: dict[str, Any], after: dict[str, Any]) -> list[Delta]:
    """Every changed value between two input maps, by path (JSON documents descended into)."""
    out: list[Delta] = []
    for k in sorted(set(before) | set(after), key=str):
        _diff_values(before.get(k, _MISSING), after.get(k, _MISSING), str(k), str(k), out)
    return out


def _replace_keys(rtype: str, deltas: list[Delta]) -> list[str]:
    return sorted({d.key for d in deltas if forces_replacement(rtype, d.key)})


# --- cascades ------------------------------------------------------------------------------


def _markers(resource: Resource, identity: str) -> list[re.Pattern[str]]:
    """How the identity of ``resource`` shows up in its dependents' inputs: the hash in every
    mock id, ARN and generated name; for a task definition, also the revision in its ARN."""
    markers = [re.compile(rf"(?<![0-9a-f]){identity}(?![0-9a-f])")]
    if resource.type == "aws:ecs/taskDefinition:TaskDefinition":
        family = re.escape(str(resource.inputs.get("family", resource.name)))
        markers.append(re.compile(rf"task-definition/{family}:{revision(identity)}(?![0-9])"))
    return markers


def _text(value: Any) -> str:
    return "" if value is _MISSING else json.dumps(value, sort_keys=True, default=str)


def _attribute_causes(changes: list[Change], base: dict, head: dict) -> None:
    """Name, for each changed input, the replaced resources whose new identity it carries."""
    moved = []
    for key in base.keys() & head.keys():
        b, h = base[key], head[key]
        before_id = identity_hash(b.type, b.name, b.inputs)
        after_id = identity_hash(h.type, h.name, h.inputs)
        if before_id != after_id:
            moved.append((key, h.name, _markers(b, before_id), _markers(h, after_id)))
    if not moved:
        return
    for change in changes:
        for d in change.deltas:
            before, after = _text(d.before), _text(d.after)
            names = sorted(
                {
                    name
                    for moved_key, name, old, new in moved
                    if moved_key != change.head.key
                    and any(m.search(before) for m in old)
                    and any(m.search(after) for m in new)
                }
            )
            if names:
                change.path_causes[d.path] = names
                change.causes[d.key] = sorted({*change.causes.get(d.key, []), *names})


def diff_plans(base: list[Resource], head: list[Resource]) -> PlanDiff:
    base_by_key = {r.key: r for r in base}
    head_by_key = {r.key: r for r in head}
    result = PlanDiff()
    for key in sorted(head_by_key.keys() - base_by_key.keys()):
        result.added.append(head_by_key[key])
    for key in sorted(base_by_key.keys() - head_by_key.keys()):
        result.removed.append(base_by_key[key])
    for key in sorted(base_by_key.keys() & head_by_key.keys()):
        b, h = base_by_key[key], head_by_key[key]
        deltas = diff_inputs(b.inputs, h.inputs)
        protect_changed = b.protect != h.protect
        if not deltas and not protect_changed:
            result.unchanged += 1
            continue
        result.changed.append(
            Change(
                base=b,
                head=h,
                deltas=deltas,
                replace_keys=_replace_keys(h.type, deltas),
                protect_changed=protect_changed,
            )
        )
    _attribute_causes(result.changed, base_by_key, head_by_key)
    return result


# --- rendering ---------------------------------------------------------------------------


def _label(r: Resource) -> str:
    return f"`{r.name}` (`{r.type}`)"


def _short_type(rtype: str) -> str:
    # "aws:rds/instance:Instance" -> "aws:rds:Instance"; keeps tables narrow
    try:
        pkg, mod_and_name = rtype.split(":", 1)
        mod, name = mod_and_name.split(":", 1)
        return f"{pkg}:{mod.split('/')[0]}:{name}"
    except ValueError:
        return rtype


_SECRET_WORDS = ("password", "secret", "token", "authtoken", "privatekey", "credential")


def _is_secret_path(path: str) -> bool:
    """A value under a secret-sounding key (``masterPassword``, ``secrets.JWT_SECRET``); list
    element names in brackets (``Statement[ReadAppSecrets]``) are labels, not keys."""
    keys = re.sub(r"\[[^\]]*\]", "", path).lower().replace("_", "")
    return any(w in keys for w in _SECRET_WORDS)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("`", "'")


def _render_value(path: str, value: Any) -> str:
    if value is _MISSING:
        return "(unset)"
    if value == REDACTED or _is_secret_path(path):
        return REDACTED
    if value == UNKNOWN:
        return UNKNOWN
    text = json.dumps(value, sort_keys=True, default=str)
    if len(text) > MAX_VALUE_CHARS:
        return "(long value)"
    return _cell(text)


def _scalar_list(value: Any) -> bool:
    return isinstance(value, list) and all(not isinstance(v, dict | list) for v in value)


def _elide_common_prefix(before: str, after: str) -> tuple[str, str]:
    """Two long strings shown by where they differ: ``…dev-app:41`` → ``…dev-app:97``."""
    common = 0
    for x, y in zip(before, after, strict=False):
        if x != y:
            break
        common += 1
    cut = max(0, common - 16)

    def shown(text: str) -> str:
        tail = text[cut:]
        if len(tail) > MAX_VALUE_CHARS:
            tail = tail[: MAX_VALUE_CHARS - 1] + "…"
        return ("…" if cut else "") + _cell(tail)

    return shown(before), shown(after)


def _render_item(value: Any) -> str:
    text = json.dumps(value, default=str)
    return _cell(text if len(text) <= MAX_VALUE_CHARS else "…" + text[-(MAX_VALUE_CHARS - 1) :])


def _render_delta(d: Delta) -> str:
    path = _cell(d.path)
    before, after = _render_value(d.path, d.before), _render_value(d.path, d.after)
    if (
        "(long value)" in (before, after)
        and isinstance(d.before, str)
        and isinstance(d.after, str)
        and REDACTED not in (before, after)
    ):
        before, after = _elide_common_prefix(d.before, d.after)
    if before == after == REDACTED:
        return f"`{path}`"
    if (
        "(long value)" in (before, after)
        and _scalar_list(d.before)
        and _scalar_list(d.after)
        and not _is_secret_path(d.path)
    ):
        removed = [v for v in d.before if v not in d.after]
        added = [v for v in d.after if v not in d.before]
        parts = [f"removed `{_render_item(v)}`" for v in removed]
        parts += [f"added `{_render_item(v)}`" for v in added]
        return f"`{path}`: {', '.join(parts) or 'reordered'}"
    return f"`{path}`: `{before}` → `{after}`"


def _change_detail(c: Change) -> str:
    parts = []
    for d in c.deltas:
        cause = ", ".join(f"`{n}`" for n in c.path_causes.get(d.path, []))
        if d.key in c.replace_keys:
            mark = (
                f" (forces replacement: ← {cause} replaced)" if cause else " (forces replacement)"
            )
        else:
            mark = f" (← {cause} replaced)" if cause else ""
        line = _render_delta(d) + mark
        if line not in parts:
            parts.append(line)
    if c.protect_changed:
        parts.append(f"`protect`: `{c.base.protect}` → `{c.head.protect}`")
    return "<br>".join(parts)


def _action(c: Change) -> str:
    if not c.replace:
        return "update"
    return "**replace (protected)**" if c.protected else "replace"


def summary_line(d: PlanDiff) -> str:
    replaced = d.replaced
    change = f"{len(d.changed)} to change"
    if replaced:
        cascaded = sum(1 for c in replaced if c.cascaded)
        change += f" ({len(replaced)} replaced"
        change += f", {cascaded} of them by cascade)" if cascaded else ")"
    return f"{len(d.added)} to add, {change}, {len(d.removed)} to remove, {d.unchanged} unchanged"


def render_markdown(d: PlanDiff, title: str | None = None) -> str:
    out: list[str] = []
    heading = f"### Plan diff: {title}" if title else "### Plan diff"
    out.append(heading)
    out.append("")
    out.append(f"**Summary:** {summary_line(d)}.")
    out.append("")
    for line in d.dangerous:
        out.append(f"- **⚠️ dangerous: {line}**")
    if d.dangerous:
        out.append("")
    if d.empty:
        out.append("No changes.")
        return "\n".join(out) + "\n"
    if d.added:
        out += ["#### Added", "", "| resource | type | parent |", "|---|---|---|"]
        out += [f"| `{r.name}` | `{_short_type(r.type)}` | {r.parent or ''} |" for r in d.added]
        out.append("")
    if d.removed:
        out += ["#### Removed", "", "| resource | type | protected |", "|---|---|---|"]
        out += [
            f"| `{r.name}` | `{_short_type(r.type)}` | {'**yes**' if r.protect else 'no'} |"
            for r in d.removed
        ]
        out.append("")
    if d.changed:
        out += ["#### Changed", "", "| resource | type | action | inputs |", "|---|---|---|---|"]
        for c in d.changed:
            out.append(
                f"| `{c.head.name}` | `{_short_type(c.head.type)}` | {_action(c)} | "
                f"{_change_detail(c)} |"
            )
        out.append("")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.plandiff",
        description="Markdown diff of two `infra.plan --json` outputs (base and head).",
    )
    parser.add_argument("base", help="plan JSON of the base (an empty file means no resources)")
    parser.add_argument("head", help="plan JSON of the head")
    parser.add_argument("--title", help="heading, e.g. the stack name")
    parser.add_argument(
        "--fail-on-dangerous",
        action="store_true",
        help="exit 3 when a protected resource would be replaced or removed",
    )
    args = parser.parse_args(argv)
    try:
        d = diff_plans(load_plan(args.base), load_plan(args.head))
    except (OSError, PlanError) as exc:
        print(f"plandiff: {exc}", file=sys.stderr)
        return 1
    sys.stdout.write(render_markdown(d, args.title))
    if args.fail_on_dangerous and d.dangerous:
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
