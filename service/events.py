"""Transactional outbox: domain events written in the same transaction as the change they describe.

A domain adds an event with `add_event(session, ...)` before it commits; the event row and the
change become visible together or not at all. The worker (service/worker.py) claims pending rows,
lets the automations react, and marks them processed in the same transaction as the runs it
records, so each event is consumed exactly once. Shared module: imports no domain.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, UTCDateTime, utcnow

ITEM_CREATED = "item.created"
ITEM_UPDATED = "item.updated"


class OutboxEvent(Base):
    __tablename__ = "outbox_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    # The user whose data changed: consumers only react with that user's automations.
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # The changed row's id; no foreign key, the row may be gone by the time the event is consumed.
    subject_id: Mapped[int] = mapped_column(Integer)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # NULL while pending; the worker's claim query reads `processed_at IS NULL ORDER BY id`.
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)


def add_event(
    session: AsyncSession, *, kind: str, owner_id: int, subject_id: int, payload: dict[str, Any]
) -> OutboxEvent:
    """Stage an event in the caller's transaction; the caller commits (or rolls back) both."""
    event = OutboxEvent(kind=kind, owner_id=owner_id, subject_id=subject_id, payload=payload)
    session.add(event)
    return event
