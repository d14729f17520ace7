"""Automation use cases. Every function takes a session and plain arguments, never a Request:
the HTTP routes and the worker (service/worker.py) call the same functions."""

import logging
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from service import events
from service.automations import deliveries, runner, ssrf
from service.automations.exceptions import (
    AutomationLimitReached,
    AutomationNotFound,
    RunNotFound,
    WebhookURLRefused,
)
from service.automations.models import Automation, AutomationRun
from service.automations.schemas import (
    Action,
    AutomationCreate,
    AutomationUpdate,
    RunTrigger,
    Trigger,
)
from service.automations.webhook import WebhookPolicy
from service.db import utcnow
from service.users.models import User

logger = logging.getLogger(__name__)
DETAIL_MAX_LENGTH = 500


async def check_action(action: Action, *, policy: WebhookPolicy) -> None:
    if action.type == "webhook":
        try:
            await ssrf.check_url(
                action.url, environment=policy.environment, allow_loopback=policy.allow_loopback
            )
        except ssrf.UnsafeURLError as exc:
            raise WebhookURLRefused(action.url, str(exc)) from None


def _next_run_at(trigger: Trigger, *, now: datetime) -> datetime | None:
    if trigger.type == "schedule":
        return now + timedelta(seconds=trigger.every_seconds)
    return None


async def create_automation(
    session: AsyncSession,
    *,
    owner: User,
    data: AutomationCreate,
    policy: WebhookPolicy,
    max_per_user: int,
) -> Automation:
    """Create it; the returned object's `secret` is shown to the caller this once. Refused when
    the owner already has `max_per_user` (every event runs each matching automation)."""
    await check_action(data.action, policy=policy)
    # The owner's row lock serialises their concurrent creates on PostgreSQL, so the count holds.
    await session.execute(select(User.id).where(User.id == owner.id).with_for_update())
    owned = await session.scalar(
        select(func.count()).select_from(Automation).where(Automation.owner_id == owner.id)
    )
    if (owned or 0) >= max_per_user:
        raise AutomationLimitReached(max_per_user)
    automation = Automation(
        owner_id=owner.id,
        name=data.name,
        enabled=data.enabled,
        trigger_type=data.trigger.type,
        trigger=data.trigger.model_dump(mode="json", exclude_none=True),
        action=data.action.model_dump(mode="json"),
        secret=secrets.token_urlsafe(32),
        next_run_at=_next_run_at(data.trigger, now=utcnow()),
    )
    session.add(automation)
    await session.commit()
    return automation


async def get_owned_automation(
    session: AsyncSession, *, automation_id: int, owner: User
) -> Automation:
    """The owner's automation; another user's (admins included) is 'not found', not 403."""
    automation = await session.get(Automation, automation_id)
    if automation is None or automation.owner_id != owner.id:
        raise AutomationNotFound
    return automation


async def list_automations(
    session: AsyncSession, *, owner: User, limit: int, offset: int
) -> Sequence[Automation]:
    result = await session.scalars(
        select(Automation)
        .where(Automation.owner_id == owner.id)
        .order_by(Automation.id)
        .limit(limit)
        .offset(offset)
    )
    return result.all()


async def update_automation(
    session: AsyncSession,
    *,
    automation: Automation,
    data: AutomationUpdate,
    policy: WebhookPolicy,
) -> Automation:
    if data.action is not None:
        await check_action(data.action, policy=policy)
        automation.action = data.action.model_dump(mode="json")
    if data.trigger is not None:
        automation.trigger_type = data.trigger.type
        automation.trigger = data.trigger.model_dump(mode="json", exclude_none=True)
        automation.next_run_at = _next_run_at(data.trigger, now=utcnow())
    if data.name is not None:
        automation.name = data.name
    if data.enabled is not None:
        automation.enabled = data.enabled
    await session.commit()
    return automation


async def delete_automation(session: AsyncSession, *, automation: Automation) -> None:
    await session.delete(automation)
    await session.commit()


async def list_runs(
    session: AsyncSession, *, automation: Automation, limit: int, offset: int
) -> Sequence[AutomationRun]:
    result = await session.scalars(
        select(AutomationRun)
        .where(AutomationRun.automation_id == automation.id)
        .order_by(AutomationRun.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return result.all()


async def run_automation(
    session: AsyncSession,
    *,
    automation: Automation,
    trigger: RunTrigger,
    policy: WebhookPolicy,
    event: events.OutboxEvent | None = None,
    scheduled_for: datetime | None = None,
    commit: bool = True,
    now: datetime | None = None,
) -> AutomationRun:
    """Run the action and record the run; a webhook is recorded `pending`, due now, for
    service/automations/deliveries.py to send (run-now makes its first attempt at once).

    A disabled automation is recorded as `skipped`. With commit=False the run is only flushed:
    the worker commits it together with its claim (schedule advanced / event processed).
    """
    now = now or utcnow()
    if not automation.enabled:
        outcome = runner.Outcome("skipped", 0, "automation is disabled")
    else:
        try:
            outcome = await runner.execute(
                session, automation=automation, trigger=trigger, event=event
            )
        except Exception as exc:
            # A bug or a database failure inside the action: recorded, never silent.
            logger.exception(
                "automation run failed", extra={"fields": {"automation_id": automation.id}}
            )
            outcome = runner.Outcome("failed", 0, f"internal error ({type(exc).__name__})")
    run = AutomationRun(
        automation_id=automation.id,
        trigger=trigger,
        event_id=event.id if event is not None else None,
        scheduled_for=scheduled_for,
        status=outcome.status,
        attempts=outcome.attempts,
        detail=outcome.detail[:DETAIL_MAX_LENGTH],
        started_at=now,
        finished_at=None if outcome.webhook else utcnow(),
    )
    if outcome.webhook is not None:
        run.delivery_id = outcome.webhook.delivery_id
        run.payload = outcome.webhook.body.decode()
        run.next_attempt_at = now
        run.retry_until = now + timedelta(seconds=policy.retry_horizon_seconds)
    session.add(run)
    if commit:
        await session.commit()
    else:
        await session.flush()
    return run


async def run_automation_now(
    session: AsyncSession, *, automation: Automation, policy: WebhookPolicy
) -> AutomationRun:
    """POST /automations/{id}/run: record a manual run; a webhook gets its first attempt now
    (bounded by WEBHOOK_TIMEOUT_SECONDS), the worker makes any retries."""
    run = await run_automation(session, automation=automation, trigger="manual", policy=policy)
    if run.status == deliveries.PENDING:
        run = await deliveries.attempt_now(session, run, policy=policy)
    return run


async def get_run(session: AsyncSession, *, automation: Automation, run_id: int) -> AutomationRun:
    run = await session.get(AutomationRun, run_id)
    if run is None or run.automation_id != automation.id:
        raise RunNotFound
    return run


async def redeliver(
    session: AsyncSession, *, automation: Automation, run_id: int, policy: WebhookPolicy
) -> AutomationRun:
    """Queue a dead delivery again with a fresh retry horizon, and attempt it now."""
    run = await get_run(session, automation=automation, run_id=run_id)
    await deliveries.requeue(session, run, policy=policy, now=utcnow())
    return await deliveries.attempt_now(session, run, policy=policy)


# --- used by the worker -------------------------------------------------------------------------
# Each claim is one short transaction: the row lock (PostgreSQL: FOR UPDATE SKIP LOCKED, so
# concurrent workers take different rows) is held until the runs are committed with the claim's
# effect; no network I/O happens inside it (webhooks are queued on the run, then delivered). If the
# worker dies first, the transaction rolls back and the row is due/pending again.


async def run_next_due_automation(
    session: AsyncSession, *, policy: WebhookPolicy, now: datetime | None = None
) -> AutomationRun | None:
    """Claim one due, enabled schedule; advance it, run it, commit. None if nothing is due."""
    now = now or utcnow()
    automation = await session.scalar(
        select(Automation)
        .where(
            Automation.enabled.is_(True),
            Automation.trigger_type == "schedule",
            Automation.next_run_at <= now,
        )
        .order_by(Automation.next_run_at, Automation.id)
        .limit(1)
        # NO KEY UPDATE: a concurrent run-now inserting a run (FK check: KEY SHARE) is not blocked.
        .with_for_update(skip_locked=True, key_share=True)
    )
    if automation is None:
        return None
    scheduled_for = automation.next_run_at
    # From now, not from the missed slot: a worker that was down does not fire a burst.
    automation.next_run_at = now + timedelta(seconds=automation.trigger["every_seconds"])
    return await run_automation(
        session,
        automation=automation,
        trigger="schedule",
        policy=policy,
        scheduled_for=scheduled_for,
        now=now,
    )


def matches(automation: Automation, event: events.OutboxEvent) -> bool:
    wanted = automation.trigger.get("event")
    item: dict[str, Any] = event.payload.get("item", {})
    previous: dict[str, Any] = event.payload.get("previous", {})
    if wanted == "created":
        return event.kind == events.ITEM_CREATED
    if wanted == "updated":
        return event.kind == events.ITEM_UPDATED
    if wanted == "low_stock" and event.kind == events.ITEM_UPDATED and "quantity" in previous:
        threshold = automation.trigger["threshold"]
        return previous["quantity"] >= threshold > item.get("quantity", threshold)
    return False


async def process_next_event(
    session: AsyncSession, *, policy: WebhookPolicy, now: datetime | None = None
) -> list[AutomationRun] | None:
    """Claim the oldest pending outbox event, run every matching automation of its owner, mark it
    processed and commit all of it at once. None if no event is pending."""
    event = await session.scalar(
        select(events.OutboxEvent)
        .where(events.OutboxEvent.processed_at.is_(None))
        .order_by(events.OutboxEvent.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    if event is None:
        return None
    candidates = await session.scalars(
        select(Automation)
        .where(
            Automation.owner_id == event.owner_id,
            Automation.enabled.is_(True),
            Automation.trigger_type == "item_event",
            # Automations react to what happens after they exist.
            Automation.created_at <= event.created_at,
        )
        .order_by(Automation.id)
    )
    runs = []
    for automation in candidates.all():
        if matches(automation, event):
            runs.append(
                await run_automation(
                    session,
                    automation=automation,
                    trigger="item_event",
                    policy=policy,
                    event=event,
                    commit=False,
                    now=now,
                )
            )
    event.processed_at = now or utcnow()
    await session.commit()
    return runs
