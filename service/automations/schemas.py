from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from service.schemas import NO_NUL_PATTERN, Page

Name = Annotated[str, Field(min_length=1, max_length=200, pattern=NO_NUL_PATTERN)]
MAX_URL_LENGTH = 2048


class ScheduleTrigger(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["schedule"]
    every_seconds: int = Field(ge=60, le=366 * 24 * 3600)


class ItemEventTrigger(BaseModel):
    """`created` / `updated` fire on every such change of one of the owner's items; `low_stock`
    fires on an update that takes an item's quantity from >= threshold to < threshold."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["item_event"]
    event: Literal["created", "updated", "low_stock"]
    threshold: int | None = Field(default=None, ge=1, le=2_147_483_647)

    @model_validator(mode="after")
    def _threshold_only_for_low_stock(self) -> "ItemEventTrigger":
        if self.event == "low_stock" and self.threshold is None:
            raise ValueError("threshold is required for the low_stock event")
        if self.event != "low_stock" and self.threshold is not None:
            raise ValueError("threshold applies only to the low_stock event")
        return self


Trigger = Annotated[ScheduleTrigger | ItemEventTrigger, Field(discriminator="type")]


class WebhookAction(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["webhook"]
    # Syntax only here; the SSRF policy (scheme, resolution, address ranges) is enforced by the
    # service at creation/update and again by the runner at send time.
    url: str = Field(min_length=1, max_length=MAX_URL_LENGTH, pattern=NO_NUL_PATTERN)


class ArchiveStaleItemsAction(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["archive_stale_items"]
    older_than_days: int = Field(ge=1, le=3650)


Action = Annotated[WebhookAction | ArchiveStaleItemsAction, Field(discriminator="type")]


class AutomationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    enabled: bool = True
    trigger: Trigger
    action: Action


class AutomationUpdate(BaseModel):
    """Every field optional; only the fields sent are changed."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    enabled: bool | None = None
    trigger: Trigger | None = None
    action: Action | None = None

    @field_validator("name", "enabled", "trigger", "action")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("may be omitted but not null")
        return value


class AutomationPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    owner_id: int
    name: str
    enabled: bool
    trigger: Trigger
    action: Action
    next_run_at: datetime | None
    created_at: datetime
    updated_at: datetime


class AutomationCreated(AutomationPublic):
    """The create response: the only time the webhook signing secret is shown."""

    secret: str


class AutomationsPage(Page[AutomationPublic]):
    pass


RunTrigger = Literal["manual", "schedule", "item_event"]
RunStatus = Literal["success", "failed", "skipped", "pending", "dead"]


class RunPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    automation_id: int
    trigger: RunTrigger
    event_id: int | None
    # A webhook run is `pending` until delivered (`success`) or given up (`dead`).
    status: RunStatus
    attempts: int
    detail: str
    # Webhooks: the X-Delivery-ID every attempt carries; when the next attempt is due (pending).
    delivery_id: str | None
    next_attempt_at: datetime | None
    started_at: datetime
    finished_at: datetime | None


class RunsPage(Page[RunPublic]):
    pass
