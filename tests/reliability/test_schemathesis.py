"""Property-based API testing: schemathesis generates requests from the app's own OpenAPI schema.

Every operation, authenticated as a registered user, positive and negative data. Each response
must not be a 5xx, must have a status code the schema documents for that operation, and must match
the documented response schema. Runs against PostgreSQL, the production database (a fresh database
on the shared test server; about 75 s for every case, so SQLite's speed is not needed), with the
rate limiter disabled, so 429s do not mask findings.

Sizing: MAX_EXAMPLES per operation x the number of operations >= 2,000 generated cases; Hypothesis
is derandomized, so CI sees the same cases on every run.
"""

import os
import uuid
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.python import asgi
from sqlalchemy.engine import make_url

from service.main import create_app
from service.migrate import migrate
from tests.reliability.summary import SUMMARY
from tests.support.databases import (
    POSTGRES_ADMIN_URL,
    create_postgres_database,
    drop_postgres_database,
)
from tests.support.loops import run_in_fresh_loop
from tests.support.settings import make_settings

MAX_EXAMPLES = int(os.environ.get("RELIABILITY_MAX_EXAMPLES", "150"))
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
PASSWORD = "correct horse battery staple"


# The app and its schema exist at import time: schemathesis parametrizes at collection, and its
# lazy `from_fixture` loader fails on pytest 9 (it sets `Function._nodeid`, which is gone).
# Creating the app opens no connection:
# the database it names is created and migrated by the `api_database` fixture below.
DATABASE_URL = (
    make_url(POSTGRES_ADMIN_URL)
    .set(database=f"reliability_schema_{uuid.uuid4().hex[:10]}")
    .render_as_string(hide_password=False)
)
# API_DOCS_ENABLED: the schema is served whatever ENVIRONMENT the suite runs under.
APP = create_app(make_settings(DATABASE_URL, RATE_LIMIT_ENABLED=False, API_DOCS_ENABLED=True))
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture(scope="module")
def api_database() -> Iterator[str]:
    run_in_fresh_loop(
        lambda: create_postgres_database(POSTGRES_ADMIN_URL, make_url(DATABASE_URL).database)
    )
    try:
        run_in_fresh_loop(lambda: migrate(make_settings(DATABASE_URL)))
        yield DATABASE_URL
    finally:
        # The app ran on schemathesis' event-loop thread: its lifespan disposes the pool there.
        asgi.shutdown_lifespans()
        run_in_fresh_loop(lambda: drop_postgres_database(DATABASE_URL))


@pytest.fixture(scope="module")
def auth_headers(api_database: str) -> dict[str, str]:
    """Register a user and log in through the app itself (same loop as the generated calls)."""
    email = f"schemathesis-{uuid.uuid4().hex[:8]}@example.com"
    with asgi.get_client(APP) as http:
        created = http.post("/users", json={"email": email, "password": PASSWORD})
        assert created.status_code == 201, created.text
        token = http.post("/auth/token", data={"username": email, "password": PASSWORD})
        assert token.status_code == 200, token.text
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        # A few rows of the user's own, so generated path ids sometimes hit real rows.
        for index in range(5):
            item = http.post(
                "/items", json={"name": f"seed {index}", "price": "1.00"}, headers=headers
            )
            assert item.status_code == 201, item.text
    return headers


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_schema_and_never_answers_5xx(case, auth_headers):
    SUMMARY.record_case(case.operation.label)
    case.call_and_validate(headers=auth_headers, checks=CHECKS)
