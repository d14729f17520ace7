"""`python -m bench.run [--smoke]`: the service against bare FastAPI, measured in one run.

What it does, in order (every step bounded in time, every process and database cleaned up):
1. finds `wrk` (installs the Debian package when missing and running as root; otherwise falls back
   to a bounded asyncio HTTP/1.1 client and says so): bench/load.py;
2. creates a fresh PostgreSQL database on 127.0.0.1, migrated by `python -m service.migrate`:
   bench/fixtures.py;
3. starts real uvicorn processes on free 127.0.0.1 ports, all with the same flags: the baseline
   (bench/baseline_app.py) and the service once per rate-limiter mode (production-like Redis,
   in-memory, off), JSON logs redirected to files; and the production-like service three more
   times, each serving only the protocol comparison: under the image's bounded HTTP protocol,
   plain httptools and h11: bench/servers.py, bench/scenarios.py;
4. seeds a user and its items through the API: bench/fixtures.py;
5. warms every scenario up, then measures them in interleaved slices (round-robin), so background
   load on a shared machine hits every scenario alike and the ratios stay comparable:
   bench/scenarios.py;
6. prints a table, writes the results JSON (bench/report.py), and exits 1 if any response was
   non-2xx or a connection failed, 2 if the harness itself could not run.

Only one server is under load at any moment; the idle ones cost nothing.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

from bench import BenchError
from bench.fixtures import check_limiter_modes, postgres_version, provisioned, seed, workspace
from bench.load import load_generator
from bench.report import (
    load_average,
    machine_info,
    render,
    results_document,
    scenario_results,
    write,
)
from bench.scenarios import FULL, SERVERS, SMOKE, Mode, measure
from bench.servers import Server, image_http_protocol, running
from tests.support.uvicorn_server import REPO

DEFAULT_OUTPUT = REPO / "bench" / "results.json"


class RunFailed(Exception):
    """The run completed, and some response was not 2xx or some connection failed."""


def run(mode: Mode, output: Path | None, keep_logs: bool) -> None:
    started = time.monotonic()
    load_at_start = load_average()
    with workspace("bench-", keep_logs=keep_logs) as workdir:
        generator = load_generator(workdir)
        print(f"load generator: {generator.name}; logs in {workdir}", flush=True)
        with provisioned(workdir) as context:
            servers = {name: Server(name, spec, context) for name, spec in SERVERS.items()}
            with running(servers.values()):
                seed_data = seed(servers["service"].base_url)
                check_limiter_modes(servers, seed_data)
                measurement = measure(mode, generator, servers, seed_data, context)
            results = scenario_results(measurement)
            machine = machine_info(
                generator,
                mode,
                postgres_version(context),
                load_average_at_start=load_at_start,
                load_average_at_end=load_average(),
                redis_limiter_keys_peak=measurement.redis_limiter_keys_peak,
                http_protocol=image_http_protocol(),
                wall_clock_s=round(time.monotonic() - started, 1),
            )
            document = results_document(results, measurement.rounds, machine)
            print()
            print(render(document))
            if output is not None:
                write(document, output)
                print(f"\nwrote {output}")
            bad = {name: result.statuses for name, result in results.items() if result.unexpected}
            if bad:
                print(f"\nFAILED: unexpected non-2xx responses or socket errors: {bad}")
                raise RunFailed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--smoke", action="store_true", help="a few seconds per scenario (CI); asserts no speed"
    )
    parser.add_argument(
        "--output",
        type=Path,
        help=f"results JSON (default: {DEFAULT_OUTPUT.relative_to(REPO)} in full mode, "
        "none in smoke mode)",
    )
    parser.add_argument("--connections", type=int, help="concurrent connections (default 32)")
    parser.add_argument("--keep-logs", action="store_true", help="keep the server logs")
    args = parser.parse_args(argv)
    mode = SMOKE if args.smoke else FULL
    if args.connections:
        mode = dataclasses.replace(mode, connections=args.connections)
    output = args.output if args.output else (None if args.smoke else DEFAULT_OUTPUT)
    try:
        run(mode, output, args.keep_logs)
    except RunFailed:
        return 1
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
