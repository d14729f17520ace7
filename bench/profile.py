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
                    "flat": flat_report(_profiler),
                    "html": _profiler.output_html(),
                }
            ).encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})
        return
    await _service_app(scope, receive, send)


def flat_report(profiler: Profiler, top: int = 30) -> str:
    """Self time per function and per package: where the samples actually were."""
    session = profiler.last_session
    assert session is not None
    by_function: dict[str, float] = {}
    by_package: dict[str, float] = {}
    stack = [session.root_frame()]
    while stack:
        frame = stack.pop()
        if frame is None:
            continue
        stack.extend(frame.children)
        if frame.is_synthetic:  # "[self]" leaves: their time is the parent's total_self_time
            continue
        own = frame.total_self_time
        if not own:
            continue
        path = frame.file_path or ""
        package = package_of(path)
        key = f"{frame.function} ({package}:{Path(path).name}:{frame.line_no})"
        by_function[key] = by_function.get(key, 0.0) + own
        by_package[package] = by_package.get(package, 0.0) + own
    total = sum(by_package.values()) or 1.0
    lines = [f"self time by package ({session.duration:.1f} s wall, {session.cpu_time:.1f} s CPU)"]
    for name, seconds in sorted(by_package.items(), key=lambda kv: -kv[1]):
        lines.append(f"  {100 * seconds / total:5.1f} %  {name}")
    lines.append(f"top {top} functions by self time")
    for name, seconds in sorted(by_function.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"  {100 * seconds / total:5.1f} %  {name}")
    return "\n".join(lines)


def package_of(path: str) -> str:
    marker = "site-packages/"
    if marker in path:
        return path.split(marker, 1)[1].split("/", 1)[0].removesuffix(".py")
    for local in ("service", "bench"):
        if f"/{local}/" in path:
            return local
    if "python3" in path or path.startswith("<"):
        return "stdlib"
    return path or "<unknown>"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile")
    parser.add_argument("--path", default="/items/{item_id}", help="GET path, {item_id} allowed")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=bench.FULL.connections)
    parser.add_argument(
        "--limiter", choices=["redis", "memory", "off"], default="redis", help="limiter mode"
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra service setting for an experiment, e.g. DB_POOL_SIZE=20 (repeatable)",
    )
    parser.add_argument("--quiet", action="store_true", help="only the throughput lines")
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
            {
                **bench.service_env(database_url, args.limiter, key_prefix),
                **dict(item.split("=", 1) for item in args.env),
            },
            workdir / "service.log",
        )
        with bench.running([server]):
            server.wait_ready("/health", 60)
            seed_data = bench.seed(server.url)
            scenario = bench.Scenario("profile", "service", "GET", args.path, authenticated=True)
            request = scenario.request(seed_data)
            server.load(generator, request, 2, args.connections)  # warm-up
            plain = server.load(generator, request, args.seconds, args.connections)
            httpx.post(server.url + CONTROL_PREFIX + "start", timeout=10)
            sample = server.load(generator, request, args.seconds, args.connections)
            report = httpx.post(server.url + CONTROL_PREFIX + "stop", timeout=60).json()
        if not args.quiet:
            print(report["text"])
            print(report["flat"])
        for label, measured in (("without profiler", plain), ("under the profiler", sample)):
            print(
                f"{request.method} {request.path} {label}: "
                f"{measured.requests / measured.seconds:.0f} req/s, "
                f"{1e6 * measured.server_cpu_s / max(1, measured.requests):.0f} us server CPU/req, "
                f"statuses {measured.statuses}"
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
