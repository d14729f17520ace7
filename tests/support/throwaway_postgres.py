"""A private PostgreSQL cluster on a free port, for tests that stop it or need password auth.

The shared server on 5432 uses trust auth and must never be stopped by a test, so tests that
inject faults or check authentication build their own cluster with initdb/pg_ctl. PostgreSQL
refuses to run as root: when we are root, the binaries run as the `postgres` OS user.
"""

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

SUPERUSER_PASSWORD = "throwaway-superuser-password"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _bin(name: str) -> str:
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    found = candidates[-1] if candidates else shutil.which(name)
    if not found:
        raise RuntimeError(f"PostgreSQL binary {name!r} not found")
    return found


class ThrowawayPostgres:
    def __init__(self, *, auth: str = "trust") -> None:
        self.port = free_port()
        self.auth = auth
        self.root = Path(tempfile.mkdtemp(prefix="pg-throwaway-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"

    def _run(self, *args: str, timeout: float = 60) -> None:
        command = list(args)
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=timeout)

    def init(self) -> "ThrowawayPostgres":
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        password_file = self.root / "pwfile"
        password_file.write_text(SUPERUSER_PASSWORD)
        if os.geteuid() == 0:
            shutil.chown(password_file, "postgres", "postgres")
        self._run(
            _bin("initdb"),
            "-D", str(self.data),
            "-U", "postgres",
            f"--auth={self.auth}",
            f"--pwfile={password_file}",
            "--no-sync",
        )  # fmt: skip
        return self

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options,
                  "-w", "-t", "30", "start")  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._run(_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")

    def wait_accepting(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise TimeoutError(f"throwaway PostgreSQL on {self.port} did not come up")

    def url(self, *, user: str = "postgres", password: str | None = None, db: str = "postgres"):
        secret = f":{password}" if password else ""
        return f"postgresql+asyncpg://{user}{secret}@127.0.0.1:{self.port}/{db}"

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)
