"""Real servers the fault tests start and stop themselves, always on free ports of 127.0.0.1.

- `PostgresCluster`: a throwaway cluster (`initdb` + `pg_ctl` from the installed binaries), run as
  the `postgres` OS user because PostgreSQL refuses to run as root.
- `RedisServer`: a throwaway `redis-server` with persistence off.
- `UvicornServer`: `.venv/bin/uvicorn service.main:app` configured through its environment.

Every process is stopped in `stop()`/`__exit__`, and every wait is bounded.
"""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, *, timeout: float, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=0.5):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {HOST}:{port} after {timeout}s")


def _stop_process(process: subprocess.Popen, *, grace: float = 5.0) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=grace)


def _postgres_bin() -> Path:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    if candidates:
        return candidates[-1].parent
    pg_ctl = shutil.which("pg_ctl")
    if pg_ctl:
        return Path(pg_ctl).parent
    raise RuntimeError("PostgreSQL server binaries (initdb, pg_ctl) are not installed")


def _as_postgres(*args: str) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *args]
    return list(args)


class PostgresCluster:
    """A private PostgreSQL cluster in a temp dir; `stop()`/`start()` simulate outages."""

    def __init__(self) -> None:
        self.bin = _postgres_bin()
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="reliability-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        if os.geteuid() == 0:
            shutil.chown(self.root, user="postgres", group="postgres")

    @property
    def admin_url(self) -> str:
        return f"postgresql+asyncpg://postgres@{HOST}:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://postgres@{HOST}:{self.port}/{database}"

    def _run(self, *args: str, timeout: float = 60) -> None:
        subprocess.run(
            _as_postgres(*args), check=True, timeout=timeout, capture_output=True, cwd=self.root
        )

    def init(self) -> None:
        self._run(
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses={HOST} -c unix_socket_directories={self.root} "
            "-c max_connections=60 -c shared_buffers=16MB"
        )
        self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-o",
            options,
            "-w",
            "-t",
            "30",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        """`fast` terminates sessions cleanly; `immediate` is a crash (recovery on next start)."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def is_running(self) -> bool:
        status = subprocess.run(
            _as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.data), "status"),
            capture_output=True,
            timeout=10,
            check=False,
        )
        return status.returncode == 0

    def cleanup(self) -> None:
        with contextlib.suppress(Exception):
            if self.is_running():
                self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def postgres_cluster() -> Iterator[PostgresCluster]:
    cluster = PostgresCluster()
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        cluster.cleanup()


class RedisServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server",
                "--port",
                str(self.port),
                "--bind",
                HOST,
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port, timeout=10, process=self.process)

    def kill(self) -> None:
        """SIGKILL: the abrupt loss the limiter has to survive."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=5)

    def stop(self) -> None:
        if self.process is not None:
            _stop_process(self.process)


class UvicornServer:
    """`uvicorn service.main:app` in its own process, configured by environment variables."""

    def __init__(self, env: dict[str, str], *, log_path: Path) -> None:
        self.port = free_port()
        self.env = env
        self.log_path = log_path
        self.process: subprocess.Popen | None = None
        self._log = None

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self, *, timeout: float = 30) -> None:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": os.environ.get("HOME", "/tmp"),
            "LOG_LEVEL": "WARNING",
            **self.env,
        }
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                str(VENV_BIN / "uvicorn"),
                "service.main:app",
                "--host",
                HOST,
                "--port",
                str(self.port),
                "--no-access-log",
            ],
            cwd=REPO,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        wait_for_port(self.port, timeout=timeout, process=self.process)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base_url}/health", timeout=2).status_code == 200:
                    return
            time.sleep(0.1)
        raise TimeoutError(f"uvicorn did not become healthy; log: {self.log_path}")

    def send_signal(self, sig: signal.Signals) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    def wait(self, timeout: float) -> int:
        assert self.process is not None
        return self.process.wait(timeout=timeout)

    def stop(self) -> None:
        if self.process is not None:
            _stop_process(self.process)
        if self._log is not None:
            self._log.close()

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
