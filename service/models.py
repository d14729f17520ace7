"""Imports every domain's models so the shared metadata is complete (Alembic, tests)."""

from service.automations.models import Automation, AutomationRun
from service.db import Base
from service.events import OutboxEvent
from service.items.models import Item
from service.users.models import User

metadata = Base.metadata

__all__ = ["Automation", "AutomationRun", "Item", "OutboxEvent", "User", "metadata"]
