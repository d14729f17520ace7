from typing import Annotated

from fastapi import Depends

from service.automations import service
from service.automations.models import Automation
from service.automations.webhook import WebhookPolicy
from service.dependencies import SessionDep, SettingsDep
from service.schemas import ResourceId
from service.users.dependencies import CurrentUser


async def owned_automation(
    automation_id: ResourceId, session: SessionDep, user: CurrentUser
) -> Automation:
    return await service.get_owned_automation(session, automation_id=automation_id, owner=user)


def webhook_policy(settings: SettingsDep) -> WebhookPolicy:
    return WebhookPolicy.from_settings(settings)


OwnedAutomation = Annotated[Automation, Depends(owned_automation)]
WebhookPolicyDep = Annotated[WebhookPolicy, Depends(webhook_policy)]
