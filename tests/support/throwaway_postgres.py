"""A private PostgreSQL cluster on a free port, for tests that stop it or need password auth.

The shared server on 5432 uses trust auth and must never be stopped by a test, so tests that
inject faults or check authentication build their own cluster with initdb/pg_ctl from the installed
binaries. PostgreSQL refuses to run as root: when we are root, the binaries run as the `postgres`
OS user. `stop()`/`start()` simulate outages; `with ThrowawayPostgres() as cluster:` inits, starts
and always destroys it.
"""

import contextlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Self

from tests.support.processes import HOST, free_port

SUPERUSER = "postgres"
SUPERUSER_PASSWORD = "throwaway-superuser-password"
COMMAND_TIMEOUT_SECONDS = 60


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


class ThrowawayPostgres:
    """`auth` is initdb's `--auth` (`trust`, `scram-sha-256`, ...); the superuser's password is
    always SUPERUSER_PASSWORD, so it can log in whichever method is chosen."""

    def __init__(self, *, auth: str = "trust", tls: tuple[Path, Path] | None = None) -> None:
        """``tls``: (server certificate PEM, its private key PEM): the cluster then accepts TLS
        (``ssl=on``) with that certificate; both files are copied into the cluster's directory."""
        self.auth = auth
        self.tls = tls
        self.bin = _postgres_bin()
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="pg-throwaway-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        if os.geteuid() == 0:
            shutil.chown(self.root, user="postgres", group="postgres")

    def __enter__(self) -> Self:
        try:
            self.init()
            self.start()
        except BaseException:
            self.destroy()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.destroy()

    def url(
        self, database: str = "postgres", *, user: str = SUPERUSER, password: str | None = None
    ) -> str:
        secret = f":{password}" if password else ""
        return f"postgresql+asyncpg://{user}{secret}@{HOST}:{self.port}/{database}"

    @property
    def admin_url(self) -> str:
        """The superuser on the `postgres` database (with its password unless auth is trust)."""
        return self.url(password=None if self.auth == "trust" else SUPERUSER_PASSWORD)

    def _run(self, *args: str) -> None:
        subprocess.run(
            _as_postgres(*args),
            check=True,
            timeout=COMMAND_TIMEOUT_SECONDS,
            capture_output=True,
            cwd=self.root,
        )

    def init(self) -> Self:
        password_file = self.root / "pwfile"
        password_file.write_text(SUPERUSER_PASSWORD)
        if os.geteuid() == 0:
            shutil.chown(password_file, user="postgres", group="postgres")
        self._run(
            str(self.bin / "initdb"),
            *("-D", str(self.data), "-U", SUPERUSER, "-E", "UTF8"),
            f"--auth={self.auth}",
            f"--pwfile={password_file}",
            "--no-sync",
        )
        return self

    def _tls_options(self) -> str:
        if self.tls is None:
            return ""
        cert, key = self.root / "server.crt", self.root / "server.key"
        shutil.copyfile(self.tls[0], cert)
        shutil.copyfile(self.tls[1], key)
        key.chmod(0o600)  # PostgreSQL refuses a key others can read
        if os.geteuid() == 0:
            for path in (cert, key):
                shutil.chown(path, user="postgres", group="postgres")
        return f" -c ssl=on -c ssl_cert_file={cert} -c ssl_key_file={key}"

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses={HOST} -c unix_socket_directories={self.root} "
            "-c max_connections=60 -c shared_buffers=16MB"
        ) + self._tls_options()
        self._run(
            str(self.bin / "pg_ctl"),
            *("-D", str(self.data), "-l", str(self.log), "-o", options),
            *("-w", "-t", "30", "start"),
        )

    def stop(self, mode: str = "fast") -> None:
        """`fast` terminates sessions cleanly; `immediate` is a crash (recovery on next start).
        pg_ctl waits up to its default 60 s."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def is_running(self) -> bool:
        status = subprocess.run(
            _as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.data), "status"),
            capture_output=True,
            timeout=10,
            check=False,
        )
        return status.returncode == 0

    def destroy(self) -> None:
        """Crash it if it runs (nothing to keep), then delete its files."""
        with contextlib.suppress(Exception):
            if self.is_running():
                self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)
