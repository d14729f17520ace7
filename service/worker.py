"""`python -m service.worker run-due [--once] [--batch N] [--interval SECONDS]`

Runs due scheduled automations, consumes pending outbox events and delivers due webhooks, using the
same service functions as the HTTP API (service.automations). Each schedule or event is claimed in
one short transaction that records its runs (a webhook is queued on its run, never sent inside a
transaction); on PostgreSQL the claim is `SELECT ... FOR UPDATE SKIP LOCKED`, so any number of
workers can run side by side. Webhooks are then sent WEBHOOK_CONCURRENCY at a time, each due
delivery at most once per pass (service/automations/deliveries.py). A pass claims nothing new after
WORKER_PASS_BUDGET_SECONDS. SQLite has no row locks: run a single worker there.

One summary line per pass (runs: records created; delivered/retrying/dead: webhook attempts):
    run-due pass=1 schedules=3 events=2 runs=5 success=1 failed=0 skipped=0 \
        delivered=3 retrying=1 dead=0 seconds=0.42

Exit codes:
    0  --once pass completed, or stopped by SIGTERM/SIGINT (deliveries in flight finish first)
    1  --once pass aborted by an unexpected error (e.g. database unreachable); details logged
    2  usage error
Without --once a failed pass is logged and retried after the interval; the process keeps going.
"""

import argparse
import asyncio
import contextlib
import logging
import random
import signal
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service import metrics
from service.automations import deliveries, service
from service.automations.deliveries import Clock
from service.automations.models import AutomationRun
from service.automations.webhook import WebhookPolicy
from service.config import Settings
from service.db import create_engine, create_sessionmaker, utcnow
from service.observability import configure_logging

logger = logging.getLogger("service.worker")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


@dataclass
class PassSummary:
    number: int = 0
    schedules: int = 0
    events: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    deliveries: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    def record(self, runs: Sequence[AutomationRun]) -> None:
        self.statuses.update(run.status for run in runs)

    def line(self) -> str:
        return (
            f"run-due pass={self.number} schedules={self.schedules} events={self.events} "
            f"runs={sum(self.statuses.values())} success={self.statuses['success']} "
            f"failed={self.statuses['failed']} skipped={self.statuses['skipped']} "
            f"delivered={self.deliveries[deliveries.SUCCESS]} "
            f"retrying={self.deliveries[deliveries.PENDING]} "
            f"dead={self.deliveries[deliveries.DEAD]} seconds={self.seconds:.2f}"
        )


async def run_pass(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    settings: Settings,
    batch: int,
    stop: asyncio.Event | None = None,
    number: int = 1,
    clock: Clock = utcnow,
    rng: random.Random | None = None,
) -> PassSummary:
    """Up to `batch` due schedules, up to `batch` pending events, then up to `batch` due webhook
    deliveries; nothing new is claimed once `stop` is set or the pass's time budget is spent."""
    started = time.monotonic()
    deadline = started + settings.worker_pass_budget_seconds
    policy = WebhookPolicy.from_settings(settings)
    summary = PassSummary(number=number)

    def may_claim() -> bool:
        return time.monotonic() < deadline and not (stop and stop.is_set())

    while summary.schedules < batch and may_claim():
        async with sessionmaker() as session:
            run = await service.run_next_due_automation(session, policy=policy, now=clock())
        if run is None:
            break
        summary.schedules += 1
        summary.record([run])
    while summary.events < batch and may_claim():
        async with sessionmaker() as session:
            runs = await service.process_next_event(session, policy=policy, now=clock())
        if runs is None:
            break
        summary.events += 1
        summary.record(runs)
    summary.deliveries = await deliveries.deliver_due(
        sessionmaker,
        policy=policy,
        concurrency=settings.webhook_concurrency,
        limit=batch,
        deadline=deadline,
        stop=stop,
        clock=clock,
        rng=rng,
    )
    summary.seconds = time.monotonic() - started
    if time.monotonic() >= deadline:
        logger.warning(
            "run-due pass spent its time budget; the rest waits for the next pass",
            extra={"fields": {"pass": number, "budget": settings.worker_pass_budget_seconds}},
        )
    return summary


async def run_due(settings: Settings, *, once: bool, batch: int, interval: float) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    engine = create_engine(settings)
    sessionmaker = create_sessionmaker(engine)
    number = 0
    try:
        while not stop.is_set():
            number += 1
            started = time.monotonic()
            try:
                summary = await run_pass(
                    sessionmaker, settings=settings, batch=batch, stop=stop, number=number
                )
            except Exception:
                metrics.worker_run("failed", time.monotonic() - started)
                logger.exception("run-due pass failed", extra={"fields": {"pass": number}})
                if once:
                    return EXIT_FAILED
            else:
                metrics.worker_run("success", summary.seconds)
                print(summary.line(), flush=True)
                if once:
                    return EXIT_OK
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)
        logger.info("stopping on signal", extra={"fields": {"passes": number}})
        return EXIT_OK
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
        await engine.dispose()


def parse_args(argv: Sequence[str] | None, settings: Settings) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m service.worker")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run-due", help="run due schedules and pending item events")
    run.add_argument("--once", action="store_true", help="one pass, then exit")
    run.add_argument(
        "--batch",
        type=int,
        default=settings.worker_batch_size,
        help="max schedules, events and deliveries per pass (default: WORKER_BATCH_SIZE)",
    )
    run.add_argument(
        "--interval",
        type=float,
        default=settings.worker_poll_interval_seconds,
        help="seconds between passes (default: WORKER_POLL_INTERVAL_SECONDS)",
    )
    args = parser.parse_args(argv)
    if args.batch < 1 or args.interval <= 0:
        parser.error("--batch must be >= 1 and --interval > 0")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    settings = Settings()
    try:
        args = parse_args(argv, settings)
    except SystemExit as exc:
        return EXIT_OK if exc.code == 0 else EXIT_USAGE
    configure_logging(level=settings.log_level, json_output=settings.log_json)
    metrics.configure(settings)
    return asyncio.run(run_due(settings, once=args.once, batch=args.batch, interval=args.interval))


if __name__ == "__main__":
    sys.exit(main())
