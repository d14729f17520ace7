"""Application factory: settings in, a FastAPI app with every domain router mounted out."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from service import health
from service.config import Settings
from service.db import create_engine, create_sessionmaker
from service.errors_http import install_exception_handlers
from service.items.router import router as items_router
from service.observability import RequestContextMiddleware, configure_logging
from service.users.router import router as users_router


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    configure_logging(level=settings.log_level, json_output=settings.log_json)
    engine = create_engine(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        await engine.dispose()

    app = FastAPI(
        title="Service",
        version="0.1.0",
        lifespan=lifespan,
        docs_url="/docs",
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = create_sessionmaker(engine)
    app.state.readiness_checks = {"database": health.database_check(engine)}

    install_exception_handlers(app)
    app.add_middleware(RequestContextMiddleware)

    app.include_router(health.router)
    app.include_router(users_router)
    app.include_router(items_router)
    return app


app = create_app()
