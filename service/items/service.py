"""Item use cases. Every function takes a session (or, for the hot reads, a Reader) and plain
arguments, never a Request."""

from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service import events
from service.db import utcnow
from service.db_reads import Reader
from service.items import queries
from service.items.exceptions import ItemNotFound
from service.items.models import Item
from service.items.schemas import ItemCreate, ItemPublic, ItemsPage, ItemUpdate
from service.users.exceptions import InvalidToken
from service.users.models import User


async def create_item(session: AsyncSession, *, owner: User, data: ItemCreate) -> Item:
    item = Item(owner_id=owner.id, **data.model_dump())
    session.add(item)
    await session.flush()  # assigns item.id for the event
    stage_item_event(session, item=item, kind=events.ITEM_CREATED)
    await session.commit()  # the item and its outbox event, atomically
    return item


async def read_item(reader: Reader, *, item_id: int, viewer_id: int) -> ItemPublic:
    """The viewer's item (any item for admins). Another user's item is 'not found', not 403."""
    row = await reader.one(queries.READABLE_ITEM, item_id=item_id, viewer_id=viewer_id)
    if row is None:
        raise InvalidToken
    if row["id"] is None:
        raise ItemNotFound
    return ItemPublic.model_validate(row)


async def get_owned_item(session: AsyncSession, *, item_id: int, owner: User) -> Item:
    item = await session.get(Item, item_id)
    if item is None or item.owner_id != owner.id:
        raise ItemNotFound
    return item


async def list_items(
    reader: Reader,
    *,
    viewer_id: int,
    limit: int,
    offset: int,
    name_contains: str | None = None,
) -> ItemsPage:
    """A page of the viewer's items (everyone's for admins), oldest first. One round trip for
    a user; an admin's page takes a second."""
    filtered = name_contains is not None
    params: dict[str, Any] = {"viewer_id": viewer_id, "limit": limit, "offset": offset}
    if name_contains is not None:
        params["pattern"] = queries.contains_pattern(name_contains)
    rows = await reader.all(queries.OWN_PAGE_WITH_VIEWER[filtered], **params)
    if not rows:
        raise InvalidToken
    if rows[0]["viewer_is_admin"]:
        rows = await reader.all(queries.EVERYONES_PAGE[filtered], **params)
    elif rows[0]["id"] is None:
        rows = []
    # One validation of the whole page costs pydantic about half of one per row.
    return ItemsPage.model_validate({"data": rows, "limit": limit, "offset": offset})


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


# Bounds one call's work (one automation run); the rest is archived by the next.
ARCHIVE_BATCH_LIMIT = 1000


async def archive_stale_items(session: AsyncSession, *, owner_id: int, older_than_days: int) -> int:
    """Archive the owner's unarchived items not updated for older_than_days, with their events.

    Runs in the caller's transaction (the run row and the outbox events commit together).
    """
    cutoff = utcnow() - timedelta(days=older_than_days)
    stale = await session.scalars(
        select(Item)
        .where(Item.owner_id == owner_id, Item.archived.is_(False), Item.updated_at < cutoff)
        .order_by(Item.id)
        .limit(ARCHIVE_BATCH_LIMIT)
    )
    count = 0
    for item in stale.all():
        item.archived = True
        stage_item_event(session, item=item, kind=events.ITEM_UPDATED, previous={"archived": False})
        count += 1
    return count
