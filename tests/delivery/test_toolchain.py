"""The locked toolchain: every install comes from a hashed lock file that `uv pip compile` wrote
from pyproject.toml, the image's base is pinned by digest, and Renovate can propose an update for
each of those pins (the lock files, the base image digest, the GitHub Actions, the pulumi CLI
together with the pulumi SDK, the uv that `make lock` runs). No network: everything is read from
the repository."""

import json
import re
import shlex
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.container.dockerfile_parser import (
    dockerignore_patterns,
    is_in_build_context,
    parse_dockerfile,
)

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
FULL_LOCK = "requirements.lock"  # the project with every extra: `make install`, CI, workflows
RUNTIME_LOCK = "requirements.runtime.lock"  # [project.dependencies] only: the Dockerfile
LOCKS = (FULL_LOCK, RUNTIME_LOCK)
WORKFLOWS = ROOT / ".github" / "workflows"
HEADER_COMMAND = re.compile(r"^#    (uv pip compile .+)$", re.MULTILINE)
DIGEST_PINNED_BASE = re.compile(r"python:3\.\d+-slim-\w+@sha256:[0-9a-f]{64}")
# Options Renovate's pip-compile manager accepts in a `uv pip compile` header (renovate 42-44,
# lib/modules/manager/pip-compile/common.ts); any other option makes it skip the file. Options
# that take a value must be written `--option=value`.
RENOVATE_UV_FLAGS = {"-v", "--generate-hashes", "--emit-index-url", "--all-extras", "--universal"}
RENOVATE_UV_VALUE_OPTIONS = {"--output-file", "--python-version", "--constraints", "--extra"}


@dataclass(frozen=True)
class Pin:
    name: str  # canonical
    version: str
    marker: str  # "" when the pin applies everywhere
    hashes: frozenset[str]
    line: str


def read(name: str) -> str:
    return (ROOT / name).read_text()


def parse_lock(name: str) -> list[Pin]:
    """The requirement lines of a lock file, continuations joined, comment lines dropped."""
    pins = []
    for line in read(name).replace("\\\n", " ").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        assert not line.startswith("-"), f"{name}: option line {line!r} (index/find-links/-e)"
        requirement_text, *hash_options = line.split(" --hash=")
        requirement = Requirement(requirement_text.strip())
        specifiers = list(requirement.specifier)
        assert len(specifiers) == 1 and specifiers[0].operator == "==", f"{name}: {line[:120]}"
        assert "*" not in specifiers[0].version, f"{name}: wildcard pin {requirement_text}"
        hashes = frozenset(h.strip() for h in hash_options)
        pins.append(
            Pin(
                name=canonicalize_name(requirement.name),
                version=specifiers[0].version,
                marker=str(requirement.marker or ""),
                hashes=hashes,
                line=requirement_text.strip(),
            )
        )
    return pins


def via_annotations(name: str) -> dict[str, set[str]]:
    """What uv wrote under each pin (`# via x`, `# via` + `#   x` lines): who requires it."""
    result: dict[str, set[str]] = {}
    current: set[str] | None = None
    for line in read(name).splitlines():
        requirement = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)==", line)
        if requirement:
            current = result.setdefault(canonicalize_name(requirement.group(1)), set())
        elif current is not None and line.startswith("    #"):
            text = line.strip().removeprefix("#").strip().removeprefix("via").strip()
            if text:
                current.add(text)
    return result


def header_command(name: str) -> list[str]:
    match = HEADER_COMMAND.search(read(name))
    assert match, f"{name} has no `uv pip compile` header (regenerate it with `make lock`)"
    return shlex.split(match.group(1))


def options(command: list[str]) -> dict[str, str | None]:
    return {
        word.split("=", 1)[0]: (word.split("=", 1)[1] if "=" in word else None)
        for word in command
        if word.startswith("-")
    }


def pyproject_requirements(*, extras: bool) -> list[Requirement]:
    project = PYPROJECT["project"]
    texts = list(project["dependencies"])
    if extras:
        for group in project["optional-dependencies"].values():
            texts.extend(group)
    return [Requirement(text) for text in texts]


def makefile_rule(target: str) -> tuple[str, list[str]]:
    """(prerequisites, recipe lines) of a Makefile rule."""
    lines = read("Makefile").splitlines()
    target_specific_variable = re.compile(rf"{re.escape(target)}:\s*\w+\s*[:?+]?=")
    (start,) = [
        n
        for n, line in enumerate(lines)
        if line.startswith(f"{target}:") and not target_specific_variable.match(line)
    ]
    prerequisites = lines[start].split(":", 1)[1].split("##")[0]
    recipe = []
    for line in lines[start + 1 :]:
        if not line.startswith("\t"):
            break
        recipe.append(line.strip())
    return prerequisites, recipe


def renovate() -> dict:
    return json.loads(read("renovate.json"))


def js_regex(pattern: str) -> re.Pattern[str]:
    """A Renovate (JavaScript) regex as Python's: `/.../` delimiters dropped, `(?<name>` groups."""
    if len(pattern) > 1 and pattern.startswith("/") and pattern.endswith("/"):
        pattern = pattern[1:-1]
    return re.compile(pattern.replace("(?<", "(?P<"))


def custom_manager(marker: str) -> dict:
    (manager,) = [
        m for m in renovate()["customManagers"] if any(marker in s for s in m["matchStrings"])
    ]
    return manager


def locked_versions(name: str, lock: str = FULL_LOCK) -> set[str]:
    return {pin.version for pin in parse_lock(lock) if pin.name == canonicalize_name(name)}


# ---- the lock files


@pytest.mark.parametrize("lock", LOCKS)
def test_lock_is_written_by_uv_pip_compile_from_pyproject(lock: str) -> None:
    command = header_command(lock)
    assert command[:4] == ["uv", "pip", "compile", "pyproject.toml"], command
    opts = options(command)
    assert "--generate-hashes" in opts, command
    assert "--universal" in opts, "one lock for Linux amd64/arm64, CI runners and laptops"
    assert opts.get("--python-version") == "3.11", command
    assert opts.get("--output-file") == lock, command
    assert not {"--emit-index-url", "--index-url", "--extra-index-url"} & set(opts), command


@pytest.mark.parametrize("lock", LOCKS)
def test_lock_header_is_one_renovate_can_rerun(lock: str) -> None:
    """Renovate regenerates the lock from its header command; an unknown option (or `-o x`
    instead of `--output-file=x`) makes its pip-compile manager skip the file silently."""
    for word in header_command(lock)[4:]:
        assert word.startswith("--") or word == "-v", f"{lock}: positional {word!r}"
        option, has_value, _ = word.partition("=")
        if has_value:
            assert option in RENOVATE_UV_VALUE_OPTIONS, f"{lock}: Renovate rejects {word}"
        else:
            assert option in RENOVATE_UV_FLAGS, f"{lock}: Renovate rejects {word}"


def test_both_locks_are_compiled_with_the_same_options() -> None:
    full, runtime = options(header_command(FULL_LOCK)), options(header_command(RUNTIME_LOCK))
    assert "--all-extras" in full
    assert not {"--all-extras", "--extra"} & set(runtime), "the image gets no dev/infra/bench"
    assert runtime.pop("--constraints") == FULL_LOCK, "the runtime lock is the full lock's subset"
    del full["--all-extras"], full["--output-file"], runtime["--output-file"]
    assert full == runtime


@pytest.mark.parametrize("lock", LOCKS)
def test_every_requirement_is_pinned_exactly_and_hashed(lock: str) -> None:
    pins = parse_lock(lock)
    assert len(pins) > 20, f"{lock} looks truncated: {len(pins)} pins"
    unhashed = [pin.line for pin in pins if not pin.hashes]
    assert unhashed == [], f"{lock}: pins without --hash: {unhashed}"
    for pin in pins:
        for digest in pin.hashes:
            assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest), f"{lock}: {pin.name} {digest}"
    assert "://" not in read(lock), f"{lock} names an index or URL"


@pytest.mark.parametrize(("lock", "extras"), [(FULL_LOCK, True), (RUNTIME_LOCK, False)])
def test_lock_pins_every_pyproject_dependency_within_its_range(lock: str, extras: bool) -> None:
    pins = parse_lock(lock)
    for requirement in pyproject_requirements(extras=extras):
        versions = [p.version for p in pins if p.name == canonicalize_name(requirement.name)]
        assert versions, f"{requirement} is not in {lock}: run `make lock`"
        for version in versions:
            assert requirement.specifier.contains(Version(version), prereleases=True), (
                f"{lock} pins {requirement.name}=={version}, outside pyproject's {requirement}"
            )


def test_every_pyproject_dependency_has_a_lower_bound() -> None:
    """Runtime and extras alike: `>=` the oldest release the code works with, so no resolver can
    pick one older (the comment beside each bound names the feature that needs it)."""
    unbounded = [
        str(requirement)
        for requirement in pyproject_requirements(extras=True)
        if not any(specifier.operator == ">=" for specifier in requirement.specifier)
    ]
    assert unbounded == [], f"pyproject.toml requirements without a `>=` lower bound: {unbounded}"


def test_runtime_lock_has_no_extra_only_package() -> None:
    """A package that only an extra asks for is in the image's lock only when a runtime
    dependency needs it too (pyyaml: uvicorn[standard]); uv then names that dependency."""
    runtime_direct = {canonicalize_name(r.name) for r in pyproject_requirements(extras=False)}
    extra_only = {
        canonicalize_name(r.name) for r in pyproject_requirements(extras=True)
    } - runtime_direct
    assert {"pulumi", "pytest", "ruff"} <= extra_only
    needed_by = via_annotations(RUNTIME_LOCK)
    for name in extra_only & set(needed_by):
        assert needed_by[name] and "service (pyproject.toml)" not in needed_by[name], (
            f"{name} is in {RUNTIME_LOCK} as a direct requirement: the image gets an extra"
        )


def test_shared_packages_have_the_same_pin_and_hashes_in_both_locks() -> None:
    full = {(p.name, p.marker): p for p in parse_lock(FULL_LOCK)}
    for pin in parse_lock(RUNTIME_LOCK):
        twin = full.get((pin.name, pin.marker))
        assert twin is not None, f"{pin.line} is in {RUNTIME_LOCK} but not in {FULL_LOCK}"
        assert (pin.version, pin.hashes) == (twin.version, twin.hashes), (
            f"{pin.name}: {RUNTIME_LOCK} pins {pin.version}, {FULL_LOCK} pins {twin.version}"
        )


# ---- make: installs from the lock, regenerates it


def test_make_install_installs_from_the_lock_with_hashes() -> None:
    prerequisites, recipe = makefile_rule("$(STAMP)")
    assert FULL_LOCK in prerequisites.split(), "editing the lock must re-run make install"
    installs = [line for line in recipe if re.search(r"\bpip install\b", line)]
    (locked,) = [line for line in installs if FULL_LOCK in line]
    assert "--require-hashes" in locked, locked
    for line in installs:
        assert "--require-hashes" in line or "--no-deps" in line, (
            f"an install that resolves dependencies outside the lock: {line}"
        )
    assert any("--no-deps" in line and "--editable ." in line for line in installs), installs
    assert any(re.search(r"\bpip check\b", line) for line in recipe), recipe


def test_make_dev_installs_only_the_runtime_lock_with_hashes() -> None:
    prerequisites, recipe = makefile_rule("$(SERVICE_STAMP)")
    assert "requirements.runtime.lock" in prerequisites.split()
    installs = [line for line in recipe if re.search(r"\bpip install\b", line)]
    (locked,) = [line for line in installs if "requirements.runtime.lock" in line]
    assert "--require-hashes" in locked and FULL_LOCK not in " ".join(installs), installs
    assert "--quiet" not in locked, "the first run should show progress"
    assert any(re.search(r"\bpip check\b", line) for line in recipe), recipe
    # dev, migrate, admin and worker reach it without the full lock; the full install implies it
    assert makefile_rule("migrate")[0].split() == ["$(SERVICE_STAMP)"]
    assert makefile_rule("dev")[0].split() == ["migrate"]
    assert makefile_rule("worker")[0].split() == ["migrate"]
    assert "$(SERVICE_STAMP)" in makefile_rule("$(STAMP)")[1][-1]


def test_make_lock_writes_exactly_the_commands_in_the_lock_headers() -> None:
    _, recipe = makefile_rule("lock")
    script = " ".join(recipe)
    common = re.search(r'compile="\S*/uv (?:--quiet )?pip compile ([^"$]+?)\s*\$\(if', script)
    assert common, f"no `uv pip compile` in the lock recipe: {script}"
    tails = re.findall(r"\$\$compile ([^;]+);?", script)
    expected = {f"uv pip compile {common.group(1)} {tail.strip()}" for tail in tails}
    actual = {" ".join(header_command(lock)) for lock in LOCKS}
    assert actual == expected


def test_make_lock_pins_the_uv_it_runs() -> None:
    (line,) = [line for line in read("Makefile").splitlines() if line.startswith("lock: UV_")]
    assert re.fullmatch(r"lock: UV_VERSION := \d+\.\d+\.\d+", line), line
    _, recipe = makefile_rule("lock")
    assert any("uv==$(UV_VERSION)" in line for line in recipe), recipe


# ---- the image


def test_dockerfile_base_image_is_pinned_by_digest() -> None:
    arg_lines = [
        line for line in read("Dockerfile").splitlines() if line.startswith("ARG PYTHON_IMAGE=")
    ]
    assert len(arg_lines) == 1, arg_lines
    image = arg_lines[0].split("=", 1)[1]
    assert DIGEST_PINNED_BASE.fullmatch(image), f"not a tag@sha256 digest pin: {image}"
    for stage in parse_dockerfile(ROOT / "Dockerfile"):
        assert stage.base == image, f"stage {stage.name} is built FROM {stage.base}"


def test_dockerfile_installs_the_runtime_lock_with_hashes() -> None:
    builder, *_, runtime = parse_dockerfile(ROOT / "Dockerfile")
    (wheels,) = [i.arguments for i in builder.all("RUN") if RUNTIME_LOCK in i.arguments]
    assert "pip wheel" in wheels and "--require-hashes" in wheels, wheels
    assert "--only-binary=:all:" in wheels, wheels
    assert next(i.arguments for i in builder.all("COPY")) == f"{RUNTIME_LOCK} ./"
    runtime_runs = " ".join(i.arguments for i in runtime.all("RUN"))
    assert f"--requirement /tmp/{RUNTIME_LOCK}" in runtime_runs, runtime_runs
    assert "--require-hashes" in runtime_runs and "--no-deps" in runtime_runs, runtime_runs
    assert not re.search(rf"(?<![.\w-]){re.escape(FULL_LOCK)}", read("Dockerfile")), (
        "the image installs the runtime lock, never the one with every extra"
    )


def test_dockerignore_lets_the_runtime_lock_in_and_keeps_the_full_lock_out() -> None:
    patterns = dockerignore_patterns(ROOT / ".dockerignore")
    assert is_in_build_context(RUNTIME_LOCK, patterns)
    assert not is_in_build_context(FULL_LOCK, patterns)


# ---- Renovate


def test_renovate_config_matches_renovates_schema() -> None:
    checker = Path(sys.executable).parent / "check-jsonschema"
    result = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.renovate", str(ROOT / "renovate.json")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_renovate_runs_every_manager_the_pins_need() -> None:
    config = renovate()
    assert {"pip-compile", "dockerfile", "github-actions", "custom.regex"} <= set(
        config["enabledManagers"]
    )
    assert "pep621" not in config["enabledManagers"], "pip-compile updates pyproject.toml itself"
    assert config["dockerfile"]["pinDigests"] is True
    assert config["lockFileMaintenance"]["enabled"] is True
    patterns = [js_regex(p) for p in config["pip-compile"]["managerFilePatterns"]]
    for name in [*LOCKS, f"sub/{FULL_LOCK}"]:
        assert any(p.search(name) for p in patterns), f"pip-compile does not read {name}"
    for name in ["pyproject.toml", "requirements.txt", "Dockerfile"]:
        assert not any(p.search(name) for p in patterns), name


def test_renovate_moves_lock_pins_within_pyproject_ranges() -> None:
    rules = [r for r in renovate()["packageRules"] if r.get("matchManagers") == ["pip-compile"]]
    assert [r.get("rangeStrategy") for r in rules] == ["update-lockfile"]


@pytest.mark.parametrize(
    "line",
    [
        '          pulumi-version: "3.272.0"',
        "          pulumi-version: '3.272.0'",
        "          pulumi-version: 3.272.0",
    ],
)
def test_renovate_pulumi_cli_regex_matches_a_workflow_line(line: str) -> None:
    manager = custom_manager("pulumi-version")
    (pattern,) = manager["matchStrings"]
    match = js_regex(pattern).search(line)
    assert match and match.group("currentValue") == "3.272.0", (pattern, line)
    assert any(
        js_regex(p).search(".github/workflows/deploy.yml") for p in manager["managerFilePatterns"]
    )
    assert (manager["datasourceTemplate"], manager["depNameTemplate"]) == ("pypi", "pulumi")


def test_every_pulumi_cli_pin_in_the_workflows_is_seen_by_renovate_and_equals_the_sdk() -> None:
    (pattern,) = custom_manager("pulumi-version")["matchStrings"]
    regex = js_regex(pattern)
    (sdk,) = locked_versions("pulumi")
    for workflow in sorted(WORKFLOWS.glob("*.yml")):
        for line in workflow.read_text().splitlines():
            if "pulumi-version" not in line or line.lstrip().startswith("#"):
                continue
            match = regex.search(line)
            assert match, f"{workflow.name}: Renovate's regex misses {line.strip()!r}"
            assert match.group("currentValue") == sdk, (
                f"{workflow.name} installs pulumi CLI {match.group('currentValue')}, "
                f"the lock pins the SDK at {sdk}"
            )


def _rule_matches(rule: dict, dep: dict) -> bool:
    keys = {"matchManagers": "manager", "matchDatasources": "datasource"}
    keys["matchPackageNames"] = "packageName"
    return all(dep[field] in rule[key] for key, field in keys.items() if key in rule)


def test_renovate_groups_the_pulumi_cli_with_the_pulumi_sdk() -> None:
    cli = {"manager": "custom.regex", "datasource": "pypi", "packageName": "pulumi"}
    sdk = {"manager": "pip-compile", "datasource": "pypi", "packageName": "pulumi"}
    manager = custom_manager("pulumi-version")
    assert (manager["datasourceTemplate"], manager["depNameTemplate"]) == (
        cli["datasource"],
        cli["packageName"],
    )
    rules = renovate()["packageRules"]
    groups = {r["groupName"] for r in rules if "groupName" in r and _rule_matches(r, cli)}
    assert groups, "no packageRule groups the pulumi CLI"
    assert groups == {r["groupName"] for r in rules if "groupName" in r and _rule_matches(r, sdk)}
    disabled = [r for r in rules if r.get("enabled") is False]
    assert not any(_rule_matches(r, d) for r in disabled for d in (cli, sdk))


def test_renovate_proposes_the_base_image_digest_but_not_another_python() -> None:
    (rule,) = [r for r in renovate()["packageRules"] if r.get("matchManagers") == ["dockerfile"]]
    assert rule["enabled"] is False and rule["matchPackageNames"] == ["python"]
    assert "digest" not in rule["matchUpdateTypes"], rule


def test_renovate_uv_regex_finds_the_uv_make_lock_runs() -> None:
    manager = custom_manager("UV_VERSION")
    (pattern,) = manager["matchStrings"]
    matches = js_regex(pattern).findall(read("Makefile"))
    (line,) = [line for line in read("Makefile").splitlines() if line.startswith("lock: UV_")]
    assert matches == [line.rsplit(" ", 1)[1]], matches
    assert any(js_regex(p).search("Makefile") for p in manager["managerFilePatterns"])
