"""The one place where domain and infrastructure exceptions become HTTP responses."""

import json
import logging
import math
from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from sqlalchemy import exc as sa_exc

from service import metrics
from service.dependencies import get_reader, get_session
from service.errors import DomainError
from service.ratelimit import is_rate_limited

logger = logging.getLogger(__name__)

# Raised when the database cannot be reached or a statement times out: the client should retry.
DATABASE_UNAVAILABLE = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.TimeoutError,
    ConnectionError,
    TimeoutError,
)
RETRY_AFTER_SECONDS = "1"


async def domain_error(_request: Request, exc: Exception) -> JSONResponse:
    """Every domain error: its status, its body ({"detail": ...} unless it says otherwise), its
    headers."""
    assert isinstance(exc, DomainError)
    return JSONResponse(exc.body(), status_code=exc.status_code, headers=exc.headers())


async def integrity_error(_request: Request, _exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": "Conflicts with existing data"}, status_code=409)


async def database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """Every 503 for a database outage, from any path (reads, writes, lost connections)."""
    metrics.database_unavailable()
    logger.warning(
        "database unavailable",
        extra={"fields": {"error": type(exc).__name__, "path": request.url.path}},
    )
    return JSONResponse(
        {"detail": "Database temporarily unavailable"},
        status_code=503,
        headers={"Retry-After": RETRY_AFTER_SECONDS},
    )


async def database_error(request: Request, exc: Exception) -> JSONResponse:
    """Any other driver error: 503 if it lost the connection (asyncpg reports a server restart
    mid-query as a plain DBAPIError; service/db.py marks those invalidated), else a real 500."""
    assert isinstance(exc, sa_exc.DBAPIError)
    if exc.connection_invalidated:
        return await database_unavailable(request, exc)
    raise exc


class EscapedJSONResponse(JSONResponse):
    """ASCII-only JSON: a lone surrogate from the request ("\\ud800") is escaped, not a crash."""

    def render(self, content: Any) -> bytes:
        return json.dumps(
            content, ensure_ascii=True, allow_nan=False, separators=(",", ":")
        ).encode("ascii")


def _finite(value: Any) -> Any:
    """NaN/Infinity (JSON input like 1e999 parses to inf) as strings: JSON cannot carry them."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value


async def validation_error(_request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422 shape. Its default handler echoes the input with the usual encoder and
    answered 500 for inputs JSON cannot carry back (a lone surrogate, Infinity, NaN)."""
    assert isinstance(exc, RequestValidationError)
    # A dependency shared by several dependants (the login form: the endpoint and its per-username
    # limit) reports the same error once per dependant: answer each once.
    # Keyed, not compared: a hostile body can carry tens of thousands of errors.
    unique: dict[tuple[Any, ...], Any] = {}
    for error in _finite(jsonable_encoder(exc.errors())):
        unique.setdefault((error["type"], tuple(error["loc"]), error["msg"]), error)
    return EscapedJSONResponse({"detail": list(unique.values())}, 422)


def install_exception_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(DomainError, domain_error)
    app.add_exception_handler(sa_exc.IntegrityError, integrity_error)
    app.add_exception_handler(sa_exc.DBAPIError, database_error)
    for exc_type in DATABASE_UNAVAILABLE:
        app.add_exception_handler(exc_type, database_unavailable)


# Error responses FastAPI cannot infer from a route's signature, added to every operation that
# can answer them, so the schema lists every status code the API really returns.
_DETAIL = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}}


def _error(description: str, **extra: Any) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": _DETAIL}},
        **extra,
    }


BODY_ERRORS = {
    "400": _error("The body could not be parsed (invalid UTF-8, nesting too deep, bad form)"),
    "413": {
        "description": "The body is larger than MAX_BODY_BYTES; it is not read",
        "content": {
            "application/json": {"schema": _DETAIL},
            # When Content-Length announces the excess, Starlette answers before the app runs.
            "text/plain": {"schema": {"type": "string"}},
        },
    },
}
AUTH_ERRORS = {"401": _error("Missing, invalid or expired bearer token")}
DATABASE_ERRORS = {"503": _error("Database temporarily unavailable", headers=_RETRY_AFTER)}
RATE_LIMIT_ERRORS = {
    "429": _error(
        "Rate limit exceeded",
        headers={
            **_RETRY_AFTER,
            **{
                name: {"schema": {"type": "integer"}}
                for name in ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset")
            },
        },
    ),
    "503": _error("Rate limiter (or database) temporarily unavailable", headers=_RETRY_AFTER),
}


def _dependency_calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for dependency in dependant.dependencies:
        if dependency.call is not None:
            yield dependency.call
        yield from _dependency_calls(dependency)


def document_common_errors(app: FastAPI) -> None:
    """Extend the generated OpenAPI schema (FastAPI's documented `app.openapi` override) with
    400/413 on operations with a body, 401 on authenticated ones, 503 on those that use the
    database (a session or the hot-path reader), and 429 on rate-limited ones (a dependency marked
    with service.ratelimit.rate_limited)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        schema = generate()  # FastAPI's, cached until the routes change; the edits are idempotent
        for route in iter_route_contexts(app.routes):
            dependant = getattr(route, "dependant", None)
            if not isinstance(dependant, Dependant) or not getattr(route, "include_in_schema", 0):
                continue
            calls = list(_dependency_calls(dependant))
            for method in route.methods or ():
                operation = schema["paths"].get(route.path_format, {}).get(method.lower())
                if operation is None:
                    continue
                extra: dict[str, Any] = {}
                if "requestBody" in operation:
                    extra |= BODY_ERRORS
                if operation.get("security"):
                    extra |= AUTH_ERRORS
                if get_session in calls or get_reader in calls:
                    extra |= DATABASE_ERRORS
                if any(is_rate_limited(call) for call in calls):
                    extra |= RATE_LIMIT_ERRORS
                responses = operation.setdefault("responses", {})
                for status, response in extra.items():
                    responses.setdefault(status, response)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
