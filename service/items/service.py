"""Item use cases. Every function takes a session and plain arguments, never a Request."""

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.errors import NotFoundError
from service.items.models import Item
from service.items.schemas import ItemCreate, ItemUpdate
from service.users.models import User


async def create_item(session: AsyncSession, *, owner: User, data: ItemCreate) -> Item:
    item = Item(owner_id=owner.id, **data.model_dump())
    session.add(item)
    await session.commit()
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
    for field, value in data.model_dump(exclude_unset=True).items():
        setattr(item, field, value)
    await session.commit()
    return item


async def delete_item(session: AsyncSession, *, item: Item) -> None:
    await session.delete(item)
    await session.commit()
