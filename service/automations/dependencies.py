from typing import Annotated

from fastapi import Depends

from service.automations import service
from service.automations.models import Automation
from service.db import ResourceId, SessionDep
from service.users.dependencies import CurrentUser


async def owned_automation(
    automation_id: ResourceId, session: SessionDep, user: CurrentUser
) -> Automation:
    return await service.get_owned_automation(session, automation_id=automation_id, owner=user)


OwnedAutomation = Annotated[Automation, Depends(owned_automation)]
