"""Application factory: settings in, a FastAPI app with every domain router mounted out."""

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from service import health, metrics
from service.automations.router import router as automations_router
from service.config import Settings
from service.db import create_engine, create_sessionmaker
from service.db_reads import create_reader
from service.dependencies import AppState, state_of
from service.errors_http import document_common_errors, install_exception_handlers
from service.items.router import router as items_router
from service.observability import RequestContextMiddleware, configure_logging
from service.ratelimit import RateLimiter, RateLimitHeadersMiddleware
from service.users.router import router as users_router


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    configure_logging(level=settings.log_level, json_output=settings.log_json)
    metrics.configure(settings)
    engine = create_engine(settings)
    reader = create_reader(engine, settings)
    rate_limiter = RateLimiter(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Everything alive now (modules, the app, its routes) lives as long as the process: the
        # cyclic collector need not walk it again on every full collection.
        gc.freeze()
        yield
        await close_app(app)

    docs = settings.docs_enabled
    app = FastAPI(
        title="Service",
        version="0.1.0",
        lifespan=lifespan,
        # API_DOCS_ENABLED (on by default only when ENVIRONMENT=local): off, /docs, /redoc and
        # /openapi.json are 404s.
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
        # `/items/1/` is a 404, not a 307 whose Location echoes the Host header (and whose raw
        # path used to reach the access log): clients call the documented paths.
        redirect_slashes=False,
        max_body_size=settings.max_body_bytes,
    )
    readiness_checks = {"database": health.database_check(engine)}
    if rate_limiter.uses_redis:
        readiness_checks["redis"] = rate_limiter.ping
    app.state = AppState(
        {
            "settings": settings,
            "engine": engine,
            "sessionmaker": create_sessionmaker(engine),
            "reader": reader,
            "rate_limiter": rate_limiter,
            "readiness_checks": readiness_checks,
        }
    )

    install_exception_handlers(app)
    app.add_middleware(RateLimitHeadersMiddleware)
    app.add_middleware(RequestContextMiddleware)
    # Outermost: the client address everything else sees (rate-limit keys included) honours
    # X-Forwarded-For only from FORWARDED_ALLOW_IPS, under any server. uvicorn's own pass (on by
    # default, reading the same variable) resolves the same address first; applying it again
    # changes nothing (tests/ratelimit/test_client_ip.py proves it).
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.forwarded_allow_ips)

    app.include_router(health.router)
    app.include_router(users_router)
    app.include_router(items_router)
    app.include_router(automations_router)
    document_common_errors(app)
    return app


async def close_app(app: FastAPI) -> None:
    """Close the connections create_app opened: the lifespan's exit, and what tests that drive an
    app without its lifespan call when done with it."""
    state = state_of(app)
    await state.reader.aclose()
    await state.engine.dispose()
    await state.rate_limiter.aclose()


app = create_app()
