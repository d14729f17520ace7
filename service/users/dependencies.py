from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from service import security
from service.config import Settings
from service.db import SessionDep
from service.errors import INVALID_CREDENTIALS, AuthenticationError
from service.users import service
from service.users.models import User

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/auth/token")


def settings_of(request: Request) -> Settings:
    return request.app.state.settings


# async on purpose: FastAPI runs a plain `def` dependency in the thread pool, a thread hop on
# every authenticated request (bench/README.md, "Profiling").
async def get_settings(request: Request) -> Settings:
    return settings_of(request)


SettingsDep = Annotated[Settings, Depends(get_settings)]


# Settings come from the request rather than SettingsDep: every sub-dependency costs FastAPI a
# resolution on every authenticated request (bench/README.md).
async def token_user_id(request: Request, token: Annotated[str, Depends(oauth2_scheme)]) -> int:
    """The user id a valid, unexpired token names; no database access. Whoever uses it must still
    refuse a user that is gone or deactivated: get_current_user does, and so do the statements of
    the hot read paths, which check it in the same round trip as the read (items/service.py)."""
    settings = settings_of(request)
    try:
        subject = security.decode_access_token(
            token,
            secret=settings.jwt_secret.get_secret_value(),
            algorithm=settings.jwt_algorithm,
        )
        return int(subject)
    except (security.InvalidTokenError, ValueError):
        raise AuthenticationError(INVALID_CREDENTIALS) from None


TokenUserId = Annotated[int, Depends(token_user_id)]


async def get_current_user(user_id: TokenUserId, session: SessionDep) -> User:
    user = await service.get_user(session, user_id=user_id)
    if user is None or not user.is_active:
        raise AuthenticationError(INVALID_CREDENTIALS)
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def token_lifetime(settings: Settings) -> timedelta:
    return timedelta(minutes=settings.access_token_expire_minutes)
