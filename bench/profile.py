"""`python -m bench.profile [--path PATH] [--seconds N]`: where a hot request spends its time.

Starts the service exactly as `bench.run` does (bench/servers.py, bench/fixtures.py: PostgreSQL,
Redis limiter, JSON logs to a file), but wrapped by `profiled_app` below, which runs pyinstrument
on the server's main thread between two bench-only control requests. Drives wrk at the path
(default: GET /items/{id} with a JWT) and prints pyinstrument's call tree; `--html FILE` also
writes the interactive report.

Never imported by the service: the wrapper exists only in this process's uvicorn.
"""

import argparse
import json
import os
import sys
from pathlib import Path

import httpx
from pyinstrument import Profiler
from starlette.types import ASGIApp, Receive, Scope, Send

from bench.fixtures import provisioned, seed, workspace
from bench.load import Sample, load_generator
from bench.scenarios import FULL, Scenario
from bench.servers import Server, ServerSpec, running

CONTROL_PREFIX = "/__bench/profile/"
SHOW_ALL = bool(os.environ.get("BENCH_PROFILE_SHOW_ALL"))


class ProfiledApp:
    """The service, plus /__bench/profile/start and /__bench/profile/stop (returns the report).
    Its one instance, `profiled_app`, is what the profiled server's uvicorn loads."""

    def __init__(self) -> None:
        self.profiler: Profiler | None = None
        self.service_app: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.service_app is None:
            # Imported here: the service reads its settings at import, from the server's
            # environment, which the process driving the run does not have.
            from service.main import app as service_app

            self.service_app = service_app
        if scope["type"] == "http" and scope["path"].startswith(CONTROL_PREFIX):
            await self.control(scope["path"].removeprefix(CONTROL_PREFIX), send)
            return
        await self.service_app(scope, receive, send)

    async def control(self, action: str, send: Send) -> None:
        body = b"ok"
        if action == "start":
            self.profiler = Profiler(interval=0.0005, async_mode="disabled")
            self.profiler.start()
        elif action == "stop" and self.profiler is not None:
            self.profiler.stop()
            body = json.dumps(
                {
                    "text": self.profiler.output_text(unicode=True, color=False, show_all=SHOW_ALL),
                    "flat": flat_report(self.profiler),
                    "html": self.profiler.output_html(),
                }
            ).encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})


profiled_app = ProfiledApp()


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
    parser.add_argument("--connections", type=int, default=FULL.connections)
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

    keep_logs = bool(os.environ.get("BENCH_KEEP_LOGS"))
    with workspace("bench-profile-", keep_logs=keep_logs) as workdir:
        generator = load_generator(workdir)
        with provisioned(workdir) as context:
            spec = ServerSpec("bench.profile:profiled_app", limiter=args.limiter)
            extra_env = dict(item.split("=", 1) for item in args.env)
            server = Server("service", spec, context, extra_env=extra_env)
            with running([server]):
                seed_data = seed(server.base_url)
                scenario = Scenario("profile", "service", "GET", args.path, authenticated=True)
                request = scenario.request(seed_data)
                server.load(generator, request, 2, args.connections)  # warm-up
                plain = server.load(generator, request, args.seconds, args.connections)
                httpx.post(server.base_url + CONTROL_PREFIX + "start", timeout=10)
                sample = server.load(generator, request, args.seconds, args.connections)
                report = httpx.post(server.base_url + CONTROL_PREFIX + "stop", timeout=60).json()
            if not args.quiet:
                print(report["text"])
                print(report["flat"])
            for label, measured in (("without profiler", plain), ("under the profiler", sample)):
                print(f"{request.method} {request.path} {label}: {throughput(measured)}")
            if args.html:
                args.html.write_text(report["html"])
                print(f"wrote {args.html}")
    return 0


def throughput(sample: Sample) -> str:
    return (
        f"{sample.requests / sample.seconds:.0f} req/s, "
        f"{1e6 * sample.server_cpu_s / max(1, sample.requests):.0f} us server CPU/req, "
        f"statuses {sample.statuses}"
    )


if __name__ == "__main__":
    sys.exit(main())
