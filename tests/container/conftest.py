"""Run the image's command without Docker: a clean virtualenv installed the way the Dockerfile
installs the image's (wheels for the runtime lock, every hash checked, then the project with
--no-deps), then the Dockerfile's CMD, verbatim except for the listen address.

The build is session-scoped (it downloads the locked wheels, so it takes a while; pip's cache is
allowed). Each server is a real uvicorn process, stopped and reaped by its fixture.
"""

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.container.dockerfile_parser import Stage, parse_dockerfile, replace_option
from tests.support.processes import free_port

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"
# The image's dependencies, pinned and hashed: [project.dependencies] only (`make lock`).
RUNTIME_LOCK = "requirements.runtime.lock"
# What the builder stage COPYs into /src; nothing else of the repository is in the wheel.
BUILD_CONTEXT_FILES = (RUNTIME_LOCK, "pyproject.toml", "README.md")
BUILD_CONTEXT_DIRS = ("service",)
IGNORED_IN_CONTEXT = shutil.ignore_patterns("__pycache__", "*.py[cod]", "*.db", "*.db-*", ".env*")
# Where the image's virtualenv lives; the test's virtualenv takes its place on PATH.
IMAGE_VENV_BIN = "/opt/venv/bin"
STARTUP_TIMEOUT = 30.0


@pytest.fixture(scope="session")
def dockerfile_stages() -> list[Stage]:
    return parse_dockerfile(DOCKERFILE)


@pytest.fixture(scope="session")
def runtime_stage(dockerfile_stages: list[Stage]) -> Stage:
    return dockerfile_stages[-1]


@pytest.fixture(scope="session")
def image_command(runtime_stage: Stage) -> list[str]:
    command = runtime_stage.command
    assert command, "the final stage has no exec-form CMD/ENTRYPOINT"
    return command


def assert_stage_runs(stage: Stage, *fragments: str) -> None:
    """The stage's RUN instructions contain each fragment: the steps below mirror the Dockerfile."""
    runs = " ".join(" ".join(i.arguments.split()) for i in stage.all("RUN"))
    missing = [f for f in fragments if f not in runs]
    assert missing == [], f"the {stage.name} stage no longer runs {missing}: update this fixture"


def _run(argv: list[object], *, what: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(a) for a in argv], capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, (
        f"{what} failed with exit code {result.returncode}\n"
        f"argv: {argv}\nstdout:\n{result.stdout[-4000:]}\nstderr:\n{result.stderr[-4000:]}"
    )
    return result


@dataclass(frozen=True)
class ImageVenv:
    """A virtualenv holding only the project's wheel and its runtime dependencies."""

    root: Path
    bin: Path
    image_env: dict[str, str]

    def environment(self, **overrides: str) -> dict[str, str]:
        """A clean environment: the Dockerfile's ENV, our venv in place of the image's, overrides.

        Nothing is inherited from the developer's shell (no PYTHONPATH, no DATABASE_URL, ...).
        """
        env = {"HOME": str(self.root), "LANG": "C.UTF-8"}
        env.update(self.image_env)
        image_path = env.get("PATH", f"{IMAGE_VENV_BIN}:$PATH")
        assert image_path.startswith(IMAGE_VENV_BIN), f"image PATH is {image_path!r}"
        env["PATH"] = f"{self.bin}:/usr/local/bin:/usr/bin:/bin"
        env.update(overrides)
        return env

    def resolve(self, argv: list[str], env: dict[str, str]) -> list[str]:
        """argv with argv[0] looked up on env's PATH, as the container runtime does."""
        executable = shutil.which(argv[0], path=env["PATH"])
        assert executable, f"{argv[0]!r} is not on the image PATH"
        assert Path(executable).parent == self.bin, f"{argv[0]} resolved outside the venv"
        return [executable, *argv[1:]]


@pytest.fixture(scope="session")
def image_venv(
    tmp_path_factory: pytest.TempPathFactory, dockerfile_stages: list[Stage], runtime_stage: Stage
) -> ImageVenv:
    assert_stage_runs(
        dockerfile_stages[0],
        "pip wheel --wheel-dir /wheels --only-binary=:all: --require-hashes",
        f"--requirement {RUNTIME_LOCK}",
        "pip wheel --wheel-dir /wheels --no-deps .",
    )
    assert_stage_runs(
        runtime_stage,
        "pip install --no-cache-dir --no-index --find-links=/wheels --require-hashes",
        f"--requirement /tmp/{RUNTIME_LOCK}",
        "pip install --no-cache-dir --no-index --no-deps /wheels/service-*.whl",
        "pip check",
    )
    root = tmp_path_factory.mktemp("image")
    context = root / "context"
    context.mkdir()
    for name in BUILD_CONTEXT_FILES:
        shutil.copy2(REPO / name, context / name)
    for name in BUILD_CONTEXT_DIRS:
        shutil.copytree(REPO / name, context / name, ignore=IGNORED_IN_CONTEXT)

    venv = root / "venv"
    _run([sys.executable, "-m", "venv", venv], what="creating the clean virtualenv")
    python = venv / "bin" / "python"
    pip_env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PIP_USER"}}
    pip = [python, "-m", "pip", "--disable-pip-version-check"]

    # Builder stage, step 1: wheels for the runtime lock, binary wheels only, every hash checked.
    lock = context / RUNTIME_LOCK
    wheels = root / "wheels"
    _run(
        [
            *pip,
            "wheel",
            "--wheel-dir",
            wheels,
            "--only-binary=:all:",
            "--require-hashes",
            "--requirement",
            lock,
        ],
        what="building dependency wheels from the runtime lock",
        env=pip_env,
        cwd=root,
    )
    # Builder stage, step 2: the project's own wheel.
    _run(
        [*pip, "wheel", "--wheel-dir", wheels, "--no-deps", context],
        what="building the project wheel",
        env=pip_env,
        cwd=root,
    )
    (project_wheel,) = wheels.glob("service-*.whl")
    # Runtime stage, from the wheel directory alone (no index): the lock again, hashes checked,
    # then the project without dependencies, then `pip check` (the set is complete).
    _run(
        [*pip, "install", "--no-index", "--find-links", wheels, "--require-hashes", "-r", lock],
        what="installing the runtime lock from wheels",
        env=pip_env,
        cwd=root,
    )
    _run(
        [*pip, "install", "--no-index", "--no-deps", project_wheel],
        what="installing the project wheel",
        env=pip_env,
        cwd=root,
    )
    _run([*pip, "check"], what="pip check", env=pip_env, cwd=root)
    return ImageVenv(root=root, bin=venv / "bin", image_env=runtime_stage.env)


@pytest.fixture(scope="session")
def workdir(image_venv: ImageVenv) -> Path:
    """The process's working directory: empty, so `service` can only come from the wheel."""
    path = image_venv.root / "workdir"
    path.mkdir()
    return path


@pytest.fixture(scope="session")
def migrated_database_url(image_venv: ImageVenv, workdir: Path) -> str:
    """A SQLite database migrated by the image's migration command, run from the clean venv."""
    path = image_venv.root / "app.db"
    url = f"sqlite+aiosqlite:///{path}"
    env = image_venv.environment(DATABASE_URL=url, ENVIRONMENT="local")
    _run(
        image_venv.resolve(["python", "-m", "service.migrate"], env),
        what="python -m service.migrate",
        env=env,
        cwd=workdir,
        timeout=60,
    )
    with sqlite3.connect(path) as connection:
        versions = connection.execute("SELECT version_num FROM alembic_version").fetchall()
    assert len(versions) == 1, f"expected one alembic head, found {versions}"
    return url


@dataclass
class RunningServer:
    process: subprocess.Popen[bytes]
    port: int
    argv: list[str]
    log: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def _as_pid_1() -> None:
    """Give SIGTERM the disposition it effectively has for a container's PID 1.

    The exec-form CMD makes uvicorn PID 1. After a graceful shutdown uvicorn restores the original
    handler and re-raises the signal it caught; for PID 1 the kernel drops a self-sent signal that
    has no handler, so the container exits 0. Outside a PID namespace the re-raise would kill the
    process (exit -15); an inherited SIG_IGN reproduces the PID 1 outcome. uvicorn still installs
    its own SIGTERM handler at start-up, so delivery of the test's SIGTERM is unchanged.
    """
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


@pytest.fixture
def serve_image_command(
    image_venv: ImageVenv, image_command: list[str], migrated_database_url: str, workdir: Path
) -> Iterator[Callable[[], RunningServer]]:
    servers: list[RunningServer] = []

    def start() -> RunningServer:
        port = free_port()
        argv = replace_option(image_command, "--host", "127.0.0.1")
        argv = replace_option(argv, "--port", str(port))
        env = image_venv.environment(DATABASE_URL=migrated_database_url, ENVIRONMENT="local")
        log = image_venv.root / f"uvicorn-{port}.log"
        with log.open("wb") as sink:
            process = subprocess.Popen(
                image_venv.resolve(argv, env),
                env=env,
                cwd=workdir,
                stdout=sink,
                stderr=subprocess.STDOUT,
                preexec_fn=_as_pid_1,
            )
        server = RunningServer(process=process, port=port, argv=argv, log=log)
        servers.append(server)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            assert process.poll() is None, (
                f"uvicorn exited with {process.returncode} during start-up:\n{server.output()}"
            )
            try:
                if httpx.get(f"{server.base_url}/health", timeout=1).status_code == 200:
                    return server
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(
            f"uvicorn did not answer /health in {STARTUP_TIMEOUT}s:\n{server.output()}"
        )

    yield start
    for server in servers:
        if server.process.poll() is None:
            server.process.kill()
        server.process.wait(timeout=10)
