"""Automation use cases. Every function takes a session and plain arguments, never a Request:
the HTTP routes and the worker (service/worker.py) call the same functions."""

import logging
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service import events
from service.automations import runner, ssrf
from service.automations.models import Automation, AutomationRun
from service.automations.schemas import (
    Action,
    AutomationCreate,
    AutomationUpdate,
    RunTrigger,
    Trigger,
)
from service.config import Settings
from service.db import utcnow
from service.errors import DomainError, NotFoundError
from service.users.models import User

logger = logging.getLogger(__name__)
DETAIL_MAX_LENGTH = 500


class WebhookURLRefused(DomainError):
    """The webhook URL breaks the SSRF policy; detail names the reason."""

    status_code = 422

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"Webhook URL refused: {reason}")
        self.url = url
        self.reason = reason


async def check_action(action: Action, *, settings: Settings) -> None:
    if action.type == "webhook":
        try:
            await ssrf.check_url(
                action.url,
                environment=settings.environment,
                allow_loopback=settings.webhook_allow_loopback,
            )
        except ssrf.UnsafeURLError as exc:
            raise WebhookURLRefused(action.url, str(exc)) from None


def _next_run_at(trigger: Trigger, *, now: datetime) -> datetime | None:
    if trigger.type == "schedule":
        return now + timedelta(seconds=trigger.every_seconds)
    return None


async def create_automation(
    session: AsyncSession, *, owner: User, data: AutomationCreate, settings: Settings
) -> Automation:
    """Create it; the returned object's `secret` is shown to the caller this once."""
    await check_action(data.action, settings=settings)
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
        raise NotFoundError("Automation not found")
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
    session: AsyncSession, *, automation: Automation, data: AutomationUpdate, settings: Settings
) -> Automation:
    if data.action is not None:
        await check_action(data.action, settings=settings)
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
    settings: Settings,
    event: events.OutboxEvent | None = None,
    scheduled_for: datetime | None = None,
    commit: bool = True,
) -> AutomationRun:
    """Run the action now and record the run (used by POST /automations/{id}/run and the worker).

    A disabled automation is recorded as `skipped`. With commit=False the run is only flushed:
    the worker commits it together with its claim (schedule advanced / event processed).
    """
    started_at = utcnow()
    if not automation.enabled:
        outcome = runner.Outcome("skipped", 0, "automation is disabled")
    else:
        try:
            outcome = await runner.execute(
                session, automation=automation, trigger=trigger, event=event, settings=settings
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
        started_at=started_at,
        finished_at=utcnow(),
    )
    session.add(run)
    if commit:
        await session.commit()
    else:
        await session.flush()
    return run


# --- used by the worker -------------------------------------------------------------------------
# Each claim is one transaction: the row lock (PostgreSQL: FOR UPDATE SKIP LOCKED, so concurrent
# workers take different rows) is held until the run is committed with the claim's effect. If the
# worker dies first, the transaction rolls back and the row is due/pending again.


async def run_next_due_automation(
    session: AsyncSession, *, settings: Settings, now: datetime | None = None
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
        settings=settings,
        scheduled_for=scheduled_for,
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
    session: AsyncSession, *, settings: Settings
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
                    settings=settings,
                    event=event,
                    commit=False,
                )
            )
    event.processed_at = utcnow()
    await session.commit()
    return runs
