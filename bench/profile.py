"""`python -m bench.profile [--path PATH] [--seconds N]`: where a hot request spends its time.

Starts the service exactly as `bench.run` does (PostgreSQL, Redis limiter, JSON logs to a file),
but wrapped by `profiled_app` below, which runs pyinstrument on the server's main thread between
two bench-only control requests. Drives wrk at the path (default: GET /items/{id} with a JWT) and
prints pyinstrument's call tree; `--html FILE` also writes the interactive report.

Never imported by the service: the wrapper exists only in this process's uvicorn.
"""

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
import uuid
from pathlib import Path

import httpx
from pyinstrument import Profiler
from starlette.types import Receive, Scope, Send

from bench import run as bench

CONTROL_PREFIX = "/__bench/profile/"
SHOW_ALL = bool(os.environ.get("BENCH_PROFILE_SHOW_ALL"))
_profiler: Profiler | None = None
_service_app = None


async def profiled_app(scope: Scope, receive: Receive, send: Send) -> None:
    """The service, plus /__bench/profile/start and /__bench/profile/stop (returns the report)."""
    global _profiler, _service_app
    if _service_app is None:
        from service.main import app as service_app

        _service_app = service_app
    if scope["type"] == "http" and scope["path"].startswith(CONTROL_PREFIX):
        action = scope["path"].removeprefix(CONTROL_PREFIX)
        body = b"ok"
        if action == "start":
            _profiler = Profiler(interval=0.0005, async_mode="disabled")
            _profiler.start()
        elif action == "stop" and _profiler is not None:
            _profiler.stop()
            body = json.dumps(
                {
                    "text": _profiler.output_text(unicode=True, color=False, show_all=SHOW_ALL),
                    "html": _profiler.output_html(),
                }
            ).encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})
        return
    await _service_app(scope, receive, send)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile")
    parser.add_argument("--path", default="/items/{item_id}", help="GET path, {item_id} allowed")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=bench.FULL.connections)
    parser.add_argument(
        "--limiter", choices=["redis", "memory", "off"], default="redis", help="limiter mode"
    )
    parser.add_argument("--html", type=Path, help="also write pyinstrument's HTML report here")
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="bench-profile-"))
    generator = bench.load_generator(workdir)
    key_prefix = f"bench-{uuid.uuid4().hex[:8]}"
    database = bench.create_database()
    try:
        database_url = bench.service_database_url(database)
        bench.migrate(database_url, workdir / "migrate.log")
        server = bench.Server(
            "service",
            "bench.profile:profiled_app",
            bench.service_env(database_url, args.limiter, key_prefix),
            workdir / "service.log",
        )
        with bench.running([server]):
            server.wait_ready("/health", 60)
            seed_data = bench.seed(server.url)
            scenario = bench.Scenario("profile", "service", "GET", args.path, authenticated=True)
            request = scenario.request(seed_data)
            generator.run(server.url, request, 2, args.connections)  # warm-up
            httpx.post(server.url + CONTROL_PREFIX + "start", timeout=10)
            sample = generator.run(server.url, request, args.seconds, args.connections)
            report = httpx.post(server.url + CONTROL_PREFIX + "stop", timeout=60).json()
        print(report["text"])
        print(
            f"{request.method} {request.path}: {sample.requests / sample.seconds:.0f} req/s "
            f"under the profiler, statuses {sample.statuses}, {generator.name}"
        )
        if args.html:
            args.html.write_text(report["html"])
            print(f"wrote {args.html}")
        return 0
    finally:
        with contextlib.suppress(Exception):
            bench.drop_database(database)
        with contextlib.suppress(Exception):
            bench.delete_redis_keys(key_prefix)
        if os.environ.get("BENCH_KEEP_LOGS"):
            print(f"logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
