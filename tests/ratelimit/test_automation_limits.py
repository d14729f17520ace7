"""Run-now sends outbound webhooks, so it has a budget of its own, far below other writes."""

import pytest

from tests.ratelimit.conftest import AppFactory
from tests.ratelimit.helpers import client_from, seed_user

pytestmark = pytest.mark.redis


async def test_run_now_has_its_own_budget_separate_from_other_writes(
    make_app: AppFactory,
) -> None:
    app = make_app(RATE_LIMIT_AUTOMATIONS_RUN="2/minute", RATE_LIMIT_AUTOMATIONS_WRITE="100/minute")
    user = await seed_user(app.state.sessionmaker)
    async with client_from(app) as client:
        runs = [
            (await client.post("/automations/987654/run", headers=user.headers)).status_code
            for _ in range(3)
        ]
        patch = await client.patch("/automations/987654", json={"name": "x"}, headers=user.headers)
    assert runs == [404, 404, 429], runs
    assert patch.status_code == 404, "other writes keep their own budget"
    assert patch.headers["ratelimit-limit"] == "100"
