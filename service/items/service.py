"""Item use cases. Every function takes a session and plain arguments, never a Request."""

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service import events
from service.errors import NotFoundError
from service.items.models import Item
from service.items.schemas import ItemCreate, ItemUpdate
from service.users.models import User


async def create_item(session: AsyncSession, *, owner: User, data: ItemCreate) -> Item:
    item = Item(owner_id=owner.id, **data.model_dump())
    session.add(item)
    await session.flush()  # assigns item.id for the event
    stage_item_event(session, item=item, kind=events.ITEM_CREATED)
    await session.commit()  # the item and its outbox event, atomically
    return item


async def get_item(session: AsyncSession, *, item_id: int, viewer: User) -> Item:
    """The viewer's item (any item for admins). Another user's item is 'not found', not 403."""
    item = await session.get(Item, item_id)
    if item is None or (item.owner_id != viewer.id and not viewer.is_admin):
        raise NotFoundError("Item not found")
    return item


async def get_owned_item(session: AsyncSession, *, item_id: int, owner: User) -> Item:
    item = await session.get(Item, item_id)
    if item is None or item.owner_id != owner.id:
        raise NotFoundError("Item not found")
    return item


async def list_items(
    session: AsyncSession,
    *,
    viewer: User,
    limit: int,
    offset: int,
    name_contains: str | None = None,
) -> Sequence[Item]:
    query = select(Item).order_by(Item.id).limit(limit).offset(offset)
    if not viewer.is_admin:
        query = query.where(Item.owner_id == viewer.id)
    if name_contains:
        query = query.where(Item.name.icontains(name_contains, autoescape=True))
    result = await session.scalars(query)
    return result.all()


async def update_item(session: AsyncSession, *, item: Item, data: ItemUpdate) -> Item:
    previous: dict[str, Any] = {}
    for field, value in data.model_dump(exclude_unset=True).items():
        if getattr(item, field) != value:
            previous[field] = _jsonable(getattr(item, field))
        setattr(item, field, value)
    if previous:
        stage_item_event(session, item=item, kind=events.ITEM_UPDATED, previous=previous)
    await session.commit()  # the change and its outbox event, atomically
    return item


def stage_item_event(
    session: AsyncSession, *, item: Item, kind: str, previous: dict[str, Any] | None = None
) -> None:
    """Add an outbox event for `item` to the caller's transaction (the caller commits).

    Payload: {"item": snapshot after the change, "previous": {field: old value} of changed fields}.
    Consumers derive `low_stock` from previous["quantity"] and item["quantity"].
    """
    snapshot = {
        "id": item.id,
        "owner_id": item.owner_id,
        "name": item.name,
        "price": _jsonable(item.price),
        "quantity": item.quantity,
        "archived": item.archived,
    }
    payload: dict[str, Any] = {"item": snapshot}
    if previous is not None:
        payload["previous"] = previous
    events.add_event(
        session, kind=kind, owner_id=item.owner_id, subject_id=item.id, payload=payload
    )


def _jsonable(value: Any) -> Any:
    return str(value) if isinstance(value, Decimal) else value


async def delete_item(session: AsyncSession, *, item: Item) -> None:
    await session.delete(item)
    await session.commit()
