"""Imports every domain's models so the shared metadata is complete (Alembic, tests)."""

from service.db import Base
from service.items.models import Item
from service.users.models import User

metadata = Base.metadata

__all__ = ["Item", "User", "metadata"]
