"""The load generators: wrk with a Lua script, or a bounded asyncio client when wrk is missing.

Each drives one request shape at one URL for a number of seconds over a number of keep-alive
connections, every request from the next of CLIENT_ADDRESSES client addresses, and returns a
Sample: counts, statuses, socket errors and the latency at every 0.1 %.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import httpx

from bench import BenchError

# The same latency quantile grid for both load generators: 0.0 %, 0.1 %, ... 100 %.
QUANTILE_STEPS = 1000
# Load comes from many client addresses (X-Forwarded-For, trusted from 127.0.0.1 as in
# production behind the ALB), so each per-IP window stays small and below the production limits,
# as with real traffic. One address at 1000+ req/s would need absurd limits instead, and the
# moving window's cost grows with the hits a window holds (see bench/README.md).
CLIENT_ADDRESSES = 65536


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None


@dataclass
class Sample:
    """One bounded load run against one scenario."""

    requests: int
    seconds: float
    statuses: dict[int, int]
    socket_errors: int
    latency_ms: list[float]  # the latency at each quantile i / QUANTILE_STEPS, i = 0..STEPS
    server_cpu_s: float = 0.0  # CPU the server process used meanwhile (user + system)


class LoadGenerator(Protocol):
    name: str

    def run(self, base_url: str, request: Request, seconds: int, connections: int) -> Sample: ...


class Wrk:
    """wrk with a Lua script that sets the request, counts statuses per thread and prints one
    machine-readable line (counts, socket errors, its latency distribution at every 0.1 %)."""

    LUA = """
wrk.method = {method}
wrk.path = {path}
wrk.body = {body}
{headers}
local threads = {{}}
local counter = 0
statuses = {{}}

function setup(thread)
  table.insert(threads, thread)
end

-- Every request from the next of {addresses} client addresses (10.x.y.z), as behind the ALB.
function request()
  counter = (counter + 1) % {addresses}
  wrk.headers["X-Forwarded-For"] = string.format(
    "10.%d.%d.%d", math.floor(counter / 65536) % 256, math.floor(counter / 256) % 256,
    counter % 256)
  return wrk.format()
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local merged = {{}}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      merged[status] = (merged[status] or 0) + count
    end
  end
  local parts = {{}}
  for status, count in pairs(merged) do
    parts[#parts + 1] = string.format('"%d": %d', status, count)
  end
  local quantiles = {{}}
  for i = 0, {steps} do
    quantiles[#quantiles + 1] = string.format("%d", latency:percentile(100 * i / {steps}))
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {{"requests": %d, "duration_us": %d, "socket_errors": %d, ' ..
    '"statuses": {{%s}}, "latency_us": [%s]}}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout,
    table.concat(parts, ", "), table.concat(quantiles, ", ")))
end
"""

    def __init__(self, executable: str, workdir: Path) -> None:
        self.executable = executable
        self.workdir = workdir
        self.name = "wrk " + wrk_version(executable)

    def script(self, request: Request) -> Path:
        headers = "\n".join(
            f"wrk.headers[{lua_string(name)}] = {lua_string(value)}"
            for name, value in request.headers.items()
        )
        text = self.LUA.format(
            method=lua_string(request.method),
            path=lua_string(request.path),
            body=lua_string(request.body) if request.body is not None else "nil",
            headers=headers,
            steps=QUANTILE_STEPS,
            addresses=CLIENT_ADDRESSES,
        )
        path = self.workdir / f"wrk-{uuid.uuid4().hex[:8]}.lua"
        path.write_text(text)
        return path

    def run(self, base_url: str, request: Request, seconds: int, connections: int) -> Sample:
        script = self.script(request)
        command = [
            self.executable,
            "--threads",
            "1",
            "--connections",
            str(connections),
            "--duration",
            f"{seconds}s",
            "--timeout",
            "5s",
            "--latency",
            "--script",
            str(script),
            base_url,
        ]
        try:
            finished = subprocess.run(
                command, capture_output=True, text=True, timeout=seconds + 30, check=False
            )
        finally:
            script.unlink(missing_ok=True)
        line = next(
            (ln for ln in finished.stdout.splitlines() if ln.startswith("BENCH_RESULT ")), None
        )
        if finished.returncode != 0 or line is None:
            raise BenchError(
                f"wrk failed (exit {finished.returncode}): {finished.stderr or finished.stdout}"
            )
        data = json.loads(line.removeprefix("BENCH_RESULT "))
        return Sample(
            requests=data["requests"],
            seconds=data["duration_us"] / 1e6,
            statuses={int(status): count for status, count in data["statuses"].items()},
            socket_errors=data["socket_errors"],
            latency_ms=[value / 1000 for value in data["latency_us"]],
        )


def lua_string(value: str) -> str:
    # JSON string syntax is valid Lua for ASCII text (\" \\ \n \t); refuse anything else.
    if not value.isascii():
        raise BenchError(f"non-ASCII text in a wrk script: {value!r}")
    return json.dumps(value)


def wrk_version(executable: str) -> str:
    finished = subprocess.run(
        [executable, "--version"], capture_output=True, text=True, timeout=10, check=False
    )
    match = re.search(r"wrk (\S+)", finished.stdout + finished.stderr)
    return match.group(1) if match else "unknown"


class PythonClient:
    """Fallback load generator: keep-alive HTTP/1.1 over raw asyncio streams, one coroutine per
    connection, bounded by a deadline. Slower than wrk, so it understates fast scenarios (the
    baseline most of all); the output says when it was used."""

    name = "python-asyncio (wrk unavailable)"

    def run(self, base_url: str, request: Request, seconds: int, connections: int) -> Sample:
        return asyncio.run(self._run(base_url, request, seconds, connections))

    async def _run(self, base_url: str, request: Request, seconds: int, connections: int) -> Sample:
        url = httpx.URL(base_url)
        body = (request.body or "").encode()
        head = [f"{request.method} {request.path} HTTP/1.1", f"Host: {url.host}:{url.port}"]
        head += [f"{name}: {value}" for name, value in request.headers.items()]
        if request.body is not None:
            head.append(f"Content-Length: {len(body)}")
        prefix = ("\r\n".join(head) + "\r\n").encode()
        counter = 0
        latencies: list[float] = []
        statuses: dict[int, int] = {}
        errors = 0
        deadline = time.perf_counter() + seconds

        async def connection() -> None:
            nonlocal errors
            nonlocal counter
            reader, writer = await asyncio.open_connection(url.host, url.port)
            try:
                while time.perf_counter() < deadline:
                    counter = (counter + 1) % CLIENT_ADDRESSES
                    started = time.perf_counter()
                    writer.write(
                        prefix
                        + f"X-Forwarded-For: {client_address(counter)}\r\n\r\n".encode()
                        + body
                    )
                    status_line = await reader.readline()
                    length = 0
                    while (line := await reader.readline()) not in (b"\r\n", b""):
                        name, _, value = line.partition(b":")
                        if name.strip().lower() == b"content-length":
                            length = int(value)
                    await reader.readexactly(length)
                    latencies.append((time.perf_counter() - started) * 1000)
                    status = int(status_line.split()[1])
                    statuses[status] = statuses.get(status, 0) + 1
            except (OSError, asyncio.IncompleteReadError, IndexError, ValueError):
                errors += 1
            finally:
                writer.close()

        started = time.perf_counter()
        await asyncio.wait_for(
            asyncio.gather(*(connection() for _ in range(connections))), timeout=seconds + 10
        )
        elapsed = time.perf_counter() - started
        latencies.sort()
        grid = (
            [
                latencies[min(len(latencies) - 1, round(i * (len(latencies) - 1) / QUANTILE_STEPS))]
                for i in range(QUANTILE_STEPS + 1)
            ]
            if latencies
            else []
        )
        return Sample(len(latencies), elapsed, statuses, errors, grid)


def client_address(number: int) -> str:
    return f"10.{number // 65536 % 256}.{number // 256 % 256}.{number % 256}"


def load_generator(workdir: Path) -> LoadGenerator:
    """wrk (installed from the Debian package when missing and running as root), else the
    Python client, with a warning."""
    executable = shutil.which("wrk")
    if executable is None and os.geteuid() == 0:
        print("wrk not found: installing the Debian package", flush=True)
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            subprocess.run(
                ["apt-get", "install", "-y", "--no-install-recommends", "wrk"],
                capture_output=True,
                timeout=180,
                check=False,
                env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
            )
        executable = shutil.which("wrk")
    if executable is None:
        print("WARNING: wrk unavailable; falling back to the Python asyncio client", flush=True)
        return PythonClient()
    return Wrk(executable, workdir)
