"""One handler maps every domain error to HTTP, and the schema documents 429 exactly where a
rate-limit dependency guards the route (an explicit marker, not the module it lives in)."""

from typing import Any

import httpx
from fastapi import APIRouter, Depends, Request

from service.automations.exceptions import WebhookURLRefused
from service.dependencies import RateLimiterDep
from service.errors import DomainError
from service.main import close_app, create_app
from service.ratelimit import enforce, is_rate_limited, limit, rate_limited
from service.users.exceptions import InvalidToken
from service.users.login_guard import guard_login
from tests.support.settings import make_settings


def operations(schema: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method.upper(), path): operation
        for path, item in schema["paths"].items()
        for method, operation in item.items()
    }


def test_the_limit_dependencies_are_marked_and_nothing_else_is() -> None:
    assert is_rate_limited(limit("items:read")) and is_rate_limited(guard_login)
    assert not is_rate_limited(enforce)


async def test_429_is_documented_exactly_on_routes_with_a_limit_dependency(sqlite_url) -> None:  # type: ignore[no-untyped-def]
    app = create_app(make_settings(sqlite_url))

    @rate_limited
    async def limited_elsewhere(request: Request, limiter: RateLimiterDep) -> None:
        """Defined outside service.ratelimit: the marker, not the module, makes it a limit."""

    extra = APIRouter()

    @extra.get("/marked", dependencies=[Depends(limited_elsewhere)])
    async def marked() -> None: ...

    @extra.get("/unmarked")
    async def unmarked() -> None: ...

    app.include_router(extra)
    try:
        documented = operations(app.openapi())
    finally:
        await close_app(app)

    assert "429" in documented[("GET", "/marked")]["responses"]
    assert "429" not in documented[("GET", "/unmarked")]["responses"]
    for key, operation in documented.items():
        route_has_limit = key not in {("GET", "/health"), ("GET", "/ready"), ("GET", "/unmarked")}
        assert ("429" in operation["responses"]) is route_has_limit, key
    # The hot-path reads use the database too (the reader, no session): 503 is documented.
    assert "503" in documented[("GET", "/items/{item_id}")]["responses"]


async def test_every_domain_error_goes_through_one_handler(sqlite_url) -> None:  # type: ignore[no-untyped-def]
    app = create_app(make_settings(sqlite_url))
    extra = APIRouter()

    @extra.get("/teapot")
    async def teapot() -> None:
        class Teapot(DomainError):
            status_code = 418

        raise Teapot("short and stout")

    @extra.get("/refused")
    async def refused() -> None:
        raise WebhookURLRefused("http://10.0.0.1/", "private address")

    @extra.get("/token")
    async def token() -> None:
        raise InvalidToken

    app.include_router(extra)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            teapot_response = await http.get("/teapot")
            refused_response = await http.get("/refused")
            token_response = await http.get("/token")
    finally:
        await close_app(app)

    assert (teapot_response.status_code, teapot_response.json()) == (
        418,
        {"detail": "short and stout"},
    )
    assert refused_response.status_code == 422
    assert refused_response.json() == {
        "detail": [
            {
                "type": "unsafe_url",
                "loc": ["body", "action", "url"],
                "msg": "Webhook URL refused: private address",
                "input": "http://10.0.0.1/",
            }
        ]
    }
    assert token_response.status_code == 401
    assert token_response.json() == {"detail": "Could not validate credentials"}
    assert token_response.headers["www-authenticate"] == "Bearer"
