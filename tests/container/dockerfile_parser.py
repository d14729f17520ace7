"""Just enough of the Dockerfile and .dockerignore grammars to test what the image will do.

Handles what our Dockerfile uses: parser directives and comments, backslash line continuations,
global ARG defaults substituted into FROM, stages, JSON (exec-form) CMD/ENTRYPOINT, and
`ENV KEY=VALUE ...`. Anything else a test needs is read from the raw instruction text.
"""

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case: FROM, RUN, COPY, ...
    arguments: str  # the rest of the logical line, continuations joined


@dataclass
class Stage:
    base: str  # the image reference, ARGs substituted
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def last_exec_form(self, keyword: str) -> list[str] | None:
        found = self.all(keyword)
        if not found:
            return None
        value = json.loads(found[-1].arguments)  # shell form is not JSON: fails loudly
        assert isinstance(value, list) and all(isinstance(v, str) for v in value), value
        return value

    @property
    def command(self) -> list[str]:
        """ENTRYPOINT + CMD, the argv the container starts with (exec form only)."""
        return (self.last_exec_form("ENTRYPOINT") or []) + (self.last_exec_form("CMD") or [])

    @property
    def env(self) -> dict[str, str]:
        values: dict[str, str] = {}
        for instruction in self.all("ENV"):
            for pair in shlex.split(instruction.arguments):
                key, separator, value = pair.partition("=")
                assert separator, f"legacy `ENV key value` form is not supported: {pair!r}"
                values[key] = value
        return values

    @property
    def user(self) -> str | None:
        users = self.all("USER")
        return users[-1].arguments.strip() if users else None


def logical_lines(text: str) -> list[str]:
    lines: list[str] = []
    current = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if stripped.startswith("#"):  # comments (and parser directives), also inside continuations
            continue
        if not stripped and not current:
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        current += stripped
        if current.strip():
            lines.append(current.strip())
        current = ""
    if current.strip():
        lines.append(current.strip())
    return lines


def parse_dockerfile(path: Path) -> list[Stage]:
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in logical_lines(path.read_text()):
        keyword, _, arguments = line.partition(" ")
        keyword = keyword.upper()
        arguments = arguments.strip()
        if keyword == "ARG" and not stages:
            name, _, default = arguments.partition("=")
            global_args[name] = default
        elif keyword == "FROM":
            words = [w for w in arguments.split() if not w.startswith("--")]
            base = re.sub(
                r"\$\{?(\w+)\}?", lambda m: global_args.get(m.group(1), m.group(0)), words[0]
            )
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base=base, name=name))
        else:
            assert stages, f"{keyword} before the first FROM"
            stages[-1].instructions.append(Instruction(keyword, arguments))
    return stages


def option_value(argv: list[str], option: str) -> str | None:
    """The value of `--option value` or `--option=value` in an argv, if present."""
    for index, word in enumerate(argv):
        if word == option and index + 1 < len(argv):
            return argv[index + 1]
        if word.startswith(option + "="):
            return word.split("=", 1)[1]
    return None


def replace_option(argv: list[str], option: str, value: str) -> list[str]:
    """argv with `--option X` (or `--option=X`) set to value; fails if the option is absent."""
    result = list(argv)
    for index, word in enumerate(result):
        if word == option:
            result[index + 1] = value
            return result
        if word.startswith(option + "="):
            result[index] = f"{option}={value}"
            return result
    raise AssertionError(f"{option} not found in {argv}")


# ---- .dockerignore (the Moby/BuildKit semantics we rely on: ordered patterns, `!` re-includes,
# `*` within one path segment, `**` across segments, a match on a parent directory counts).


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    out = ""
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if pattern.startswith("**/", index):
            out += "(?:.*/)?"
            index += 3
            continue
        if pattern.startswith("**", index):
            out += ".*"
            index += 2
            continue
        out += {"*": "[^/]*", "?": "[^/]"}.get(char, re.escape(char))
        index += 1
    return re.compile(out + r"\Z")


def dockerignore_patterns(path: Path) -> list[tuple[bool, re.Pattern[str]]]:
    patterns = []
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        exclude = not line.startswith("!")
        body = line.lstrip("!").strip().strip("/")
        patterns.append((exclude, _pattern_regex(body)))
    return patterns


def is_in_build_context(relative_path: str, patterns: list[tuple[bool, re.Pattern[str]]]) -> bool:
    parts = relative_path.strip("/").split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    excluded = False
    for exclude, regex in patterns:
        if any(regex.match(candidate) for candidate in candidates):
            excluded = exclude
    return not excluded
