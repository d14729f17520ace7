"""The app's shared state, typed, and the dependencies every domain uses.

create_app (service/main.py) attaches an `AppState`; this module is the only reader of
`app.state`. Routes and other dependencies ask for what they need (SettingsDep, SessionDep,
ReaderDep, RateLimiterDep), never for the request's app.
"""

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Annotated, cast

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.datastructures import State

from service.config import Settings
from service.db_reads import Reader

if TYPE_CHECKING:
    # Both import this module: their types are only named here.
    from service.health import ReadinessCheck
    from service.ratelimit import RateLimiter


class AppState(State):
    """What one app holds for its lifetime. A Starlette `State` (attribute access, as
    `app.state` always was), with its attributes declared."""

    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    reader: Reader
    rate_limiter: "RateLimiter"
    readiness_checks: dict[str, "ReadinessCheck"]


def state_of(app: Starlette) -> AppState:
    return cast(AppState, app.state)


# The dependencies are async on purpose: FastAPI runs a plain `def` dependency in the thread
# pool, a thread hop on every request that uses it (bench/README.md, "Profiling").


async def get_settings(request: Request) -> Settings:
    return state_of(request.app).settings


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with state_of(request.app).sessionmaker() as session:
        yield session


async def get_reader(request: Request) -> Reader:
    return state_of(request.app).reader


async def get_rate_limiter(request: Request) -> "RateLimiter":
    return state_of(request.app).rate_limiter


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
ReaderDep = Annotated[Reader, Depends(get_reader)]
RateLimiterDep = Annotated["RateLimiter", Depends(get_rate_limiter)]
