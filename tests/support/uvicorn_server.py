"""`uvicorn service.main:app` (or another app) in its own process on a free port, configured through
its environment.

`start()` returns once /health answers 200; it is `launch()` then `wait_healthy()`, and
`wait_listening()` is the first step of that, for callers that wait for something else (every
worker of a `--workers N` server, say) or start several servers before waiting for any (bench/).
The process is always stopped by `stop()`, which `with UvicornServer(...) as server:` calls even
when starting fails. Its output goes to `log_path` (appended).
"""

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Self

import httpx

from service.config import Settings
from tests.support.processes import HOST, free_port, stop_process, wait_for_port

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
# Every variable the service reads (service/config.py; pydantic-settings ignores their case).
SERVICE_SETTINGS = frozenset(
    (info.alias or name).upper() for name, info in Settings.model_fields.items()
)


def minimal_environment() -> dict[str, str]:
    """Nothing of the developer's shell but PATH and HOME (no DATABASE_URL, REDIS_URL, ...)."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        "LOG_LEVEL": "WARNING",
    }


def inherited_environment() -> dict[str, str]:
    """The caller's environment without the service's settings: what a server configured through
    `env` alone inherits (PATH, HOME, locale, ...), never a DATABASE_URL or RATE_LIMIT_* of the
    developer's shell."""
    return {
        name: value for name, value in os.environ.items() if name.upper() not in SERVICE_SETTINGS
    }


class UvicornServer:
    def __init__(
        self,
        env: Mapping[str, str],
        *,
        log_path: Path,
        args: Sequence[str] = (),
        base_env: Mapping[str, str] | None = None,
        app: str = "service.main:app",
        health_path: str = "/health",
    ) -> None:
        """`env` is laid over `base_env` (minimal_environment() unless given); `args` are extra
        uvicorn options (`("--workers", "2")`); `health_path` answers 200 once `app` is ready."""
        self.port = free_port()
        self.env = {**(minimal_environment() if base_env is None else base_env), **env}
        self.log_path = log_path
        self.args = list(args)
        self.app = app
        self.health_path = health_path
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def launch(self) -> None:
        command = [str(VENV_BIN / "uvicorn"), self.app]
        command += ["--host", HOST, "--port", str(self.port), "--no-access-log", *self.args]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command, cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )

    def wait_listening(self, *, timeout: float) -> None:
        assert self.process is not None
        wait_for_port(self.port, timeout=timeout, process=self.process)

    def start(self, *, timeout: float = 30) -> None:
        """Launch, then wait_healthy()."""
        self.launch()
        self.wait_healthy(timeout=timeout)

    def wait_healthy(self, *, timeout: float) -> None:
        """Wait up to `timeout` for the port, then up to `timeout` for `health_path` to answer
        200; fail early if the process exits."""
        assert self.process is not None
        self.wait_listening(timeout=timeout)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"uvicorn exited with {self.process.returncode}; log: {self.log_path}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.base_url + self.health_path, timeout=2).status_code == 200:
                    return
            time.sleep(0.1)
        raise TimeoutError(f"uvicorn did not become healthy; log: {self.log_path}")

    def send_signal(self, sig: signal.Signals) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    def wait(self, timeout: float) -> int:
        assert self.process is not None
        return self.process.wait(timeout=timeout)

    def stop(self, *, grace: float = 5.0) -> None:
        if self.process is not None:
            stop_process(self.process, grace=grace)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
