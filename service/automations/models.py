from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, TimestampMixin, UTCDateTime, utcnow

SECRET_LENGTH = 64


class Automation(TimestampMixin, Base):
    __tablename__ = "automations"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # "schedule" | "item_event": duplicated out of `trigger` so the worker can filter in SQL.
    trigger_type: Mapped[str] = mapped_column(String(32))
    trigger: Mapped[dict[str, Any]] = mapped_column(JSON)
    action: Mapped[dict[str, Any]] = mapped_column(JSON)
    # HMAC-SHA256 key for webhook signatures. Stored as-is (it must be usable to sign later);
    # shown once in the create response and never again. See docs/automations.md.
    secret: Mapped[str] = mapped_column(String(SECRET_LENGTH))
    # Schedules only: when the worker should run it next (NULL for item_event automations).
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)


class AutomationRun(Base):
    __tablename__ = "automation_runs"
    # Belt and braces under the worker's row locks: one run per (automation, event) and per
    # (automation, scheduled slot); NULLs (manual runs) are distinct on both databases.
    __table_args__ = (
        UniqueConstraint("automation_id", "event_id", name="uq_automation_runs_automation_event"),
        UniqueConstraint(
            "automation_id", "scheduled_for", name="uq_automation_runs_automation_scheduled_for"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    automation_id: Mapped[int] = mapped_column(
        ForeignKey("automations.id", ondelete="CASCADE"), index=True
    )
    trigger: Mapped[str] = mapped_column(String(32))  # manual | schedule | item_event
    event_id: Mapped[int | None] = mapped_column(Integer)
    scheduled_for: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # success | failed | skipped, and for webhooks: pending (queued or waiting for a retry) |
    # dead (gave up; POST .../redeliver queues it again). See service/automations/deliveries.py.
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    detail: Mapped[str] = mapped_column(String(500), default="")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When the run reached success, failed, skipped or dead; NULL while pending.
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Webhooks only. While pending: when the next attempt is due, or, during an attempt, when the
    # attempt's claim lapses (a worker that died mid-attempt leaves it due again).
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # No retry is scheduled after this (queued time, or redelivery time, + the retry horizon).
    retry_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Sent as X-Delivery-ID with every attempt: receivers deduplicate on it.
    delivery_id: Mapped[str | None] = mapped_column(String(32))
    # The exact signed body, so every attempt sends the same bytes.
    payload: Mapped[str | None] = mapped_column(Text)
