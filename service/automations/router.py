from fastapi import APIRouter, Depends

from service.automations import service
from service.automations.dependencies import OwnedAutomation, WebhookPolicyDep
from service.automations.schemas import (
    AutomationCreate,
    AutomationCreated,
    AutomationPublic,
    AutomationsPage,
    AutomationUpdate,
    RunPublic,
    RunsPage,
)
from service.dependencies import SessionDep, SettingsDep
from service.ratelimit import limit
from service.schemas import PageLimit, PageOffset, ResourceId
from service.users.dependencies import CurrentUser

NOT_FOUND = {404: {"description": "No such automation, or it belongs to another user"}}
CREATE = [Depends(limit("automations:create"))]
READ = [Depends(limit("automations:read"))]
WRITE = [Depends(limit("automations:write"))]
RUN = [Depends(limit("automations:run"))]

router = APIRouter(prefix="/automations", tags=["automations"])


@router.post(
    "",
    status_code=201,
    responses={409: {"description": "The user already owns AUTOMATIONS_MAX_PER_USER"}},
    dependencies=CREATE,
)
async def create_automation(
    body: AutomationCreate,
    session: SessionDep,
    user: CurrentUser,
    settings: SettingsDep,
    policy: WebhookPolicyDep,
) -> AutomationCreated:
    """The response carries the webhook signing `secret`: it is never shown again."""
    automation = await service.create_automation(
        session,
        owner=user,
        data=body,
        policy=policy,
        max_per_user=settings.automations_max_per_user,
    )
    return AutomationCreated.model_validate(automation)


@router.get("", dependencies=READ)
async def list_automations(
    session: SessionDep, user: CurrentUser, limit: PageLimit = 20, offset: PageOffset = 0
) -> AutomationsPage:
    automations = await service.list_automations(session, owner=user, limit=limit, offset=offset)
    return AutomationsPage(
        data=[AutomationPublic.model_validate(a) for a in automations], limit=limit, offset=offset
    )


@router.get("/{automation_id}", responses=NOT_FOUND, dependencies=READ)
async def read_automation(automation: OwnedAutomation) -> AutomationPublic:
    return AutomationPublic.model_validate(automation)


@router.patch("/{automation_id}", responses=NOT_FOUND, dependencies=WRITE)
async def update_automation(
    body: AutomationUpdate,
    automation: OwnedAutomation,
    session: SessionDep,
    policy: WebhookPolicyDep,
) -> AutomationPublic:
    updated = await service.update_automation(
        session, automation=automation, data=body, policy=policy
    )
    return AutomationPublic.model_validate(updated)


@router.delete("/{automation_id}", status_code=204, responses=NOT_FOUND, dependencies=WRITE)
async def delete_automation(automation: OwnedAutomation, session: SessionDep) -> None:
    await service.delete_automation(session, automation=automation)


@router.post("/{automation_id}/run", status_code=201, responses=NOT_FOUND, dependencies=RUN)
async def run_automation(
    automation: OwnedAutomation, session: SessionDep, policy: WebhookPolicyDep
) -> RunPublic:
    """Run now. A webhook gets one attempt before the response (at most WEBHOOK_TIMEOUT_SECONDS):
    `success`, or `pending` with `next_attempt_at` (the worker retries), or `dead`."""
    run = await service.run_automation_now(session, automation=automation, policy=policy)
    return RunPublic.model_validate(run)


@router.get("/{automation_id}/runs", responses=NOT_FOUND, dependencies=READ)
async def list_runs(
    automation: OwnedAutomation, session: SessionDep, limit: PageLimit = 20, offset: PageOffset = 0
) -> RunsPage:
    runs = await service.list_runs(session, automation=automation, limit=limit, offset=offset)
    return RunsPage(data=[RunPublic.model_validate(r) for r in runs], limit=limit, offset=offset)


@router.post(
    "/{automation_id}/runs/{run_id}/redeliver",
    responses={
        404: {"description": "No such automation or run, or it belongs to another user"},
        409: {"description": "The run is not a dead delivery"},
    },
    dependencies=RUN,
)
async def redeliver_run(
    run_id: ResourceId, automation: OwnedAutomation, session: SessionDep, policy: WebhookPolicyDep
) -> RunPublic:
    """Send a dead delivery again (same body and X-Delivery-ID): one attempt now, then the
    worker's retries over a fresh WEBHOOK_RETRY_HORIZON_SECONDS."""
    run = await service.redeliver(session, automation=automation, run_id=run_id, policy=policy)
    return RunPublic.model_validate(run)
