"""Probes, request ids, error shapes and the access log."""

import json
import logging

import httpx
import pytest
from fastapi import APIRouter

from service.main import close_app, create_app
from tests.support.settings import make_settings


async def test_health_is_shallow_and_ok(client):
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_checks_the_database(client):
    response = await client.get("/ready")
    assert response.status_code == 200, response.text
    assert response.json()["checks"]["database"] == "ok"


async def test_ready_is_503_with_reason_when_database_is_down():
    app = create_app(
        make_settings("postgresql+asyncpg://postgres@127.0.0.1:1/nowhere", DB_POOL_TIMEOUT=1)
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as http:
        response = await http.get("/ready")
    assert response.status_code == 503
    assert response.json()["checks"]["database"].startswith("unavailable")


async def test_database_down_makes_requests_503_not_500():
    app = create_app(make_settings("postgresql+asyncpg://postgres@127.0.0.1:1/nowhere"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as http:
        response = await http.post(
            "/users", json={"email": "a@example.com", "password": "long enough"}
        )
    assert response.status_code == 503, response.text
    assert response.json() == {"detail": "Database temporarily unavailable"}
    assert response.headers["retry-after"] == "1"


async def test_every_response_carries_a_generated_request_id(client):
    response = await client.get("/health")
    assert len(response.headers["x-request-id"]) == 32


async def test_sane_request_id_is_echoed(client):
    response = await client.get("/health", headers={"X-Request-ID": "abc-123.def"})
    assert response.headers["x-request-id"] == "abc-123.def"


@pytest.mark.parametrize("bad", ["has space", "x" * 129, "semi;colon", "<script>"])
async def test_insane_request_id_is_replaced(client, bad):
    response = await client.get("/health", headers={"X-Request-ID": bad})
    assert response.headers["x-request-id"] != bad
    assert len(response.headers["x-request-id"]) == 32


async def test_unexpected_error_is_500_with_request_id_and_no_trace(database_url, caplog):
    app = create_app(make_settings(database_url))
    boom = APIRouter()

    @boom.get("/boom")
    async def explode() -> None:
        raise RuntimeError("secret internals")

    app.include_router(boom)
    transport = httpx.ASGITransport(app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        response = await http.get("/boom", headers={"X-Request-ID": "req-500"})
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal server error", "request_id": "req-500"}
    assert "secret internals" not in response.text
    assert response.headers["x-request-id"] == "req-500"
    await close_app(app)


async def test_unknown_route_is_404_json(client):
    response = await client.get("/nope")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}


async def test_access_log_has_route_template_status_and_no_secrets(client, alice, caplog):
    caplog.set_level(logging.INFO, logger="service.access")
    await client.post("/auth/token", data={"username": alice.email, "password": alice.password})
    await client.get("/items/123", headers=alice.headers)
    records = [r for r in caplog.records if r.name == "service.access"]
    routes = [(r.fields["method"], r.fields["route"], r.fields["status"]) for r in records]
    assert ("GET", "/items/{item_id}", 404) in routes
    assert ("POST", "/auth/token", 200) in routes
    logged = json.dumps([r.fields for r in records]) + caplog.text
    assert alice.password not in logged
    assert alice.headers["Authorization"].split()[1] not in logged


def test_json_log_format_is_one_object_per_line():
    from service.observability import JsonFormatter

    record = logging.LogRecord("service.access", logging.INFO, __file__, 1, "request", None, None)
    record.fields = {"method": "GET", "status": 200}
    line = JsonFormatter().format(record)
    parsed = json.loads(line)
    assert (parsed["message"], parsed["method"], parsed["status"]) == ("request", "GET", 200)


async def test_access_log_names_static_routes_and_hides_unmatched_paths(client, caplog):
    caplog.set_level(logging.INFO, logger="service.access")
    await client.get("/openapi.json")
    await client.get("/no/such/path/with-secret-token")
    routes = [
        (r.fields["route"], r.fields["status"])
        for r in caplog.records
        if r.name == "service.access"
    ]
    assert ("/openapi.json", 200) in routes
    assert ("<unmatched>", 404) in routes
    access_lines = [r for r in caplog.records if r.name == "service.access"]
    assert "with-secret-token" not in json.dumps([r.fields for r in access_lines])


async def test_trailing_slash_is_404_without_location_and_logs_no_raw_path(client, caplog):
    """A 307 slash redirect used to log the raw path (a CR/LF in it forged log lines) and echo
    the Host header in Location."""
    from service.observability import JsonFormatter, KeyValueFormatter

    caplog.set_level(logging.INFO, logger="service.access")
    response = await client.get(
        "/items/1%0AWARNING%20forged/", headers={"Host": "attacker.example"}
    )
    assert (response.status_code, response.headers.get("location")) == (404, None)
    records = [r for r in caplog.records if r.name == "service.access"]
    assert [r.fields["route"] for r in records] == ["<unmatched>"]
    for formatter in (KeyValueFormatter("%(levelname)s %(name)s %(message)s"), JsonFormatter()):
        line = formatter.format(records[0])
        assert "forged" not in line and "\n" not in line, line


async def test_docs_and_schema_are_404_outside_local_unless_enabled(database_url):
    prod = {"ENVIRONMENT": "prod", "JWT_SECRET": "s" * 48}
    for overrides, expected in [
        (prod, 404),
        ({**prod, "API_DOCS_ENABLED": True}, 200),
        ({"ENVIRONMENT": "local", "API_DOCS_ENABLED": False}, 404),
    ]:
        app = create_app(make_settings(database_url, **overrides))
        transport = httpx.ASGITransport(app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            statuses = [(await http.get(path)).status_code for path in DOCS_PATHS]
        await close_app(app)
        assert statuses == [expected] * len(DOCS_PATHS), (overrides, statuses)


DOCS_PATHS = ["/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"]


@pytest.mark.parametrize("status", [200, 204, 307, 404])
def test_route_template_names_only_the_docs_routes_by_path(status):
    from service.observability import route_template

    assert route_template({"path": "/items/1\nWARNING forged/"}, status) == "<unmatched>"
    expected = "/openapi.json" if status < 400 else "<unmatched>"
    assert route_template({"path": "/openapi.json"}, status) == expected
