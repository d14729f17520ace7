"""Webhook deliveries: each run recorded exactly once, each delivery made at least once.

A webhook run is recorded `pending` and due in the transaction that creates it (the worker's claim
of a schedule or event, or run-now). Each attempt then takes three steps, and no database
connection is held across the request to the receiver:

1. claim, one short transaction: attempts + 1 and next_attempt_at = now + a lease, conditional
   on the attempt count read, so two claimants can never both win (PostgreSQL also skips rows
   another worker has locked);
2. send, outside any transaction: one request, bounded by WEBHOOK_TIMEOUT_SECONDS;
3. record, one short transaction, conditional on still holding the claim: success, pending with
   the next attempt's time (exponential backoff with jitter), or dead once the retry horizon
   has passed or the receiver refused it (4xx).

A process that dies between 1 and 3 leaves the run pending until its lease lapses; the next worker
pass sends it again with the same X-Delivery-ID (receivers deduplicate on it).
"""

import asyncio
import logging
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import Select, Update, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service import metrics
from service.automations import webhook
from service.automations.exceptions import NotADeadDelivery
from service.automations.models import Automation, AutomationRun
from service.automations.webhook import AttemptResult, WebhookPolicy
from service.db import utcnow

logger = logging.getLogger(__name__)

PENDING = "pending"
SUCCESS = "success"
DEAD = "dead"
# An attempt's claim outlives the attempt itself (bounded by the timeout) by this margin.
LEASE_MARGIN_SECONDS = 30.0
DETAIL_MAX_LENGTH = 500
_METRIC_OUTCOME: dict[str, metrics.WebhookOutcome] = {
    SUCCESS: "delivered",
    PENDING: "failed",
    DEAD: "dead",
}

Clock = Callable[[], datetime]
# Jitter only, but ruff cannot tell: SystemRandom keeps the linter's crypto rule satisfied.
_JITTER = random.SystemRandom()


@dataclass(frozen=True)
class Claim:
    """One attempt, claimed: what to send, and the attempt number that proves the claim."""

    run_id: int
    attempt: int
    retry_until: datetime
    delivery_id: str
    body: bytes
    url: str
    secret: str
    # Why it is not sent at all (the automation was disabled or no longer sends a webhook).
    withheld: str | None


def backoff(attempt: int, policy: WebhookPolicy, rng: random.Random) -> timedelta:
    """Delay after failed attempt n: base * 2**(n-1), capped, drawn from its upper half (jitter
    spreads retries to a receiver that comes back; the floor keeps the schedule's shape)."""
    ceiling = min(policy.backoff_max_seconds, policy.backoff_seconds * 2.0 ** min(attempt - 1, 40))
    return timedelta(seconds=ceiling * rng.uniform(0.5, 1.0))


def _lease(policy: WebhookPolicy) -> timedelta:
    return timedelta(seconds=policy.timeout_seconds + LEASE_MARGIN_SECONDS)


def _while_unchanged(run_id: int, attempts: int) -> Update:
    """An UPDATE of a pending run that applies only while its attempt count is `attempts`: the
    attempt count is the claim (a claim raises it; a lapsed claimant's outcome then matches no
    row)."""
    return (
        update(AutomationRun)
        .where(
            AutomationRun.id == run_id,
            AutomationRun.attempts == attempts,
            AutomationRun.status == PENDING,
        )
        .execution_options(synchronize_session=False)
    )


def _pending_runs() -> Select[tuple[AutomationRun, Automation]]:
    return (
        select(AutomationRun, Automation)
        .join(Automation, Automation.id == AutomationRun.automation_id)
        .where(AutomationRun.status == PENDING)
    )


async def claim(
    session: AsyncSession,
    *,
    now: datetime,
    policy: WebhookPolicy,
    run_id: int | None = None,
    due_by: datetime | None = None,
    exclude: frozenset[int] = frozenset(),
) -> Claim | None:
    """Claim run `run_id` if it is pending, else the earliest run due by `due_by` (not in
    `exclude`); commit the claim. None if there is nothing to claim."""
    query = _pending_runs()
    if run_id is not None:
        query = query.where(AutomationRun.id == run_id)
    else:
        query = query.where(AutomationRun.next_attempt_at <= (due_by or now))
        if exclude:
            query = query.where(AutomationRun.id.not_in(exclude))
    query = (
        query.order_by(AutomationRun.next_attempt_at, AutomationRun.id)
        .limit(1)
        .with_for_update(skip_locked=True, of=AutomationRun)
    )
    row = (await session.execute(query)).first()
    if row is None:
        await session.rollback()
        return None
    run, automation = row
    attempt = run.attempts + 1
    claimed = await session.execute(
        _while_unchanged(run.id, run.attempts).values(
            attempts=attempt, next_attempt_at=now + _lease(policy)
        )
    )
    if claimed.rowcount != 1:  # SQLite only: another claimant got there first
        await session.rollback()
        return None
    await session.commit()
    action = automation.action
    withheld = None
    if not automation.enabled:
        withheld = "not sent: the automation is disabled"
    elif action.get("type") != "webhook":
        withheld = "not sent: the automation no longer sends a webhook"
    return Claim(
        run_id=run.id,
        attempt=attempt,
        retry_until=run.retry_until or now,
        delivery_id=run.delivery_id or "",
        body=(run.payload or "").encode(),
        url=action.get("url", ""),
        secret=automation.secret,
        withheld=withheld,
    )


async def send(client: httpx.AsyncClient, claimed: Claim, policy: WebhookPolicy) -> AttemptResult:
    if claimed.withheld is not None:
        return AttemptResult(ok=False, retryable=False, detail=claimed.withheld)
    return await webhook.send(
        client,
        url=claimed.url,
        secret=claimed.secret,
        body=claimed.body,
        delivery_id=claimed.delivery_id,
        policy=policy,
    )


async def record(
    session: AsyncSession,
    claimed: Claim,
    result: AttemptResult,
    *,
    now: datetime,
    policy: WebhookPolicy,
    rng: random.Random,
) -> str | None:
    """Store the attempt's outcome; the run's new status, or None if the claim had lapsed and
    another claimant has the run now (its own outcome will be stored)."""
    detail = result.detail
    next_attempt_at = None
    if result.ok:
        status = SUCCESS
    elif not result.retryable:
        status, detail = DEAD, f"{detail}; not retried"
    elif (retry_at := now + backoff(claimed.attempt, policy, rng)) <= claimed.retry_until:
        status, next_attempt_at = PENDING, retry_at
    else:
        status, detail = DEAD, f"{detail}; gave up after {claimed.attempt} attempt(s)"
    stored = await session.execute(
        _while_unchanged(claimed.run_id, claimed.attempt).values(
            status=status,
            detail=detail[:DETAIL_MAX_LENGTH],
            next_attempt_at=next_attempt_at,
            finished_at=None if status == PENDING else now,
        )
    )
    await session.commit()
    if stored.rowcount != 1:
        return None
    metrics.webhook_delivery(_METRIC_OUTCOME[status])
    logger.info(
        "webhook attempt",
        extra={
            "fields": {
                "run_id": claimed.run_id,
                "delivery_id": claimed.delivery_id,
                "attempt": claimed.attempt,
                "status": status,
                "detail": detail,
            }
        },
    )
    return status


async def attempt_now(
    session: AsyncSession,
    run: AutomationRun,
    *,
    policy: WebhookPolicy,
    clock: Clock = utcnow,
    rng: random.Random | None = None,
) -> AutomationRun:
    """Make one attempt at `run` now (run-now, redeliver); later ones are the worker's. The
    session holds no connection while the request is in flight."""
    claimed = await claim(session, now=clock(), policy=policy, run_id=run.id)
    if claimed is not None:
        async with webhook.http_client(policy) as client:
            result = await send(client, claimed, policy)
        await record(session, claimed, result, now=clock(), policy=policy, rng=rng or _JITTER)
    await session.refresh(run)
    await session.commit()  # ends the refresh's transaction: nothing held until the response
    return run


async def requeue(
    session: AsyncSession, run: AutomationRun, *, policy: WebhookPolicy, now: datetime
) -> None:
    """Queue a dead delivery again, due now, with a fresh retry horizon."""
    if run.status != DEAD:
        raise NotADeadDelivery(run.status)
    run.status = PENDING
    run.next_attempt_at = now
    run.retry_until = now + timedelta(seconds=policy.retry_horizon_seconds)
    run.finished_at = None
    run.detail = "redelivery requested"
    await session.commit()


async def deliver_due(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    policy: WebhookPolicy,
    concurrency: int,
    limit: int,
    deadline: float,
    stop: asyncio.Event | None = None,
    clock: Clock = utcnow,
    rng: random.Random | None = None,
) -> Counter[str]:
    """Attempt the runs due now, `concurrency` at a time, each at most once, at most `limit`
    in all, claiming none after the monotonic `deadline` or `stop`. Statuses stored, counted."""
    due_by = clock()
    rng = rng or _JITTER
    attempted: set[int] = set()
    statuses: Counter[str] = Counter()
    # Lanes claim one at a time: on SQLite (no row locks) two lanes would race for one row.
    claiming = asyncio.Lock()

    def may_claim() -> bool:
        return (
            len(attempted) < limit
            and time.monotonic() < deadline
            and not (stop is not None and stop.is_set())
        )

    async def lane(client: httpx.AsyncClient) -> None:
        while True:
            async with claiming:
                if not may_claim():
                    return
                async with sessionmaker() as session:
                    claimed = await claim(
                        session,
                        now=clock(),
                        policy=policy,
                        due_by=due_by,
                        exclude=frozenset(attempted),
                    )
                if claimed is None:
                    return
                attempted.add(claimed.run_id)
            result = await send(client, claimed, policy)
            async with sessionmaker() as session:
                status = await record(session, claimed, result, now=clock(), policy=policy, rng=rng)
            if status is not None:
                statuses[status] += 1

    async with webhook.http_client(policy) as client, asyncio.TaskGroup() as group:
        for _ in range(concurrency):
            group.create_task(lane(client))
    return statuses
