"""Ports and processes for tests that start real servers, always on 127.0.0.1 and always bounded."""

import contextlib
import socket
import subprocess
import time

HOST = "127.0.0.1"


def free_port() -> int:
    """A port nothing listens on right now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, *, timeout: float, process: subprocess.Popen | None = None) -> None:
    """Return once HOST:port accepts a connection; fail early if `process` exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=0.5):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {HOST}:{port} after {timeout}s")


def stop_process(process: subprocess.Popen, *, grace: float = 5.0) -> None:
    """SIGTERM, then SIGKILL if it is still running after `grace` seconds; always reaped."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=grace)


def fake_cli(bin_dir, name: str, log, *, exit_code: int = 0):
    """An executable `name` in `bin_dir` that appends its arguments to `log` and exits with
    `exit_code`: stands in for a CLI this machine cannot run (pulumi). Returns its path."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    exe = bin_dir / name
    exe.write_text(f'#!/bin/sh\necho "$@" >> "{log}"\nexit {exit_code}\n')
    exe.chmod(0o755)
    return exe
