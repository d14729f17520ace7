"""The image's commands on a read-only root filesystem, as prod's essential containers run them
(readonlyRootFilesystem, a writable task volume on /tmp: infra/components/service.py).

Each command runs in a private mount namespace where `/` (the venv, the working directory and
everything else) is remounted read-only and a small tmpfs stands in for the task volume, handed to
the process as TMPDIR. The database is PostgreSQL, as on AWS (a fresh database on the shared test
server, migrated beforehand).
"""

import asyncio
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.container.conftest import STARTUP_TIMEOUT, ImageVenv
from tests.container.dockerfile_parser import replace_option
from tests.support.processes import free_port
from tests.support.sql import run_sql

pytestmark = pytest.mark.timeout(600)

SHARED_SERVER = "postgresql+asyncpg://postgres@127.0.0.1:5432"
# sh -c SCRIPT TMPDIR ARGV...: make / read-only, mount the writable tmpfs, become the command.
READ_ONLY = (
    'mount -o remount,bind,ro / && mount -t tmpfs -o size=16m,mode=1777 tmpfs "$0" && exec "$@"'
)


def read_only(argv: list[str], tmp: Path) -> list[str]:
    return [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        READ_ONLY,
        str(tmp),
        *argv,
    ]


@pytest.fixture(scope="module")
def task_tmp(image_venv: ImageVenv) -> Path:
    path = image_venv.root / "task-tmp"
    path.mkdir(exist_ok=True)
    probe = subprocess.run(
        read_only(["true"], path), capture_output=True, text=True, timeout=30, check=False
    )
    if os.geteuid() != 0 or shutil.which("unshare") is None or probe.returncode != 0:
        pytest.skip(f"needs root and mount namespaces (unshare): {probe.stderr.strip()}")
    return path


@pytest.fixture(scope="module")
def postgres_url(image_venv: ImageVenv, workdir: Path) -> Iterator[str]:
    name = f"readonly_{uuid.uuid4().hex[:12]}"
    asyncio.run(run_sql(f"{SHARED_SERVER}/postgres", f'CREATE DATABASE "{name}"', autocommit=True))
    url = f"{SHARED_SERVER}/{name}"
    env = image_venv.environment(DATABASE_URL=url, ENVIRONMENT="local")
    migrate = subprocess.run(
        image_venv.resolve(["python", "-m", "service.migrate"], env),
        env=env, cwd=workdir, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert migrate.returncode == 0, migrate.stdout + migrate.stderr
    yield url
    asyncio.run(
        run_sql(
            f"{SHARED_SERVER}/postgres", f'DROP DATABASE "{name}" WITH (FORCE)', autocommit=True
        )
    )


def environment(image_venv: ImageVenv, url: str, tmp: Path) -> dict[str, str]:
    return image_venv.environment(DATABASE_URL=url, ENVIRONMENT="local", TMPDIR=str(tmp))


def test_the_namespace_really_is_read_only_outside_the_task_volume(
    image_venv: ImageVenv, workdir: Path, task_tmp: Path
) -> None:
    script = (
        "import pathlib, sys, tempfile\n"
        "try:\n"
        "    pathlib.Path(sys.argv[1], 'probe').write_text('x')\n"
        "except OSError as error:\n"
        "    print('refused', error.errno)\n"
        "with tempfile.NamedTemporaryFile() as f:\n"
        "    print('tmp ok', f.name.startswith(sys.argv[2]))\n"
    )
    env = image_venv.environment(TMPDIR=str(task_tmp))
    argv = image_venv.resolve(["python", "-c", script, str(workdir), str(task_tmp)], env)
    result = subprocess.run(
        read_only(argv, task_tmp), env=env, cwd=workdir, capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:2] == ["refused 30", "tmp ok True"], result.stdout  # EROFS


def test_image_command_serves_on_a_read_only_root(
    image_venv: ImageVenv, image_command: list[str], workdir: Path, task_tmp: Path, postgres_url
) -> None:
    port = free_port()
    argv = replace_option(replace_option(image_command, "--host", "127.0.0.1"), "--port", str(port))
    env = environment(image_venv, postgres_url, task_tmp)
    log = image_venv.root / f"read-only-{port}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            read_only(image_venv.resolve(argv, env), task_tmp),
            env=env, cwd=workdir, stdout=sink, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        ready = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/ready", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        output = log.read_text(errors="replace")
        assert ready is not None, (
            f"no answer on a read-only root (exit {process.poll()}):\n{output}"
        )
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"]["database"] == "ok", ready.text
        assert "Read-only file system" not in output, output
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_worker_runs_a_pass_on_a_read_only_root(
    image_venv: ImageVenv, workdir: Path, task_tmp: Path, postgres_url: str
) -> None:
    env = environment(image_venv, postgres_url, task_tmp)
    argv = image_venv.resolve(["python", "-m", "service.worker", "run-due", "--once"], env)
    result = subprocess.run(
        read_only(argv, task_tmp), env=env, cwd=workdir, capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "run-due pass=1" in result.stdout, result.stdout
