"""`python -m service.worker run-due` against real databases: concurrent workers on PostgreSQL,
claims that roll back when a worker dies, deliveries a dead worker had claimed sent again after
their lease, SIGTERM, exit codes, and the single-worker SQLite mode."""

import asyncio
import re
import signal
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from service.automations import runner
from service.automations.models import Automation, AutomationRun
from service.db import create_engine, create_sessionmaker
from service.events import OutboxEvent
from service.items import service as items
from service.items.schemas import ItemCreate
from service.migrate import migrate
from service.worker import EXIT_FAILED, EXIT_OK, EXIT_USAGE, main, run_due, run_pass
from tests.automations.receiver import Receiver
from tests.support.settings import make_settings
from tests.worker.conftest import Database, finish, spawn_worker

SCHEDULE = {"type": "schedule", "every_seconds": 3600}
ON_CREATED = {"type": "item_event", "event": "created"}
SUMMARY = re.compile(r"run-due pass=1 schedules=(\d+) events=(\d+) runs=(\d+) success=(\d+)")


@pytest.fixture
async def receiver():  # type: ignore[no-untyped-def]
    server = await Receiver().start()
    yield server
    await server.close()


def webhook_to(receiver: Receiver) -> dict:
    return {"type": "webhook", "url": f"{receiver.base_url}/hook"}


async def create_items(database: Database, owner, count: int) -> None:  # type: ignore[no-untyped-def]
    async with database.sessionmaker() as session:
        for number in range(count):
            data = ItemCreate(name=f"item {number}", price="1.00", quantity=number)  # type: ignore[arg-type]
            await items.create_item(session, owner=owner, data=data)


async def all_runs(database: Database) -> list[AutomationRun]:
    async with database.sessionmaker() as session:
        return list((await session.scalars(select(AutomationRun))).all())


async def test_two_concurrent_workers_run_each_due_automation_and_event_exactly_once(
    postgres: Database, receiver: Receiver
) -> None:
    receiver.delay = 0.01  # keeps both workers busy at the same time
    owner = await postgres.user()
    scheduled = await postgres.automations(owner, 50, SCHEDULE, webhook_to(receiver))
    [on_created] = await postgres.automations(owner, 1, ON_CREATED, webhook_to(receiver))
    await postgres.make_due()
    await create_items(postgres, owner, 20)

    workers = [await spawn_worker(postgres.url, "--once", "--batch", "100") for _ in range(2)]
    results = [await finish(worker) for worker in workers]

    assert [code for code, _ in results] == [EXIT_OK, EXIT_OK], results
    summaries = [SUMMARY.search(output) for _, output in results]
    assert all(summaries), results
    assert sum(int(s[1]) for s in summaries if s) == 50, results
    assert sum(int(s[2]) for s in summaries if s) == 20, results

    runs = await all_runs(postgres)
    schedule_runs = Counter(r.automation_id for r in runs if r.trigger == "schedule")
    event_runs = Counter(r.event_id for r in runs if r.trigger == "item_event")
    assert schedule_runs == Counter(scheduled), "every due automation ran exactly once"
    assert len(event_runs) == 20 and set(event_runs.values()) == {1}, event_runs
    assert {r.automation_id for r in runs if r.trigger == "item_event"} == {on_created}
    assert {r.status for r in runs} == {"success"}
    assert (
        await postgres.scalar("SELECT count(*) FROM outbox_events WHERE processed_at IS NULL") == 0
    )
    delivered = Counter(
        (r.json()["automation"]["id"], (r.json()["event"] or {}).get("id"))
        for r in receiver.requests
    )
    assert len(delivered) == 70 and set(delivered.values()) == {1}


async def test_delivery_claimed_by_a_killed_worker_is_sent_again_after_its_lease(
    postgres: Database, receiver: Receiver
) -> None:
    owner = await postgres.user()
    [automation_id] = await postgres.automations(owner, 1, ON_CREATED, webhook_to(receiver))
    await create_items(postgres, owner, 1)
    receiver.hold = asyncio.Event()  # the first delivery hangs: the worker sits on its claim

    doomed = await spawn_worker(postgres.url, "--once")
    await receiver.wait_for_requests(1, timeout=30)
    async with postgres.sessionmaker() as session:
        locked = await session.scalar(select(OutboxEvent).with_for_update(skip_locked=True))
        assert locked is not None, "no transaction is open across the delivery"
    doomed.kill()  # SIGKILL mid-delivery
    await finish(doomed)
    receiver.hold.set()
    receiver.hold = None

    [claimed] = await all_runs(postgres)
    assert (claimed.automation_id, claimed.status, claimed.attempts) == (
        automation_id,
        "pending",
        1,
    ), "the run was recorded once, before the delivery"
    assert claimed.next_attempt_at is not None
    early = await run_pass(
        postgres.sessionmaker,
        settings=postgres.settings,
        batch=10,
        clock=lambda: claimed.started_at,
    )
    assert early.deliveries.total() == 0, "not sent again while the dead worker's lease holds"

    after_lease = claimed.next_attempt_at + timedelta(seconds=1)
    again = await run_pass(
        postgres.sessionmaker, settings=postgres.settings, batch=10, clock=lambda: after_lease
    )

    [run] = await all_runs(postgres)
    assert (again.events, again.deliveries["success"]) == (0, 1)
    assert (run.id, run.status, run.attempts) == (claimed.id, "success", 2)
    assert [r.headers["x-delivery-id"] for r in receiver.requests] == [run.delivery_id] * 2, (
        "at least once: the receiver sees the same delivery id twice"
    )
    assert (
        await postgres.scalar("SELECT count(*) FROM outbox_events WHERE processed_at IS NULL") == 0
    )


async def test_schedule_claim_rolls_back_when_the_run_is_interrupted(
    postgres: Database, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = await postgres.user()
    [automation_id] = await postgres.automations(owner, 1, SCHEDULE, webhook_to(receiver))
    await postgres.make_due()
    async with postgres.sessionmaker() as session:
        due_at = (await session.get(Automation, automation_id)).next_run_at  # type: ignore[union-attr]

    def interrupted(**_kwargs: object) -> bytes:
        raise asyncio.CancelledError  # what a shutdown while recording the run looks like

    monkeypatch.setattr(runner, "webhook_body", interrupted)
    with pytest.raises(asyncio.CancelledError):
        await run_pass(postgres.sessionmaker, settings=postgres.settings, batch=10)
    async with postgres.sessionmaker() as session:
        unchanged = (await session.get(Automation, automation_id)).next_run_at  # type: ignore[union-attr]
    assert unchanged == due_at and await all_runs(postgres) == []

    monkeypatch.undo()
    summary = await run_pass(postgres.sessionmaker, settings=postgres.settings, batch=10)
    assert (summary.schedules, summary.deliveries["success"]) == (1, 1)


async def test_sigterm_finishes_the_delivery_in_flight_then_exits_0(
    postgres: Database, receiver: Receiver
) -> None:
    owner = await postgres.user()
    await postgres.automations(owner, 3, SCHEDULE, webhook_to(receiver))
    await postgres.make_due()
    receiver.hold = asyncio.Event()

    # One delivery at a time, looping until signalled.
    worker = await spawn_worker(postgres.url, "--interval", "60", env={"WEBHOOK_CONCURRENCY": "1"})
    await receiver.wait_for_requests(1, timeout=30)
    worker.send_signal(signal.SIGTERM)
    await asyncio.sleep(0.5)  # let the signal land while the delivery is in flight
    receiver.hold.set()
    code, output = await finish(worker)

    assert code == EXIT_OK, output
    runs = await all_runs(postgres)
    assert sorted(r.status for r in runs) == ["pending", "pending", "success"], (
        "the delivery in progress completed; no new one began (the others wait, queued)"
    )
    assert len(receiver.requests) == 1


async def test_once_exits_1_when_the_database_is_unreachable() -> None:
    settings = make_settings("postgresql+asyncpg://postgres@127.0.0.1:1/nowhere")
    assert await run_due(settings, once=True, batch=10, interval=1) == EXIT_FAILED


async def test_cli_on_sqlite_runs_at_most_batch_per_pass(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'worker.db'}"
    settings = make_settings(url)
    await migrate(settings)
    engine = create_engine(settings)
    database = Database(url, settings, engine, create_sessionmaker(engine))  # SQLite this time
    try:
        owner = await database.user()
        action = {"type": "archive_stale_items", "older_than_days": 30}
        await database.automations(owner, 3, SCHEDULE, action)
        await database.make_due()

        first = await finish(await spawn_worker(url, "--once", "--batch", "2"))
        second = await finish(await spawn_worker(url, "--once", "--batch", "2"))
    finally:
        await engine.dispose()
    assert first[0] == second[0] == EXIT_OK, (first, second)
    assert "schedules=2 events=0 runs=2 success=2" in first[1], first[1]
    assert "schedules=1 events=0 runs=1 success=1" in second[1], second[1]


def test_usage_error_exits_2() -> None:
    assert main(["run-due", "--batch", "0"]) == EXIT_USAGE
    assert main(["run-all"]) == EXIT_USAGE
