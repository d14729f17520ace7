"""The app's own metrics (service/metrics.py): CloudWatch Embedded Metric Format lines on stdout.

Through the real app: a 429, a limiter that cannot reach Redis, and a database outage's 503 each
write exactly one EMF line, with the namespace, dimensions, unit and value docs/metrics.md
promises; LOG_JSON=false writes none. The worker's and the webhooks' lines are checked by calling
their emitters. Every line is parsed from captured stdout and checked against the EMF
specification's JSON schema and its rules a schema cannot state (dimension members are strings,
metric members numbers).
"""

import json
import logging
import math
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import httpx
import jsonschema
import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from service import metrics, security
from service.config import DEV_JWT_SECRET, Settings
from service.main import close_app, create_app
from service.migrate import migrate
from service.observability import configure_logging
from tests.ratelimit.helpers import client_from, seed_user
from tests.support.loops import run_in_fresh_loop
from tests.support.settings import make_settings

NAMESPACE = "service/test"
UNITS = (
    "Seconds|Microseconds|Milliseconds|Bytes|Kilobytes|Megabytes|Gigabytes|Terabytes|Bits|"
    "Kilobits|Megabits|Gigabits|Terabits|Percent|Count|Bytes/Second|Kilobytes/Second|"
    "Megabytes/Second|Gigabytes/Second|Terabytes/Second|Bits/Second|Kilobits/Second|"
    "Megabits/Second|Gigabits/Second|Terabits/Second|Count/Second|None"
)
_NAME = {"type": "string", "minLength": 1, "maxLength": 255}
# The EMF specification's JSON schema (CloudWatch user guide, "Specification: Embedded metric
# format"), with today's limits: at most 30 dimensions per set, 100 metrics per directive.
EMF_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["_aws"],
    "properties": {
        "_aws": {
            "type": "object",
            "required": ["Timestamp", "CloudWatchMetrics"],
            "properties": {
                "Timestamp": {"type": "integer"},
                "CloudWatchMetrics": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["Namespace", "Dimensions", "Metrics"],
                        "properties": {
                            "Namespace": _NAME,
                            "Dimensions": {
                                "type": "array",
                                "minItems": 1,
                                "items": {"type": "array", "maxItems": 30, "items": _NAME},
                            },
                            "Metrics": {
                                "type": "array",
                                "maxItems": 100,
                                "items": {
                                    "type": "object",
                                    "required": ["Name"],
                                    "properties": {
                                        "Name": _NAME,
                                        "Unit": {"type": "string", "pattern": f"^({UNITS})$"},
                                        "StorageResolution": {"enum": [1, 60]},
                                    },
                                },
                            },
                        },
                    },
                },
            },
        }
    },
}


def check_emf(line: dict[str, Any]) -> None:
    """The schema, then what it cannot express: every referenced member on the root node, a
    dimension's value a string of 1-1024 characters, a metric's a finite number; the timestamp
    in milliseconds, now."""
    jsonschema.validate(line, EMF_SCHEMA)
    now_ms = time.time() * 1000
    assert abs(line["_aws"]["Timestamp"] - now_ms) < 60_000, line["_aws"]["Timestamp"]
    for directive in line["_aws"]["CloudWatchMetrics"]:
        for dimension in {key for keys in directive["Dimensions"] for key in keys}:
            value = line.get(dimension)
            assert isinstance(value, str) and 1 <= len(value) <= 1024, (dimension, value)
        for definition in directive["Metrics"]:
            value = line.get(definition["Name"])
            assert isinstance(value, int | float) and not isinstance(value, bool), definition
            assert math.isfinite(value), definition


def stdout_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """Every line written to stdout since the last call, parsed: with LOG_JSON=true each one
    must be a whole JSON object (a log line or a metric line, never a mix)."""
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def emf_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    lines = [line for line in stdout_lines(capsys) if "_aws" in line]
    for line in lines:
        check_emf(line)
    return lines


def directive(line: dict[str, Any]) -> dict[str, Any]:
    (only,) = line["_aws"]["CloudWatchMetrics"]
    return only


@pytest.fixture(autouse=True)
def restore_logging(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """create_app points the root handler and the metrics at this test's captured stdout: put
    back what was there, so later tests do not write to a closed capture."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    monkeypatch.setattr(metrics, "_emitter", metrics._emitter)
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture(scope="module")
def sqlite_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('metrics') / 'metrics.db'}"
    run_in_fresh_loop(lambda: migrate(make_settings(url)))
    return url


@pytest.fixture
def closed_port() -> int:
    """A local port nothing listens on: connections to it are refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
async def apps() -> AsyncIterator[list[FastAPI]]:
    made: list[FastAPI] = []
    yield made
    for app in made:
        await close_app(app)


def app_with(apps: list[FastAPI], database_url: str, **overrides: object) -> FastAPI:
    values: dict[str, object] = {"LOG_JSON": True, "METRICS_NAMESPACE": NAMESPACE}
    values.update(overrides)
    app = create_app(make_settings(database_url, **values))
    apps.append(app)
    return app


def limited_app(apps: list[FastAPI], sqlite_db: str, **overrides: object) -> FastAPI:
    """The limiter on (in memory unless REDIS_URL is given), one read of /items per minute."""
    values: dict[str, object] = {"RATE_LIMIT_ENABLED": True, "RATE_LIMIT_ITEMS_READ": "1/minute"}
    values.update(overrides)
    return app_with(apps, sqlite_db, **values)


def bearer(user_id: int = 1) -> dict[str, str]:
    """A valid token made without the database (the outage tests have none)."""
    token = security.create_access_token(
        str(user_id), secret=DEV_JWT_SECRET, algorithm="HS256", expires_in=timedelta(minutes=5)
    )
    return {"Authorization": f"Bearer {token}"}


# ---- through the app --------------------------------------------------------------------------


async def test_a_429_emits_one_refusal_line_per_limit_and_overall(
    apps: list[FastAPI], sqlite_db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    app = limited_app(apps, sqlite_db)
    user = await seed_user(app.state.sessionmaker)
    capsys.readouterr()
    async with client_from(app) as client:
        statuses = [(await client.get("/items", headers=user.headers)).status_code for _ in "ab"]
    assert statuses == [200, 429]
    lines = emf_lines(capsys)
    assert len(lines) == 1, lines
    (line,) = lines
    assert directive(line) == {
        "Namespace": NAMESPACE,
        "Dimensions": [["Limit"], []],
        "Metrics": [{"Name": "RateLimitRefusals", "Unit": "Count"}],
    }
    assert (line["Limit"], line["RateLimitRefusals"]) == ("items:read", 1)


async def test_admitted_requests_emit_no_metric_line(
    apps: list[FastAPI], sqlite_db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    app = limited_app(apps, sqlite_db, RATE_LIMIT_ITEMS_READ="100/minute")
    user = await seed_user(app.state.sessionmaker)
    capsys.readouterr()
    async with client_from(app) as client:
        statuses = {(await client.get("/items", headers=user.headers)).status_code for _ in "abc"}
    assert statuses == {200}
    lines = stdout_lines(capsys)
    assert [line for line in lines if "_aws" in line] == []
    assert [line["logger"] for line in lines].count("service.access") == 3


async def test_log_json_false_emits_no_metric_lines(
    apps: list[FastAPI], sqlite_db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    app = limited_app(apps, sqlite_db, LOG_JSON=False)
    user = await seed_user(app.state.sessionmaker)
    async with client_from(app) as client:
        statuses = [(await client.get("/items", headers=user.headers)).status_code for _ in "ab"]
    assert statuses == [200, 429]
    out = capsys.readouterr().out
    assert "_aws" not in out and "RateLimitRefusals" not in out, out


async def test_redis_unreachable_emits_one_limiter_failure_per_check_failing_open(
    apps: list[FastAPI], sqlite_db: str, closed_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    app = limited_app(
        apps,
        sqlite_db,
        REDIS_URL=f"redis://127.0.0.1:{closed_port}/0",
        RATE_LIMIT_REDIS_BACKOFF=0,  # every check really tries Redis
    )
    user = await seed_user(app.state.sessionmaker)
    capsys.readouterr()
    async with client_from(app) as client:
        statuses = [(await client.get("/items", headers=user.headers)).status_code for _ in "abc"]
    assert statuses == [200, 200, 200], "fail open: the 1/minute limit is not applied"
    lines = emf_lines(capsys)
    assert len(lines) == 3, lines
    for line in lines:
        assert directive(line) == {
            "Namespace": NAMESPACE,
            "Dimensions": [[]],
            "Metrics": [{"Name": "LimiterFailures", "Unit": "Count"}],
        }
        assert line["LimiterFailures"] == 1


async def test_redis_unreachable_failing_closed_emits_one_limiter_failure_per_503(
    apps: list[FastAPI], sqlite_db: str, closed_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    app = limited_app(
        apps,
        sqlite_db,
        REDIS_URL=f"redis://127.0.0.1:{closed_port}/0",
        RATE_LIMIT_FAIL_OPEN=False,
    )
    user = await seed_user(app.state.sessionmaker)
    capsys.readouterr()
    async with client_from(app) as client:
        response = await client.get("/items", headers=user.headers)
    assert response.status_code == 503, response.text
    names = [directive(line)["Metrics"][0]["Name"] for line in emf_lines(capsys)]
    assert names == ["LimiterFailures"], "one line, and the 503 is not a DatabaseUnavailable"


@pytest.mark.parametrize(
    ("path", "path_kind"),
    [("/users/me", "ORM session"), ("/items/1", "hot read (service/db_reads.py)")],
)
async def test_a_database_outage_503_emits_one_database_unavailable_line(
    apps: list[FastAPI],
    closed_port: int,
    capsys: pytest.CaptureFixture[str],
    path: str,
    path_kind: str,
) -> None:
    app = app_with(apps, f"postgresql+asyncpg://postgres@127.0.0.1:{closed_port}/test")
    capsys.readouterr()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get(path, headers=bearer())
    assert response.status_code == 503, f"{path_kind}: {response.status_code} {response.text}"
    lines = emf_lines(capsys)
    assert len(lines) == 1, f"{path_kind}: {lines}"
    (line,) = lines
    assert directive(line) == {
        "Namespace": NAMESPACE,
        "Dimensions": [[]],
        "Metrics": [{"Name": "DatabaseUnavailable", "Unit": "Count"}],
    }
    assert line["DatabaseUnavailable"] == 1


# ---- the worker's and the webhooks' emitters -------------------------------------------------


def start_emitting() -> None:
    """Logging and metrics as create_app and the worker set them up, on the test's captured
    stdout (called in the test itself: in a fixture, sys.stdout is another capture)."""
    configure_logging(level="INFO", json_output=True)
    metrics.configure(Settings(LOG_JSON=True, METRICS_NAMESPACE=NAMESPACE))


@pytest.mark.parametrize("outcome", ["delivered", "failed", "dead"])
def test_webhook_delivery_emits_one_count_by_outcome(
    capsys: pytest.CaptureFixture[str], outcome: metrics.WebhookOutcome
) -> None:
    start_emitting()
    metrics.webhook_delivery(outcome)
    (line,) = emf_lines(capsys)
    assert directive(line) == {
        "Namespace": NAMESPACE,
        "Dimensions": [["Outcome"]],
        "Metrics": [{"Name": "WebhookDeliveries", "Unit": "Count"}],
    }
    assert (line["Outcome"], line["WebhookDeliveries"]) == (outcome, 1)


@pytest.mark.parametrize("outcome", ["success", "failed"])
def test_worker_run_emits_a_count_and_its_duration_in_milliseconds(
    capsys: pytest.CaptureFixture[str], outcome: metrics.WorkerOutcome
) -> None:
    start_emitting()
    metrics.worker_run(outcome, 1.2345)
    (line,) = emf_lines(capsys)
    assert directive(line) == {
        "Namespace": NAMESPACE,
        "Dimensions": [["Outcome"]],
        "Metrics": [
            {"Name": "WorkerRuns", "Unit": "Count"},
            {"Name": "WorkerRunDuration", "Unit": "Milliseconds"},
        ],
    }
    assert (line["Outcome"], line["WorkerRuns"]) == (outcome, 1)
    assert line["WorkerRunDuration"] == pytest.approx(1234.5), line


@pytest.mark.parametrize("seconds", [math.nan, math.inf, -1.0])
def test_worker_run_duration_is_always_a_valid_number(
    capsys: pytest.CaptureFixture[str], seconds: float
) -> None:
    start_emitting()
    metrics.worker_run("failed", seconds)
    (line,) = emf_lines(capsys)  # NaN or Infinity would not even parse as JSON
    assert line["WorkerRunDuration"] == 0


def test_metric_and_log_lines_from_many_threads_never_interleave(
    capsys: pytest.CaptureFixture[str],
) -> None:
    start_emitting()
    logger = logging.getLogger("service.test_metrics")

    def emit() -> None:
        for _ in range(500):
            metrics.rate_limit_refused("items:create")

    def log() -> None:
        for number in range(500):
            logger.warning("a log line", extra={"fields": {"number": number}})

    threads = [threading.Thread(target=work) for work in (emit, log, emit, log)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lines = stdout_lines(capsys)  # each line one whole JSON object
    assert len(lines) == 2000
    assert sum("_aws" in line for line in lines) == 1000


def test_an_unwritable_stdout_drops_the_line_and_never_raises(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    start_emitting()

    class Closed:
        def write(self, _text: str) -> int:
            raise ValueError("I/O operation on closed file")

        def flush(self) -> None:
            raise AssertionError("unreachable")

    handler = metrics._emitter.handler  # type: ignore[union-attr]
    monkeypatch.setattr(handler, "stream", Closed())
    before = metrics.dropped()
    metrics.rate_limit_refused("items:create")
    metrics.limiter_failed()
    metrics.webhook_delivery("dead")
    metrics.worker_run("success", 0.1)
    metrics.database_unavailable()
    assert metrics.dropped() - before == 5


# ---- METRICS_NAMESPACE ------------------------------------------------------------------------


@pytest.mark.parametrize("namespace", ["service/prod", "service/pr-12", "My App#1:a_b.c", "x"])
def test_metrics_namespace_accepts_cloudwatch_names(namespace: str) -> None:
    assert Settings(METRICS_NAMESPACE=namespace).metrics_namespace == namespace


@pytest.mark.parametrize(
    "namespace",
    ["", " ", ":service", "AWS/ECS", "service/ü", "tab\there", "a" * 256, "new\nline"],
)
def test_metrics_namespace_refuses_what_cloudwatch_would(namespace: str) -> None:
    with pytest.raises(ValidationError, match=r"not a CloudWatch namespace|reserved for AWS"):
        Settings(METRICS_NAMESPACE=namespace)


def test_metrics_namespace_defaults_to_a_local_one() -> None:
    assert Settings.model_fields["metrics_namespace"].default == "service/local"
