from datetime import timedelta
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer

from service import security
from service.config import Settings
from service.db import SessionDep
from service.users import service
from service.users.models import User

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/auth/token")

_UNAUTHORIZED = HTTPException(
    status_code=status.HTTP_401_UNAUTHORIZED,
    detail="Could not validate credentials",
    headers={"WWW-Authenticate": "Bearer"},
)


# async on purpose: FastAPI runs a plain `def` dependency in the thread pool, a thread hop on
# every authenticated request (bench/README.md, "Profiling").
async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


async def get_current_user(
    token: Annotated[str, Depends(oauth2_scheme)], session: SessionDep, settings: SettingsDep
) -> User:
    try:
        subject = security.decode_access_token(
            token,
            secret=settings.jwt_secret.get_secret_value(),
            algorithm=settings.jwt_algorithm,
        )
        user_id = int(subject)
    except (security.InvalidTokenError, ValueError):
        raise _UNAUTHORIZED from None
    user = await service.get_user(session, user_id=user_id)
    if user is None or not user.is_active:
        raise _UNAUTHORIZED
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def token_lifetime(settings: Settings) -> timedelta:
    return timedelta(minutes=settings.access_token_expire_minutes)
