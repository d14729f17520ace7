from typing import Annotated

from fastapi import APIRouter, Depends, Query

from service.dependencies import ReaderDep, SessionDep
from service.items import service
from service.items.dependencies import OwnedItem
from service.items.schemas import ItemCreate, ItemPublic, ItemsPage, ItemUpdate
from service.ratelimit import limit
from service.schemas import NO_NUL_PATTERN, PageLimit, PageOffset, ResourceId
from service.users.dependencies import CurrentUser, TokenUserId

NOT_FOUND = {404: {"description": "No such item, or it belongs to another user"}}

router = APIRouter(prefix="/items", tags=["items"])


@router.post("", status_code=201, dependencies=[Depends(limit("items:create"))])
async def create_item(body: ItemCreate, session: SessionDep, user: CurrentUser) -> ItemPublic:
    return ItemPublic.model_validate(await service.create_item(session, owner=user, data=body))


@router.get("", dependencies=[Depends(limit("items:read"))])
async def list_items(
    reader: ReaderDep,
    user_id: TokenUserId,
    limit: PageLimit = 20,
    offset: PageOffset = 0,
    q: Annotated[str | None, Query(min_length=1, max_length=200, pattern=NO_NUL_PATTERN)] = None,
) -> ItemsPage:
    return await service.list_items(
        reader, viewer_id=user_id, limit=limit, offset=offset, name_contains=q
    )


@router.get("/{item_id}", responses=NOT_FOUND, dependencies=[Depends(limit("items:read"))])
async def read_item(item_id: ResourceId, reader: ReaderDep, user_id: TokenUserId) -> ItemPublic:
    return await service.read_item(reader, item_id=item_id, viewer_id=user_id)


@router.patch("/{item_id}", responses=NOT_FOUND, dependencies=[Depends(limit("items:write"))])
async def update_item(body: ItemUpdate, item: OwnedItem, session: SessionDep) -> ItemPublic:
    return ItemPublic.model_validate(await service.update_item(session, item=item, data=body))


@router.delete(
    "/{item_id}",
    status_code=204,
    responses=NOT_FOUND,
    dependencies=[Depends(limit("items:write"))],
)
async def delete_item(item: OwnedItem, session: SessionDep) -> None:
    await service.delete_item(session, item=item)
