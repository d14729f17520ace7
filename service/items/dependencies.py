from typing import Annotated

from fastapi import Depends

from service.dependencies import SessionDep
from service.items import service
from service.items.models import Item
from service.schemas import ResourceId
from service.users.dependencies import CurrentUser


async def owned_item(item_id: ResourceId, session: SessionDep, user: CurrentUser) -> Item:
    return await service.get_owned_item(session, item_id=item_id, owner=user)


OwnedItem = Annotated[Item, Depends(owned_item)]
