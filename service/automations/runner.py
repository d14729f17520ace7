"""Executes one automation's action. Called by service.run_automation (HTTP run-now and worker).

A webhook is not sent here: it is queued on the run (service/automations/deliveries.py sends it),
so the transaction that records the run never waits on the network."""

import json
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from service import events
from service.automations.models import Automation
from service.db import utcnow
from service.items import service as items


@dataclass(frozen=True)
class QueuedWebhook:
    delivery_id: str
    body: bytes


@dataclass(frozen=True)
class Outcome:
    status: str  # success | failed | skipped | pending (a webhook queued for delivery)
    attempts: int
    detail: str
    webhook: QueuedWebhook | None = None


def webhook_body(
    *, automation: Automation, trigger: str, event: events.OutboxEvent | None, delivery_id: str
) -> bytes:
    """The exact bytes that are sent and signed (compact, sorted keys)."""
    payload: dict[str, Any] = {
        "delivery_id": delivery_id,
        "automation": {"id": automation.id, "name": automation.name},
        "trigger": trigger,
        "event": None,
        "sent_at": utcnow().isoformat(),
    }
    if event is not None:
        payload["event"] = {"id": event.id, "kind": event.kind, "data": event.payload}
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode()


async def execute(
    session: AsyncSession,
    *,
    automation: Automation,
    trigger: str,
    event: events.OutboxEvent | None,
) -> Outcome:
    action = automation.action
    if action["type"] == "webhook":
        delivery_id = uuid.uuid4().hex
        body = webhook_body(
            automation=automation, trigger=trigger, event=event, delivery_id=delivery_id
        )
        return Outcome("pending", 0, "queued for delivery", QueuedWebhook(delivery_id, body))
    if action["type"] == "archive_stale_items":
        archived = await items.archive_stale_items(
            session, owner_id=automation.owner_id, older_than_days=action["older_than_days"]
        )
        return Outcome("success", 1, f"archived {archived} item(s)")
    return Outcome("failed", 0, f"unknown action type {action['type']!r}")
