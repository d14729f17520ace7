"""A redis-server of our own on a free port, persistence off, for tests that kill and restart it.

The shared Redis on 6379 must never be stopped by a test. The port is chosen once, so `start()`
after `kill()` brings back an empty server on the same address.
"""

import shutil
import subprocess

from tests.support.processes import HOST, free_port, stop_process, wait_for_port

START_TIMEOUT_SECONDS = 10.0
REAP_TIMEOUT_SECONDS = 10.0


class ThrowawayRedis:
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
                *("--port", str(self.port), "--bind", HOST),
                *("--save", "", "--appendonly", "no", "--daemonize", "no"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port, timeout=START_TIMEOUT_SECONDS, process=self.process)

    def kill(self) -> None:
        """SIGKILL: the abrupt loss the limiter has to survive."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=REAP_TIMEOUT_SECONDS)

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
