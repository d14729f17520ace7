"""Static checks of the Dockerfile and .dockerignore: what cannot be built here must be right."""

import importlib
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from infra.components.service import RDS_CA_BUNDLE
from tests.container.conftest import DOCKERFILE, REPO, RUNTIME_LOCK
from tests.container.dockerfile_parser import (
    Stage,
    dockerignore_patterns,
    is_in_build_context,
    option_value,
)

ALB_IDLE_TIMEOUT_SECONDS = 60
ECS_STOP_TIMEOUT_SECONDS = 30
COMPILERS = re.compile(
    r"\b(gcc|g\+\+|clang|cc|make|build-essential|apt-get|apt|apk|rustc|cargo|"
    r"python3?-dev|libpq-dev)\b"
)


def test_dockerfile_is_hadolint_clean() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    result = subprocess.run(
        [str(hadolint), "--format", "json", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    findings = json.loads(result.stdout or "[]")
    assert findings == [], f"hadolint findings: {json.dumps(findings, indent=2)}\n{result.stderr}"
    assert result.returncode == 0, result.stderr


def test_dockerfile_is_multi_stage_builder_then_runtime(dockerfile_stages: list[Stage]) -> None:
    assert len(dockerfile_stages) >= 2, "expected a builder stage and a runtime stage"
    builder, runtime = dockerfile_stages[0], dockerfile_stages[-1]
    builder_runs = " ".join(i.arguments for i in builder.all("RUN"))
    assert "pip wheel" in builder_runs, "the builder stage should build wheels"
    runtime_runs = " ".join(i.arguments for i in runtime.all("RUN"))
    assert "--no-index" in runtime_runs and "--find-links" in runtime_runs, (
        "the runtime stage should install only from the builder's wheels"
    )
    assert f"from={builder.name}" in runtime_runs or any(
        f"--from={builder.name}" in i.arguments for i in runtime.all("COPY")
    ), "the runtime stage should take its wheels from the builder stage"


def test_dockerfile_builder_wheels_only_runtime_dependencies(
    dockerfile_stages: list[Stage],
) -> None:
    builder_runs = " ".join(i.arguments for i in dockerfile_stages[0].all("RUN"))
    assert f"--requirement {RUNTIME_LOCK}" in builder_runs, "deps come from the runtime lock"
    assert "--require-hashes" in builder_runs, "every wheel is checked against the lock's hashes"
    assert not re.search(r"\.\[|optional-dependencies|requirements\.lock", builder_runs), (
        "no dev/infra/bench extras"
    )


def test_dockerfile_builder_lock_is_project_dependencies_without_extras() -> None:
    """The lock the builder installs is compiled from [project.dependencies] alone."""
    text = (REPO / RUNTIME_LOCK).read_text()
    command = re.search(r"^#    (uv pip compile .+)$", text, re.MULTILINE)
    assert command, f"{RUNTIME_LOCK} has no `uv pip compile` header"
    words = command.group(1).split()
    assert "pyproject.toml" in words, words
    assert not any(w == "--all-extras" or w.startswith("--extra") for w in words), words
    pinned = {
        canonicalize_name(m.group(1))
        for m in re.finditer(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==", text, re.MULTILINE)
    }
    dependencies = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    missing = [d for d in dependencies if canonicalize_name(Requirement(d).name) not in pinned]
    assert missing == [], f"{RUNTIME_LOCK} lacks {missing}: run `make lock`"


def test_dockerfile_copies_dependency_metadata_before_code(dockerfile_stages: list[Stage]) -> None:
    """Code changes must not invalidate the dependency-wheel layer."""
    instructions = dockerfile_stages[0].instructions
    first_dependency_build = next(
        n
        for n, i in enumerate(instructions)
        if i.keyword == "RUN" and "--requirement" in i.arguments
    )
    copies_before = [
        i.arguments for i in instructions[:first_dependency_build] if i.keyword == "COPY"
    ]
    assert copies_before == [f"{RUNTIME_LOCK} ./"], (
        f"copied before the dependency build: {copies_before}"
    )
    code_copy = next(
        n for n, i in enumerate(instructions) if i.keyword == "COPY" and "service" in i.arguments
    )
    assert code_copy > first_dependency_build


def test_dockerfile_base_image_matches_project_python_minor(dockerfile_stages: list[Stage]) -> None:
    requires = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"]
    minor = re.fullmatch(r">=\s*(3\.\d+)", requires).group(1)  # type: ignore[union-attr]
    for stage in dockerfile_stages:
        assert re.fullmatch(
            rf"python:{re.escape(minor)}-slim-\w+(@sha256:[0-9a-f]{{64}})?", stage.base
        ), stage.base
    # The clean-venv tests run on this interpreter, so it must be the image's minor too.
    assert f"{sys.version_info.major}.{sys.version_info.minor}" == minor


def test_dockerfile_runtime_stage_has_no_compilers(runtime_stage: Stage) -> None:
    assert "slim" in runtime_stage.base
    for instruction in runtime_stage.all("RUN"):
        found = COMPILERS.findall(instruction.arguments)
        assert not found, f"runtime stage installs build tooling {found}: {instruction.arguments}"


def test_dockerfile_runs_as_numeric_non_root_user(runtime_stage: Stage) -> None:
    user = runtime_stage.user
    assert user, "the runtime stage sets no USER (it would run as root)"
    match = re.fullmatch(r"(\d+)(?::(\d+))?", user)
    assert match, f"USER should be numeric (runAsNonRoot can verify it): {user!r}"
    assert int(match.group(1)) != 0 and int(match.group(2) or 1) != 0, f"USER is root: {user!r}"


def test_dockerfile_sets_python_runtime_environment(runtime_stage: Stage) -> None:
    env = runtime_stage.env
    assert env.get("PYTHONDONTWRITEBYTECODE") == "1", env
    assert env.get("PYTHONUNBUFFERED") == "1", env
    assert env.get("FORWARDED_ALLOW_IPS") == "127.0.0.1", "safe default; infra sets the VPC CIDR"


def test_dockerfile_exposes_8000_and_command_listens_on_all_interfaces(
    runtime_stage: Stage, image_command: list[str]
) -> None:
    assert [i.arguments for i in runtime_stage.all("EXPOSE")] == ["8000"]
    assert image_command[:2] == ["uvicorn", "service.main:app"], image_command
    assert option_value(image_command, "--host") == "0.0.0.0"
    assert option_value(image_command, "--port") == "8000"


def test_dockerfile_keep_alive_default_exceeds_alb_idle_timeout(runtime_stage: Stage) -> None:
    keep_alive = runtime_stage.env.get("UVICORN_TIMEOUT_KEEP_ALIVE")
    assert keep_alive is not None, "uvicorn's default keep-alive (5 s) is below the ALB's 60 s"
    assert int(keep_alive) > ALB_IDLE_TIMEOUT_SECONDS, keep_alive


def test_dockerfile_command_leaves_keep_alive_to_the_environment(image_command: list[str]) -> None:
    # A flag would override the task definition's UVICORN_TIMEOUT_KEEP_ALIVE (ALB idle + 15 s).
    assert option_value(image_command, "--timeout-keep-alive") is None, image_command


def test_dockerfile_command_graceful_shutdown_fits_ecs_stop_timeout(
    image_command: list[str],
) -> None:
    graceful = option_value(image_command, "--timeout-graceful-shutdown")
    assert graceful is not None, "without it uvicorn waits forever and ECS SIGKILLs mid-request"
    assert 0 < int(graceful) < ECS_STOP_TIMEOUT_SECONDS, graceful


def test_dockerfile_command_trusts_proxy_headers_from_environment(image_command: list[str]) -> None:
    assert "--proxy-headers" in image_command
    assert option_value(image_command, "--forwarded-allow-ips") is None, (
        "the trusted range must come from FORWARDED_ALLOW_IPS (uvicorn reads it when the flag "
        "is absent), not be baked into the image"
    )


@pytest.mark.parametrize("flag", ["--workers", "--reload"])
def test_dockerfile_command_is_one_plain_uvicorn_process(
    image_command: list[str], flag: str
) -> None:
    assert not any(word.split("=")[0] == flag for word in image_command), image_command


def test_dockerfile_command_leaves_access_log_to_the_app(image_command: list[str]) -> None:
    # service/observability.py writes one access-log line per request (route template, no query).
    assert "--no-access-log" in image_command


def test_dockerfile_command_sends_no_server_header(image_command: list[str]) -> None:
    assert "--no-server-header" in image_command


def test_dockerfile_command_runs_the_bounded_http_protocol(image_command: list[str]) -> None:
    """httptools with a bounded request head and head read time (docs/security.md, finding 5);
    tests/reliability/test_header_bounds.py attacks this command."""
    protocol = option_value(image_command, "--http")
    assert protocol == "service.server:BoundedHttpToolsProtocol", image_command
    module, _, name = protocol.partition(":")
    assert issubclass(getattr(importlib.import_module(module), name), HttpToolsProtocol)


def test_dockerfile_has_no_healthcheck_since_it_also_runs_migrate_and_worker(
    runtime_stage: Stage,
) -> None:
    assert runtime_stage.all("HEALTHCHECK") == []


@pytest.mark.parametrize(
    ("path", "expected_in_context"),
    [
        ("pyproject.toml", True),
        (RUNTIME_LOCK, True),
        ("requirements.lock", False),
        ("README.md", True),
        ("service/main.py", True),
        ("service/migrations/script.py.mako", True),
        ("service/migrations/versions/0001_users_and_items.py", True),
        (".git/HEAD", False),
        (".venv/bin/python", False),
        ("venv/bin/python", False),
        ("tests/conftest.py", False),
        ("infra/__main__.py", False),
        ("policy/__init__.py", False),
        ("bench/app.py", False),
        (".github/workflows/ci.yml", False),
        ("Pulumi.prod.yaml", False),
        ("local.db", False),
        ("local.db-journal", False),
        (".env", False),
        (".pytest_cache/v/cache/lastfailed", False),
        (".ruff_cache/CACHEDIR.TAG", False),
        ("service/__pycache__/main.cpython-311.pyc", False),
        ("service/users/__pycache__/router.cpython-311.pyc", False),
        ("service/local.db", False),
    ],
)
def test_dockerignore_keeps_build_context_minimal(path: str, expected_in_context: bool) -> None:
    patterns = dockerignore_patterns(REPO / ".dockerignore")
    assert is_in_build_context(path, patterns) is expected_in_context


def test_dockerfile_copies_only_what_the_build_context_contains(
    dockerfile_stages: list[Stage],
) -> None:
    patterns = dockerignore_patterns(REPO / ".dockerignore")
    for stage in dockerfile_stages:
        for instruction in stage.all("COPY"):
            words = [w for w in instruction.arguments.split() if not w.startswith("--")]
            for source in words[:-1]:
                assert (REPO / source).exists(), f"COPY source {source} does not exist"
                assert is_in_build_context(source, patterns), f".dockerignore drops {source}"


RDS_BUNDLE_URL = "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem"


def test_runtime_adds_the_rds_ca_bundle_pinned_by_checksum_where_the_task_reads_it(
    runtime_stage: Stage,
) -> None:
    adds = [i.arguments.split() for i in runtime_stage.all("ADD")]
    bundles = [argv for argv in adds if RDS_BUNDLE_URL in argv]
    assert len(bundles) == 1, adds
    (argv,) = bundles
    checksum = option_value(argv, "--checksum")
    assert checksum is not None and re.fullmatch(r"sha256:[0-9a-f]{64}", checksum), argv
    assert argv[-2:] == [RDS_BUNDLE_URL, RDS_CA_BUNDLE], argv
    assert option_value(argv, "--chmod") == "0444", argv
