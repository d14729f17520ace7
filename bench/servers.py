"""The processes under test: uvicorn on free 127.0.0.1 ports (tests/support's UvicornServer), all
with the production flags, and the environment a service process gets.

The flags are the image's where it sets them (the Dockerfile's `--http` and keep-alive), uvloop,
one process, no access log, proxy headers trusted from 127.0.0.1; so the ratio service / baseline
measures what the service adds, not the server.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bench import BenchError
from bench.load import LoadGenerator, Request, Sample
from tests.container.dockerfile_parser import Stage, option_value, parse_dockerfile
from tests.support.processes import HOST
from tests.support.uvicorn_server import REPO, UvicornServer, inherited_environment

if TYPE_CHECKING:
    from bench.fixtures import RunContext

SERVICE_APP = "service.main:app"
START_TIMEOUT_S = 60.0
STOP_GRACE_S = 10.0
# The limiter's deadline per check (Findings 1 in bench/README.md).
BENCH_REDIS_TIMEOUT = "1.0"
# "Limits raised for the run": the write limits (1/second per IP in production) must never be
# what a run measures. Reads keep their production limits.
RAISED_LIMITS = {
    "rate_limit_items_create": "1000/second",
    "rate_limit_items_write": "1000/second",
}


@dataclass(frozen=True)
class ServerSpec:
    """One process of a run: `app`, and when it is the service, its limiter mode ('redis' as in
    production, 'memory' or 'off') and uvicorn options replacing the image's `--http`."""

    app: str = SERVICE_APP
    limiter: str | None = "redis"  # None: not the service (no service settings at all)
    http: tuple[str, ...] = ()
    health_path: str = "/health"  # answers 200 once the process is ready


class Server(UvicornServer):
    """A process of a run, logging to `<workdir>/<name>.log`."""

    def __init__(
        self,
        name: str,
        spec: ServerSpec,
        context: RunContext,
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        env = service_env(context, spec.limiter) if spec.limiter is not None else {}
        super().__init__(
            {**env, **(extra_env or {})},
            log_path=context.workdir / f"{name}.log",
            args=production_options(spec.http),
            base_env=inherited_environment(),
            app=spec.app,
            health_path=spec.health_path,
        )
        self.name = name
        self.spec = spec

    def wait_ready(self) -> None:
        try:
            self.wait_healthy(timeout=START_TIMEOUT_S)
        except RuntimeError as exc:
            raise BenchError(f"{self.name} exited at start-up; see {self.log_path}") from exc
        except TimeoutError as exc:
            raise BenchError(
                f"{self.name} not ready after {START_TIMEOUT_S:.0f} s; see {self.log_path}"
            ) from exc

    def cpu_seconds(self) -> float:
        """utime + stime of the server process, from /proc (0 where there is no /proc)."""
        assert self.process is not None
        try:
            stat = Path(f"/proc/{self.process.pid}/stat").read_text()
        except OSError:
            return 0.0
        fields = stat.rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def load(
        self, generator: LoadGenerator, request: Request, seconds: int, connections: int
    ) -> Sample:
        """One slice of load, with the CPU this process spent serving it."""
        before = self.cpu_seconds()
        sample = generator.run(self.base_url, request, seconds, connections)
        sample.server_cpu_s = self.cpu_seconds() - before
        return sample


@contextlib.contextmanager
def running(servers: Iterable[Server]) -> Iterator[None]:
    """Launch every server, then wait until each is ready; stop them all on the way out."""
    servers = list(servers)
    try:
        for server in servers:
            server.launch()
        for server in servers:
            server.wait_ready()
        yield
    finally:
        for server in servers:
            server.stop(grace=STOP_GRACE_S)


def production_options(http: Sequence[str] = ()) -> list[str]:
    """The uvicorn options of every server of a run (UvicornServer adds the listen address and
    --no-access-log). `http` replaces the image's `--http` option."""
    image = image_stage()
    return [
        "--loop",
        "uvloop",
        *(http or ["--http", image_http_protocol(image)]),
        "--workers",
        "1",
        "--timeout-keep-alive",
        image_keep_alive(image),
        "--proxy-headers",
        "--forwarded-allow-ips",
        HOST,
    ]


def image_stage() -> Stage:
    """The Dockerfile's last stage: what the image runs."""
    return parse_dockerfile(REPO / "Dockerfile")[-1]


def image_http_protocol(image: Stage | None = None) -> str:
    """The image's `--http` (service/server.py's bounded protocol)."""
    protocol = option_value((image or image_stage()).command, "--http")
    if protocol is None:
        raise BenchError(
            "the Dockerfile's CMD names no --http: which protocol would production run?"
        )
    return protocol


def image_keep_alive(image: Stage | None = None) -> str:
    """The production keep-alive (it must outlive the ALB's idle timeout): the image sets it in its
    environment, where uvicorn reads it."""
    keep_alive = (image or image_stage()).env.get("UVICORN_TIMEOUT_KEEP_ALIVE")
    if keep_alive is None:
        raise BenchError("the Dockerfile's ENV sets no UVICORN_TIMEOUT_KEEP_ALIVE")
    return keep_alive


def service_env(context: RunContext, limiter: str) -> dict[str, str]:
    """The settings of a service process (laid over inherited_environment())."""
    return {
        # Production-like: not the local profile (so no dev JWT secret), JSON logs.
        "ENVIRONMENT": "dev",
        "JWT_SECRET": context.jwt_secret,
        "DATABASE_URL": context.database_url,
        "LOG_JSON": "true",
        "LOG_LEVEL": "INFO",
        "FORWARDED_ALLOW_IPS": HOST,
        "PYTHONUNBUFFERED": "1",  # as in the Dockerfile
        **limiter_env(limiter, context.key_prefix, context.redis_url),
    }


def limiter_env(mode: str, key_prefix: str, redis_url: str) -> dict[str, str]:
    """Environment for one limiter mode: 'redis' (production), 'memory' or 'off'."""
    env = {
        "RATE_LIMIT_ENABLED": "false" if mode == "off" else "true",
        "RATE_LIMIT_KEY_PREFIX": key_prefix,
        # Fail closed: a Redis failure must show up as 503s (errors), not as free throughput.
        "RATE_LIMIT_FAIL_OPEN": "false",
        # The check's deadline is wall-clock, event-loop queueing included: at saturation on a
        # shared 2-core machine the 0.1 s default fires although Redis answers in microseconds
        # (bench/README.md, "Findings"). The bench measures throughput, so the maximum it accepts.
        "RATE_LIMIT_REDIS_TIMEOUT": BENCH_REDIS_TIMEOUT,
        **{name.upper(): value for name, value in RAISED_LIMITS.items()},
    }
    if mode == "redis":
        env["REDIS_URL"] = redis_url
    return env
