"""The one place where domain and infrastructure exceptions become HTTP responses."""

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc

from service.errors import AuthenticationError, DomainError

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
    assert isinstance(exc, DomainError)
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, AuthenticationError) else None
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)


async def integrity_error(_request: Request, _exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": "Conflicts with existing data"}, status_code=409)


async def database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    logger.warning(
        "database unavailable",
        extra={"fields": {"error": type(exc).__name__, "path": request.url.path}},
    )
    return JSONResponse(
        {"detail": "Database temporarily unavailable"},
        status_code=503,
        headers={"Retry-After": RETRY_AFTER_SECONDS},
    )


def install_exception_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, domain_error)
    app.add_exception_handler(sa_exc.IntegrityError, integrity_error)
    for exc_type in DATABASE_UNAVAILABLE:
        app.add_exception_handler(exc_type, database_unavailable)
